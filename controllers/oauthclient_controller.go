/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/store"
)

// Field indexes on OAuthClients, so that a Secret or AuthServer event finds the clients
// that refer to it without listing them all.
const (
	oauthClientServerIndex = "oauthclient.authServerRef.name"
	oauthClientSecretIndex = "oauthclient.spec.secretName"
)

// OAuthClientReconciler registers OAuthClients in their AuthServer's database and keeps
// their credentials in a Secret.
//
// A reconcile runs small steps in a fixed order, each safe to run again after a crash at
// any point: finalizer, AuthServer and database, the Secret (written before the database,
// so the database never holds a secret that no Secret has), the database row, status.
type OAuthClientReconciler struct {
	client.Client
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Databases *Databases
	// Clock tells the time of rotations and grace periods; nil means the real clock.
	Clock clock.PassiveClock
	// Rand is the source of client ids and secrets; nil means crypto/rand.
	Rand io.Reader
	// ResyncPeriod is how often a client is compared with the database, so that a change
	// made there by hand is put back; zero means 5 minutes.
	ResyncPeriod time.Duration
	// DeletionTimeout is how long deletion retries a database that fails before it
	// removes the finalizer anyway (with a Warning event); zero means 5 minutes.
	DeletionTimeout time.Duration
	// ServerWaitPeriod is how often an entry looks again at an AuthServer that is missing or
	// whose database is not ready; zero means 15 seconds. The watch on AuthServers usually
	// comes first.
	ServerWaitPeriod time.Duration
	// APIReader reads past the cache; SetupWithManager sets it to the manager's.
	APIReader client.Reader
	// ClusterIssuer reads the cluster's ServiceAccount issuer, for clients with a
	// serviceAccountName; SetupWithManager makes one from the manager's config when nil.
	ClusterIssuer *ClusterIssuer

	// entryReconciler is the above with defaults applied, set by SetupWithManager.
	entryReconciler
}

// +kubebuilder:rbac:groups=oauth.authly.dev,resources=oauthclients,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=oauthclients/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=oauthclients/finalizers,verbs=update
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=authservers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one OAuthClient's Secret and database row in line with its spec.
func (r *OAuthClientReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var oc authlyv1.OAuthClient
	if err := r.Get(ctx, req.NamespacedName, &oc); err != nil {
		return ctrl.Result{}, ignoreNotFound(err, "get OAuthClient")
	}
	if pendingRotation(&oc) != "" {
		// The reconcile that carried out a rotation is often followed at once by another
		// (its own Secret write is an event) that reads the OAuthClient from a cache which
		// has not seen the status recording that rotation yet. Read it from the API server
		// so that one request never rotates, or is reported, twice.
		if err := r.APIReader.Get(ctx, req.NamespacedName, &oc); err != nil {
			return ctrl.Result{}, ignoreNotFound(err, "get OAuthClient from the API server")
		}
	}
	return reconcileEntry(ctx, &r.entryReconciler, &oc, r.finalize, r.reconcileClient)
}

// reconcileClient runs the steps after the finalizer. A stalled requeue is a problem a
// person must fix; other errors are retried with backoff.
func (r *OAuthClientReconciler) reconcileClient(ctx context.Context, oc *authlyv1.OAuthClient) (ctrl.Result, error) {
	db, err := openEntryDatabase(ctx, &r.entryReconciler, oc, oc.Spec.AuthServerRef.Name)
	if err != nil {
		return ctrl.Result{}, err
	}

	if oc.Spec.ServiceAccountName != "" {
		return r.reconcileServiceAccountClient(ctx, oc, db)
	}
	oc.Status.ServiceAccountUID = ""
	// The spec is checked before any Secret is written for it.
	jwks, err := r.clientKeys(ctx, oc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if _, err := desiredClient(oc, oc.Spec.ClientID, "", jwks); err != nil {
		return ctrl.Result{}, err
	}
	if _, err := rotationGracePeriod(oc); err != nil {
		return ctrl.Result{}, err
	}
	creds, err := r.ensureSecret(ctx, oc, db.server)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("credentials Secret: %w", err)
	}
	oc.Status.ClientID = creds.clientID
	oc.Status.SecretName = oc.EffectiveSecretName()

	if err := r.syncClient(ctx, oc, db.store, creds, jwks); err != nil {
		return ctrl.Result{}, fmt.Errorf("registering the client in the database: %w", err)
	}

	now := metav1.NewTime(r.now())
	oc.Status.LastSyncTime = &now
	markReady(&oc.Status.Conditions, oc.Generation, authlyv1.ReasonSynced,
		fmt.Sprintf("client %s is registered in the database of AuthServer %s; credentials are in Secret %s", creds.clientID, db.server.Name, oc.EffectiveSecretName()))
	return resyncAfter(oc, r.resyncPeriod), nil
}

