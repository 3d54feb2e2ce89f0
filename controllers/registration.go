/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/store"
)

// What the OAuthClient and Scope reconcilers share: both register an entry in the database
// of an AuthServer, wait for that database to be migrated, find it again on deletion (also
// after the AuthServer is gone), and mark their rows with who manages them.

const (
	// serverWaitPeriod is how often a client or scope looks again at an AuthServer that is
	// missing or whose database is not ready. Watches on AuthServers usually come first.
	serverWaitPeriod = 15 * time.Second
	// defaultEntryResync is how often an entry is compared with the database, so that a
	// change made there by hand is put back.
	defaultEntryResync = 5 * time.Minute
	// defaultEntryDeletionTimeout bounds how long deletion retries a database that fails; after
	// it the finalizer is removed anyway, with a Warning event. Deletion never hangs.
	defaultEntryDeletionTimeout = 5 * time.Minute
	// entryConcurrency is how many OAuthClients, and how many Scopes, are reconciled at
	// once. A reconcile spends its time waiting for the API server and the database, so
	// one at a time leaves 1,000 clients applied together queued for minutes.
	entryConcurrency = 8
)

// Event reasons, for `kubectl describe`.
const (
	entryEventRegistered      = "Registered"
	entryEventUpdated         = "Updated"
	entryEventDriftCorrected  = "DriftCorrected"
	entryEventSecretRotated   = "SecretRotated"
	entryEventSecretRecreated = "SecretRecreated"
	entryEventSecretChanged   = "SecretChanged"
	entryEventDeleted         = "Deleted"
	entryEventOrphaned        = "Orphaned"
	entryEventNotRemoved      = "NotRemovedFromDatabase"
	entryEventRotationSkipped = "RotationSkipped"
)

// managedBy is what an operator-managed row's ManagedBy says: "k8s:<namespace>/<name>".
func entryManagedBy(obj client.Object) string {
	return "k8s:" + obj.GetNamespace() + "/" + obj.GetName()
}

// serverDatabase is an AuthServer's database, open, and where its URL came from.
type serverDatabase struct {
	server     *authlyv1.AuthServer
	store      *store.Store
	secretName string
	secretKey  string
}

// openServerDatabase finds the AuthServer named name in namespace ns and opens its
// database. Running server pods are not needed: the database being migrated (condition
// DatabaseReady) is enough to register clients and scopes. A requeue error, not stalled,
// explains why it cannot go on yet.
func openServerDatabase(ctx context.Context, c client.Reader, dbs *Databases, ns, name string) (*serverDatabase, error) {
	var as authlyv1.AuthServer
	key := types.NamespacedName{Namespace: ns, Name: name}
	if err := c.Get(ctx, key, &as); err != nil {
		if apierrors.IsNotFound(err) {
			// Not a stall: GitOps tools apply a directory in no particular order (and Flux
			// may apply the AuthServer in another Kustomization), so the AuthServer is often
			// created after its clients. Its creation is watched and ends the wait.
			return nil, waitingFor(authlyv1.ReasonAuthServerNotFound, fmt.Sprintf("AuthServer %q (spec.authServerRef.name) does not exist in namespace %s", name, ns), 0)
		}
		return nil, fmt.Errorf("reading AuthServer %q: %w", name, err)
	}
	if !as.DeletionTimestamp.IsZero() {
		return nil, waitingFor(authlyv1.ReasonAuthServerNotReady, fmt.Sprintf("AuthServer %q is being deleted", name), 0)
	}
	if !conditionTrue(as.Status.Conditions, authlyv1.ConditionDatabaseReady) {
		return nil, waitingFor(authlyv1.ReasonAuthServerNotReady, fmt.Sprintf("waiting for the database of AuthServer %q to be migrated (condition %s)", name, authlyv1.ConditionDatabaseReady), 0)
	}
	url, err := DatabaseURL(ctx, c, &as)
	if errors.Is(err, errDatabaseSecret) {
		return nil, waitingFor(authlyv1.ReasonDatabaseSecretNotFound, err.Error(), 0)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the database URL of AuthServer %q: %w", name, err)
	}
	st, err := dbs.Store(ctx, key, url)
	if err != nil {
		return nil, waitingFor(authlyv1.ReasonDatabaseUnreachable, fmt.Sprintf("database of AuthServer %q: %v", name, err), 0)
	}
	return &serverDatabase{server: &as, store: st, secretName: as.Spec.Database.SecretRef.Name, secretKey: as.Spec.Database.URLKey()}, nil
}

