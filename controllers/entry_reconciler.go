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
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// entryReconciler is the part of OAuthClientReconciler and ScopeReconciler that does not
// depend on the kind of entry: their settings with defaults applied, events, recording a
// failure in the conditions, the finalizer's deletion and the mapping of watched objects
// to entries. Each reconciler embeds one, built from its exported fields in
// SetupWithManager.
type entryReconciler struct {
	client           client.Client
	databases        *Databases
	recorder         record.EventRecorder
	clock            clock.PassiveClock
	resyncPeriod     time.Duration
	deletionTimeout  time.Duration
	serverWaitPeriod time.Duration
}

// newEntryReconciler applies the defaults of an entry reconciler's settings: nil recorder,
// no events; nil clock, the real one; zero periods, the defaults.
func newEntryReconciler(c client.Client, dbs *Databases, rec record.EventRecorder, clk clock.PassiveClock, resync, deletionTimeout, serverWait time.Duration) entryReconciler {
	if rec == nil {
		rec = discardEvents{}
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return entryReconciler{
		client:           c,
		databases:        dbs,
		recorder:         rec,
		clock:            clk,
		resyncPeriod:     durationOr(resync, defaultEntryResync),
		deletionTimeout:  durationOr(deletionTimeout, defaultEntryDeletionTimeout),
		serverWaitPeriod: durationOr(serverWait, serverWaitPeriod),
	}
}

// durationOr is d, or def when d is not positive.
func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (e *entryReconciler) now() time.Time { return e.clock.Now() }

func (e *entryReconciler) event(obj runtime.Object, typ, reason, message string) {
	e.recorder.Event(obj, typ, reason, message)
}

// setNotReady records a failure of obj, whose conditions are conds, as Stalled (a person
// must act) or Reconciling (it is retried), with a Warning event the first time this
// failure is seen (not at every retry): before is the conditions as they were read.
func (e *entryReconciler) setNotReady(obj client.Object, conds *[]metav1.Condition, before []metav1.Condition, stalled bool, reason, message string) {
	prev := meta.FindStatusCondition(before, authlyv1.ConditionReady)
	if prev == nil || prev.Reason != reason || prev.Message != message {
		e.event(obj, corev1.EventTypeWarning, reason, message)
	}
	if stalled {
		markStalled(conds, obj.GetGeneration(), reason, message)
	} else {
		markReconciling(conds, obj.GetGeneration(), reason, message)
	}
}

// entryDeletion is what finalize needs to know of an entry being deleted.
type entryDeletion struct {
	policy authlyv1.DeletionPolicy
	// kind and what name the entry in the log ("scope") and in events (`scope "read"`).
	kind, what string
	// orphan keeps the entry in the database (policy Orphan) and says so in an event.
	orphan func(context.Context) error
	// remove takes the entry out of the database (policy Delete).
	remove func(context.Context) error
}

// finalize removes the entry from the database (policy Delete) or leaves it there (policy
// Orphan), then lets Kubernetes delete the object. It always finishes: when the database
// keeps failing for the deletion timeout, it says in a Warning event that the entry may
// remain in the database and removes the finalizer anyway.
func (e *entryReconciler) finalize(ctx context.Context, obj client.Object, d entryDeletion) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, authlyv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if d.policy == authlyv1.DeletionPolicyOrphan {
		if err := d.orphan(ctx); err != nil {
			return ctrl.Result{}, fmt.Errorf("orphaning the %s: %w", d.kind, err)
		}
	} else if err := d.remove(ctx); err != nil {
		if !deletionDeadlinePassed(obj, e.clock, e.deletionTimeout) {
			return ctrl.Result{}, fmt.Errorf("removing the %s from the database: %w", d.kind, err)
		}
		logf.FromContext(ctx).Error(err, "giving up removing the "+d.kind+" from the database")
		e.event(obj, corev1.EventTypeWarning, entryEventNotRemoved,
			fmt.Sprintf("could not remove %s from the database for %s (%v); it may remain there: remove it with `authly admin`", d.what, e.deletionTimeout, err))
	}
	if err := removeFinalizer(ctx, e.client, obj); err != nil {
		return entryRequeueOnConflict(client.IgnoreNotFound(fmt.Errorf("removing the finalizer: %w", err)))
	}
	return ctrl.Result{}, nil
}