// finalize removes the client from the database (policy Delete) or leaves it there with
// its Secret (policy Orphan), then lets Kubernetes delete the OAuthClient. It always
// finishes: when the database cannot be found, or keeps failing for DeletionTimeout, it
// says in a Warning event that the client may remain in the database.
func (r *OAuthClientReconciler) finalize(ctx context.Context, oc *authlyv1.OAuthClient) (ctrl.Result, error) {
	return r.entryReconciler.finalize(ctx, oc, entryDeletion{
		policy: oc.Spec.DeletionPolicy,
		kind:   "client",
		what:   "the client",
		orphan: func(ctx context.Context) error {
			if err := r.releaseSecret(ctx, oc); err != nil {
				return err
			}
			r.event(oc, corev1.EventTypeNormal, entryEventOrphaned, fmt.Sprintf("deletionPolicy is Orphan: client %s stays in the database and Secret %s is kept", oc.Status.ClientID, oc.EffectiveSecretName()))
			return nil
		},
		remove: func(ctx context.Context) error { return r.removeFromDatabase(ctx, oc) },
	})
}

// removeFromDatabase deletes the client row, which revokes its tokens, if this OAuthClient
// manages it. Rows of someone else are left alone.
func (r *OAuthClientReconciler) removeFromDatabase(ctx context.Context, oc *authlyv1.OAuthClient) error {
	clientID, err := r.registeredClientID(ctx, oc)
	if err != nil || clientID == "" {
		return err
	}
	st, err := cleanupDatabase(ctx, r.Client, r.Databases, oc.Namespace, oc.Spec.AuthServerRef.Name, oc.Status.DatabaseSecretName, oc.Status.DatabaseSecretKey)
	if errors.Is(err, errNoDatabase) {
		r.event(oc, corev1.EventTypeWarning, entryEventNotRemoved,
			fmt.Sprintf("AuthServer %s and its database Secret are gone: client %s may remain in the database", oc.Spec.AuthServerRef.Name, clientID))
		return nil
	}
	if err != nil {
		return err
	}
	cur, err := st.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ManagedBy != entryManagedBy(oc) {
		r.event(oc, corev1.EventTypeNormal, entryEventDeleted, fmt.Sprintf("client %s in the database is managed by %q, not by this OAuthClient: left alone", clientID, cur.ManagedBy))
		return nil
	}
	if err := st.DeleteClient(ctx, clientID, r.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.event(oc, corev1.EventTypeNormal, entryEventDeleted, fmt.Sprintf("removed client %s from the database and revoked its tokens", clientID))
	return nil
}

// registeredClientID is the client_id this OAuthClient registered, or may have: the one in
// status, else the one in the spec, else the one in its Secret (a crash can leave a row
// registered before status recorded it).
func (r *OAuthClientReconciler) registeredClientID(ctx context.Context, oc *authlyv1.OAuthClient) (string, error) {
	if oc.Status.ClientID != "" {
		return oc.Status.ClientID, nil
	}
	if oc.Spec.ClientID != "" {
		return oc.Spec.ClientID, nil
	}
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: oc.Namespace, Name: oc.EffectiveSecretName()}, &s)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get Secret %s: %w", oc.EffectiveSecretName(), err)
	}
	return string(s.Data[credKeyClientID]), nil
}

