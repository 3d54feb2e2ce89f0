/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// scopeServerIndex indexes Scopes by the AuthServer they refer to.
const scopeServerIndex = "scope.authServerRef.name"

// ScopeReconciler registers Scopes in their AuthServer's database, in the same steps as
// OAuthClientReconciler: finalizer, AuthServer and database, the row (written only when
// it differs), status; a periodic resync puts back changes made in the database by hand.
type ScopeReconciler struct {
	client.Client
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Databases *Databases

	// Clock, ResyncPeriod, DeletionTimeout and ServerWaitPeriod mean what they mean for
	// OAuthClientReconciler, with the same defaults for nil and zero.
	Clock                                           clock.PassiveClock
	ResyncPeriod, DeletionTimeout, ServerWaitPeriod time.Duration

	entryReconciler // the above with defaults applied, set by SetupWithManager
}

// +kubebuilder:rbac:groups=oauth.authly.dev,resources=scopes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=scopes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=scopes/finalizers,verbs=update
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=authservers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one Scope's database row in line with its spec.
func (r *ScopeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sc authlyv1.Scope
	if err := r.Get(ctx, req.NamespacedName, &sc); err != nil {
		return ctrl.Result{}, ignoreNotFound(err, "get Scope")
	}
	return reconcileEntry(ctx, &r.entryReconciler, &sc, r.finalize, r.reconcileScope)
}

// desiredScope is the database row a Scope asks for.
func desiredScope(sc *authlyv1.Scope) (*store.Scope, error) {
	if !registry.ValidScopeName(sc.Spec.Name) {
		return nil, stalledf(authlyv1.ReasonInvalidSpec, "spec.name: %q is not a scope the server accepts (1 to 200 printable ASCII characters, no space, quote or backslash)", sc.Spec.Name)
	}
	return &store.Scope{
		Name:        sc.Spec.Name,
		Description: sc.Spec.Description,
		Default:     sc.Spec.Default,
		ManagedBy:   entryManagedBy(sc),
	}, nil
}

func (r *ScopeReconciler) reconcileScope(ctx context.Context, sc *authlyv1.Scope) (ctrl.Result, error) {
	want, err := desiredScope(sc)
	if err != nil {
		return ctrl.Result{}, err
	}
	db, err := openEntryDatabase(ctx, &r.entryReconciler, sc, sc.Spec.AuthServerRef.Name)
	if err != nil {
		return ctrl.Result{}, err
	}

	cur, err := db.store.GetScope(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		cur = nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading scope %q from the database: %w", want.Name, err)
	}
	if cur != nil && cur.ManagedBy != "" && cur.ManagedBy != want.ManagedBy {
		return ctrl.Result{}, stalledf(authlyv1.ReasonConflict,
			"scope %q (spec.name) is already registered in the database by %q; the operator does not overwrite it: remove one of the two", want.Name, cur.ManagedBy)
	}
	if cur == nil || cur.Description != want.Description || cur.Default != want.Default || cur.ManagedBy != want.ManagedBy {
		if _, err := db.store.UpsertScope(ctx, want); err != nil {
			return ctrl.Result{}, fmt.Errorf("writing scope %q to the database: %w", want.Name, err)
		}
		r.scopeWritten(sc, cur, want)
	}

	now := metav1.NewTime(r.now())
	sc.Status.LastSyncTime = &now
	markReady(&sc.Status.Conditions, sc.Generation, authlyv1.ReasonSynced,
		fmt.Sprintf("scope %q is registered in the database of AuthServer %s", want.Name, db.server.Name))
	return resyncAfter(sc, r.resyncPeriod), nil
}