// entriesIndexed maps an object to the entries in its namespace whose index field is the
// object's name; newList makes the list of the entries' kind.
func (e *entryReconciler) entriesIndexed(newList func() client.ObjectList, field string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := newList()
		if err := e.client.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{field: obj.GetName()}); err != nil {
			logf.FromContext(ctx).Error(err, "listing entries", "list", fmt.Sprintf("%T", list), "field", field, "name", obj.GetName())
			return nil
		}
		var reqs []reconcile.Request
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			if m, err := meta.Accessor(o); err == nil {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}})
			}
			return nil
		})
		return reqs
	}
}

// discardEvents is the recorder of a reconciler given none: events go nowhere.
type discardEvents struct{}

func (discardEvents) Event(runtime.Object, string, string, string)          {}
func (discardEvents) Eventf(runtime.Object, string, string, string, ...any) {}
func (discardEvents) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...any) {
}

// entry is an OAuthClient or a Scope: an object registered in an AuthServer's database.
type entry interface {
	*authlyv1.OAuthClient | *authlyv1.Scope
	client.Object
}

// entryStatus points into the status fields that every kind of entry has.
type entryStatus struct {
	// value is the whole status, compared to see whether it needs a write.
	value                                 any
	conditions                            *[]metav1.Condition
	observedGeneration                    *int64
	databaseSecretName, databaseSecretKey *string
}

func statusOf[T entry](obj T) entryStatus {
	switch o := any(obj).(type) {
	case *authlyv1.OAuthClient:
		return entryStatus{o.Status, &o.Status.Conditions, &o.Status.ObservedGeneration, &o.Status.DatabaseSecretName, &o.Status.DatabaseSecretKey}
	case *authlyv1.Scope:
		return entryStatus{o.Status, &o.Status.Conditions, &o.Status.ObservedGeneration, &o.Status.DatabaseSecretName, &o.Status.DatabaseSecretKey}
	}
	panic(fmt.Sprintf("not an entry: %T", obj)) // the type set of entry rules this out
}

// reconcileEntry is the Reconcile of an entry once it is read: deletion (finalize), or the
// finalizer, the kind's steps (sync), and their outcome recorded in status with
// observedGeneration. The outcome is translated into a result here and only here: a
// requeue that waits (the AuthServer or its database is not there yet) is shown as
// Reconciling and looked at again after its period or the server wait period; a stalled
// one (a person must fix something) as Stalled, looked at again at the next change or
// resync; any other error as Reconciling with reason SyncFailed, and returned for backoff.
// The status is patched when it differs from what was read.
func reconcileEntry[T entry](ctx context.Context, e *entryReconciler, obj T,
	finalize, sync func(context.Context, T) (ctrl.Result, error)) (ctrl.Result, error) {
	if !obj.GetDeletionTimestamp().IsZero() {
		return finalize(ctx, obj)
	}
	if err := addFinalizer(ctx, e.client, obj); err != nil {
		return entryRequeueOnConflict(fmt.Errorf("adding the finalizer: %w", err))
	}

	before := obj.DeepCopyObject().(T)
	result, err := sync(ctx, obj)
	status := statusOf(obj)
	*status.observedGeneration = obj.GetGeneration()
	var q *requeue
	switch {
	case errors.As(err, &q) && q.stalled:
		e.setNotReady(obj, status.conditions, *statusOf(before).conditions, true, q.reason, q.message)
		result, err = resyncAfter(obj, e.resyncPeriod), nil
	case errors.As(err, &q):
		markReconciling(status.conditions, obj.GetGeneration(), q.reason, q.message)
		result, err = ctrl.Result{RequeueAfter: durationOr(q.after, e.serverWaitPeriod)}, nil
	case err != nil:
		e.setNotReady(obj, status.conditions, *statusOf(before).conditions, false, authlyv1.ReasonSyncFailed, err.Error())
	}
	if !equality.Semantic.DeepEqual(statusOf(before).value, statusOf(obj).value) {
		if perr := e.client.Status().Patch(ctx, obj, client.MergeFrom(before)); perr != nil && err == nil {
			return entryRequeueOnConflict(client.IgnoreNotFound(perr))
		}
	}
	return result, err
}

// openEntryDatabase opens the database of the AuthServer named server, obj's, and records
// in obj's status the Secret its URL came from, for deletion after the AuthServer is gone.
// While the AuthServer or its database is not there yet the error is a requeue that waits.
func openEntryDatabase[T entry](ctx context.Context, e *entryReconciler, obj T, server string) (*serverDatabase, error) {
	db, err := openServerDatabase(ctx, e.client, e.databases, obj.GetNamespace(), server)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	status := statusOf(obj)
	*status.databaseSecretName, *status.databaseSecretKey = db.secretName, db.secretKey
	return db, nil
}