// SetupWithManager registers the reconciler: it watches OAuthClients, their Secrets (owned
// ones, and others by name, such as a Secret from External Secrets), the ServiceAccounts
// they name (a deleted and recreated one changes the uid recorded) and AuthServers.
func (r *OAuthClientReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Rand == nil {
		r.Rand = rand.Reader
	}
	if r.ClusterIssuer == nil {
		ci, err := NewClusterIssuer(mgr.GetConfig())
		if err != nil {
			return err
		}
		r.ClusterIssuer = ci
	}
	r.entryReconciler = newEntryReconciler(r.Client, r.Databases, r.Recorder, r.Clock, r.ResyncPeriod, r.DeletionTimeout, r.ServerWaitPeriod)
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &authlyv1.OAuthClient{}, oauthClientServerIndex, func(o client.Object) []string {
		return []string{o.(*authlyv1.OAuthClient).Spec.AuthServerRef.Name}
	}); err != nil {
		return fmt.Errorf("index OAuthClients by AuthServer: %w", err)
	}
	// Only clients that name a Secret (for their credentials, or holding their public
	// keys) are indexed; the others' is found by its name. An index entry for every client
	// costs the cache about 1 KiB each, 10 MiB at 10,000.
	if err := idx.IndexField(ctx, &authlyv1.OAuthClient{}, oauthClientSecretIndex, func(o client.Object) []string {
		oc := o.(*authlyv1.OAuthClient)
		var names []string
		if oc.Spec.SecretName != "" {
			names = append(names, oc.Spec.SecretName)
		}
		if ref := oc.Spec.JWKSSecretRef; ref != nil && ref.Name != oc.Spec.SecretName {
			names = append(names, ref.Name)
		}
		return names
	}); err != nil {
		return fmt.Errorf("index OAuthClients by Secret: %w", err)
	}
	if err := idx.IndexField(ctx, &authlyv1.OAuthClient{}, oauthClientServiceAccountIndex, func(o client.Object) []string {
		if name := o.(*authlyv1.OAuthClient).Spec.ServiceAccountName; name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index OAuthClients by ServiceAccount: %w", err)
	}
	err := ctrl.NewControllerManagedBy(mgr).
		For(&authlyv1.OAuthClient{}, builder.WithPredicates(entryChanged)).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.clientsOfSecret)).
		Watches(&corev1.ServiceAccount{}, handler.EnqueueRequestsFromMapFunc(r.entriesIndexed(newOAuthClientList, oauthClientServiceAccountIndex))).
		Watches(&authlyv1.AuthServer{}, handler.EnqueueRequestsFromMapFunc(r.entriesIndexed(newOAuthClientList, oauthClientServerIndex)), builder.WithPredicates(authServerChanged)).
		Named("oauthclient").
		WithOptions(controller.Options{MaxConcurrentReconciles: entryConcurrency}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up the oauthclient controller: %w", err)
	}
	return nil
}

// clientsOfSecret maps a Secret to the OAuthClients whose credentials or keys it holds:
// those that name it in spec.secretName or spec.jwksSecretRef, and the one whose default
// Secret name it has.
func (r *OAuthClientReconciler) clientsOfSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	reqs := r.entriesIndexed(newOAuthClientList, oauthClientSecretIndex)(ctx, obj)
	name, ok := authlyv1.OAuthClientForDefaultSecret(obj.GetName())
	if !ok {
		return reqs
	}
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}
	var oc authlyv1.OAuthClient
	if err := r.Get(ctx, key, &oc); err != nil {
		if !apierrors.IsNotFound(err) {
			logf.FromContext(ctx).Error(err, "reading the OAuthClient of a Secret", "secret", obj.GetName())
		}
		return reqs
	}
	if oc.EffectiveSecretName() == obj.GetName() {
		reqs = append(reqs, reconcile.Request{NamespacedName: key})
	}
	return reqs
}

// entryRequeueOnConflict turns an optimistic-concurrency conflict (the object changed since it
// was read) into a quick retry instead of an error in the log.
func entryRequeueOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{}, err
}

func newOAuthClientList() client.ObjectList { return &authlyv1.OAuthClientList{} }