// cleanupDatabase finds the database an entry was registered in so that it can be
// removed: through the AuthServer while it exists, else the store last used for it, else
// the database Secret recorded in the entry's status. It returns errNoDatabase when none
// of these is left.
func cleanupDatabase(ctx context.Context, c client.Reader, dbs *Databases, ns, server, secretName, secretKey string) (*store.Store, error) {
	key := types.NamespacedName{Namespace: ns, Name: server}
	var as authlyv1.AuthServer
	err := c.Get(ctx, key, &as)
	switch {
	case err == nil:
		url, err := DatabaseURL(ctx, c, &as)
		if err == nil {
			return dbs.Store(ctx, key, url)
		}
		if !errors.Is(err, errDatabaseSecret) {
			return nil, err
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get AuthServer %s: %w", server, err)
	}
	if st, ok := dbs.Known(key); ok {
		return st, nil
	}
	if secretName == "" {
		return nil, errNoDatabase
	}
	secretKey = authlyv1.DatabaseSecretRef{Name: secretName, Key: secretKey}.KeyOrDefault()
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: secretName}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errNoDatabase
		}
		return nil, fmt.Errorf("get the database Secret %s: %w", secretName, err)
	}
	url := string(s.Data[secretKey])
	if url == "" {
		return nil, errNoDatabase
	}
	return dbs.Store(ctx, key, url)
}

// deletionDeadlinePassed reports whether an object has been waiting for its finalizer
// longer than timeout, after which deletion gives up on an unreachable database.
func deletionDeadlinePassed(obj client.Object, clk clock.PassiveClock, timeout time.Duration) bool {
	ts := obj.GetDeletionTimestamp()
	return ts != nil && !clk.Now().Before(ts.Add(timeout))
}

// addFinalizer puts the operator's finalizer on an entry, and removeFinalizer takes it off,
// each with patchFinalizers.
func addFinalizer(ctx context.Context, c client.Writer, obj client.Object) error {
	return patchFinalizers(ctx, c, obj, controllerutil.AddFinalizer)
}

func removeFinalizer(ctx context.Context, c client.Writer, obj client.Object) error {
	return patchFinalizers(ctx, c, obj, controllerutil.RemoveFinalizer)
}

// patchFinalizers changes obj's finalizers with change and, if they changed, writes them
// with a merge patch that carries metadata.finalizers and the resourceVersion read, nothing
// else. The operator never writes an entry's spec: an Update would send the spec back as
// the Go types print it ("24h" as "24h0m0s", a "false" that was written dropped), which
// changes it, raises metadata.generation and makes the operator an owner of spec fields
// that the GitOps tool applying them then conflicts with. The resourceVersion makes the
// patch fail with a conflict if the object changed since it was read, since a merge patch
// replaces the whole finalizer list, also the finalizers of others.
func patchFinalizers(ctx context.Context, c client.Writer, obj client.Object, change func(client.Object, string) bool) error {
	orig := obj.DeepCopyObject().(client.Object)
	if !change(obj, authlyv1.Finalizer) {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch the finalizers: %w", err)
	}
	return nil
}

// resyncAfter is the period plus up to a tenth of it, spread by the object's UID, so that
// the entries of a restarted operator do not all hit the database in the same second.
func resyncAfter(obj client.Object, period time.Duration) ctrl.Result {
	h := fnv.New64a()
	_, _ = h.Write([]byte(obj.GetUID()))
	spread := int64(period / 10)
	if spread <= 0 {
		return ctrl.Result{RequeueAfter: period}
	}
	return ctrl.Result{RequeueAfter: period + time.Duration(int64(h.Sum64()%uint64(spread)))}
}

// syncedAt reports whether an entry was last synced at its current generation: Ready is
// True for it. A database row that differs from such an entry's spec was changed by hand.
func syncedAt(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, authlyv1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// entryChanged lets through the changes of an OAuthClient or Scope that need a reconcile:
// its spec, its annotations (a rotation request) and its deletion. Status updates, which
// the reconciler itself writes, do not come back as work.
var entryChanged = predicate.Or(
	predicate.GenerationChangedPredicate{},
	predicate.AnnotationChangedPredicate{},
	predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}},
)

// authServerChanged lets through the AuthServer changes its clients and scopes care about:
// creation, deletion, a new spec (the issuer, the database) and DatabaseReady flipping.
// The AuthServer's frequent status updates (replicas, observed load) are left out.
var authServerChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		oldAS, okOld := e.ObjectOld.(*authlyv1.AuthServer)
		newAS, okNew := e.ObjectNew.(*authlyv1.AuthServer)
		if !okOld || !okNew {
			return true
		}
		return oldAS.Generation != newAS.Generation ||
			conditionTrue(oldAS.Status.Conditions, authlyv1.ConditionDatabaseReady) != conditionTrue(newAS.Status.Conditions, authlyv1.ConditionDatabaseReady)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}