// scopeWritten tells, in an event, what a write of the scope row did.
func (r *ScopeReconciler) scopeWritten(sc *authlyv1.Scope, cur, want *store.Scope) {
	switch {
	case cur == nil && sc.Status.LastSyncTime != nil:
		r.event(sc, corev1.EventTypeNormal, entryEventDriftCorrected, fmt.Sprintf("scope %q was missing from the database: registered it again", want.Name))
	case cur == nil:
		r.event(sc, corev1.EventTypeNormal, entryEventRegistered, fmt.Sprintf("registered scope %q in the database of AuthServer %s", want.Name, sc.Spec.AuthServerRef.Name))
	case cur.ManagedBy == "":
		r.event(sc, corev1.EventTypeNormal, entryEventRegistered, fmt.Sprintf("took over scope %q, which was registered outside Kubernetes", want.Name))
	case !syncedAt(sc.Status.Conditions, sc.Generation):
		r.event(sc, corev1.EventTypeNormal, entryEventUpdated, fmt.Sprintf("updated scope %q in the database", want.Name))
	default:
		r.event(sc, corev1.EventTypeNormal, entryEventDriftCorrected, fmt.Sprintf("scope %q in the database differed from the spec, changed outside Kubernetes: put back", want.Name))
	}
}

// finalize removes the scope from the database (policy Delete) unless someone else
// manages it there, then lets Kubernetes delete the Scope. Like OAuthClient deletion, it
// always finishes.
func (r *ScopeReconciler) finalize(ctx context.Context, sc *authlyv1.Scope) (ctrl.Result, error) {
	return r.entryReconciler.finalize(ctx, sc, entryDeletion{
		policy: sc.Spec.DeletionPolicy,
		kind:   "scope",
		what:   fmt.Sprintf("scope %q", sc.Spec.Name),
		orphan: func(context.Context) error {
			r.event(sc, corev1.EventTypeNormal, entryEventOrphaned, fmt.Sprintf("deletionPolicy is Orphan: scope %q stays in the database", sc.Spec.Name))
			return nil
		},
		remove: func(ctx context.Context) error { return r.removeFromDatabase(ctx, sc) },
	})
}

func (r *ScopeReconciler) removeFromDatabase(ctx context.Context, sc *authlyv1.Scope) error {
	st, err := cleanupDatabase(ctx, r.Client, r.Databases, sc.Namespace, sc.Spec.AuthServerRef.Name, sc.Status.DatabaseSecretName, sc.Status.DatabaseSecretKey)
	if errors.Is(err, errNoDatabase) {
		r.event(sc, corev1.EventTypeWarning, entryEventNotRemoved,
			fmt.Sprintf("AuthServer %s and its database Secret are gone: scope %q may remain in the database", sc.Spec.AuthServerRef.Name, sc.Spec.Name))
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the database: %w", err)
	}
	cur, err := st.GetScope(ctx, sc.Spec.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ManagedBy != entryManagedBy(sc) {
		r.event(sc, corev1.EventTypeNormal, entryEventDeleted, fmt.Sprintf("scope %q in the database is managed by %q, not by this Scope: left alone", sc.Spec.Name, cur.ManagedBy))
		return nil
	}
	if err := st.DeleteScope(ctx, sc.Spec.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.event(sc, corev1.EventTypeNormal, entryEventDeleted, fmt.Sprintf("removed scope %q from the database", sc.Spec.Name))
	return nil
}

// SetupWithManager registers the reconciler: it watches Scopes and AuthServers.
func (r *ScopeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.entryReconciler = newEntryReconciler(r.Client, r.Databases, r.Recorder, r.Clock, r.ResyncPeriod, r.DeletionTimeout, r.ServerWaitPeriod)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &authlyv1.Scope{}, scopeServerIndex, func(o client.Object) []string {
		return []string{o.(*authlyv1.Scope).Spec.AuthServerRef.Name}
	}); err != nil {
		return fmt.Errorf("index Scopes by AuthServer: %w", err)
	}
	err := ctrl.NewControllerManagedBy(mgr).
		For(&authlyv1.Scope{}, builder.WithPredicates(entryChanged)).
		Watches(&authlyv1.AuthServer{}, handler.EnqueueRequestsFromMapFunc(r.entriesIndexed(func() client.ObjectList { return &authlyv1.ScopeList{} }, scopeServerIndex)), builder.WithPredicates(authServerChanged)).
		Named("scope").
		WithOptions(controller.Options{MaxConcurrentReconciles: entryConcurrency}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up the scope controller: %w", err)
	}
	return nil
}
