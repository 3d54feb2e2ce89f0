/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/controllers/specs"
	"github.com/authly-dev/authly-operator/server/store"
)

const (
	// authServerSecretsIndex indexes AuthServers by the Secrets they read (the database
	// URL, the key-encryption key, the TLS certificate), so that a change of one of them,
	// also one the operator does not own (a restored key), reconciles the servers using it.
	authServerSecretsIndex = "authserver.spec.secretNames"
	// managedAnnotationsAnnotation lists the annotation keys the operator set on an object,
	// so that one removed from the spec is removed from the object too.
	managedAnnotationsAnnotation = "oauth.authly.dev/managed-annotations"

	// Requeue periods while a prerequisite is missing; watches usually come first.
	waitSecretPeriod   = time.Minute
	waitDatabasePeriod = 15 * time.Second
	// databaseTimeout bounds a reachability check; migrationTimeout a migration.
	databaseTimeout  = 15 * time.Second
	migrationTimeout = 5 * time.Minute
)

// Event reasons of the AuthServer, for `kubectl describe`.
const (
	eventMigrated            = "Migrated"
	eventDeploymentUpdated   = "DeploymentUpdated"
	eventCapacityPlanChanged = "CapacityPlanChanged"
	eventCreated             = "Created"
	eventKEKCreated          = "KeyEncryptionKeyCreated"
)

// AuthServerReconciler runs an Authly server for each AuthServer: it migrates the
// database, then ensures, in this order, the key-encryption-key Secret, the capacity plan,
// the ServiceAccount, Deployment, Service, PodDisruptionBudget, Ingress and ServiceMonitor,
// and writes status from what it observed. Each step is idempotent; an owned object,
// rendered by package specs, is sent to the API server only when its desired state's hash
// changed. SetupWithManager applies the defaults of the fields left nil or zero.
type AuthServerReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder records events; nil means none.
	Recorder record.EventRecorder
	// Databases opens the servers' databases, shared with the OAuthClient and Scope
	// reconcilers.
	Databases *Databases
	// Clock dates capacity plans and load readings; nil means the real clock.
	Clock clock.PassiveClock
	// Image is the operator's own image; server pods run it with args [server] unless the
	// AuthServer names another.
	Image string
	// Load reads the request rate of an AuthServer's pods; nil means no observation, and
	// capacity plans stay as declared.
	Load LoadObserver
	// Autoscaler corrects capacity plans from the observed load.
	Autoscaler capacity.Autoscaler
	// ObserveInterval is how often the observed load is read and the plan corrected; 0
	// means DefaultObserveInterval.
	ObserveInterval time.Duration
	// Rand generates key-encryption keys; nil means crypto/rand.
	Rand io.Reader
}

// +kubebuilder:rbac:groups=oauth.authly.dev,resources=authservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=authservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=oauth.authly.dev,resources=authservers/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one AuthServer's owned objects to its spec and reports in status.
func (r *AuthServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var as authlyv1.AuthServer
	if err := r.Get(ctx, req.NamespacedName, &as); err != nil {
		if apierrors.IsNotFound(err) {
			// Owned objects go with it (garbage collection). The database store stays
			// known to Databases, for the finalizers of its clients and scopes.
			if f, ok := r.Load.(interface{ Forget(types.NamespacedName) }); ok {
				f.Forget(req.NamespacedName)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading the AuthServer: %w", err)
	}
	if !as.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	orig := as.DeepCopy()
	err := r.reconcile(ctx, &as)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		// Routine: the cache was behind the API server. The status, still that of the last
		// complete reconcile, is not written half-updated; the retry comes at once.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	result, err := r.outcome(orig, &as, err)
	if serr := r.patchStatus(ctx, orig, &as); serr != nil {
		if apierrors.IsConflict(serr) || apierrors.IsNotFound(serr) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		err = errors.Join(err, serr)
	}
	return result, err
}

// outcome turns the error of a reconcile into the kstatus conditions and the result, here
// and only here. Without error the server is looked at again at the next change, or after
// the observe interval when the observed load corrects its plan. A requeue that waits (a
// database that is down, a Secret not created yet) is shown as Reconciling, and Degraded if
// the server used to be ready, with a Warning event, and looked at again after its period.
// A stalled requeue (a problem only a person can fix) is shown as Stalled, with a Warning
// event when it first appears, and looked at again after waitSecretPeriod (objects of
// someone else are not watched). A failed step, which recorded Degraded and its event
// itself (failed), is shown as Reconciling with reason ApplyFailed, any other error with
// ReconcileFailed; both are returned, for a retry with backoff. The steps record the
// outcome of a reconcile without error themselves.
func (r *AuthServerReconciler) outcome(orig, as *authlyv1.AuthServer, err error) (ctrl.Result, error) {
	var q *requeue
	var sf *stepFailed
	switch {
	case err == nil:
		if specs.CapacityMode(as) && r.Load != nil {
			return ctrl.Result{RequeueAfter: r.ObserveInterval}, nil
		}
		return ctrl.Result{}, nil
	case errors.As(err, &q) && q.stalled:
		prev := meta.FindStatusCondition(orig.Status.Conditions, authlyv1.ConditionStalled)
		if prev == nil || prev.Reason != q.reason || prev.Message != q.message {
			r.Recorder.Event(as, corev1.EventTypeWarning, q.reason, q.message)
		}
		setStalled(as, q.reason, q.message)
		return ctrl.Result{RequeueAfter: waitSecretPeriod}, nil
	case errors.As(err, &q):
		setWaiting(as, q.reason, q.message)
		r.Recorder.Event(as, corev1.EventTypeWarning, q.reason, q.message)
		return ctrl.Result{RequeueAfter: durationOr(q.after, waitSecretPeriod)}, nil
	case errors.As(err, &sf):
		markReconciling(&as.Status.Conditions, as.Generation, reasonApplyFailed, err.Error())
	default:
		markReconciling(&as.Status.Conditions, as.Generation, reasonReconcileFailed, err.Error())
	}
	return ctrl.Result{}, err
}

// reconcile runs the steps in their fixed order, recording in as.Status as it goes. Each
// step's error says what the step was doing.
func (r *AuthServerReconciler) reconcile(ctx context.Context, as *authlyv1.AuthServer) error {
	as.Status.ObservedGeneration = as.Generation
	as.Status.Selector = specs.Selector(as)
	as.Status.Endpoints = specs.Endpoints(as.Spec.Issuer)

	dbURL, st, err := r.ensureDatabase(ctx, as)
	if err != nil {
		return r.stoppedBeforeDeployment(ctx, as, err)
	}
	kek, err := r.ensureKeyEncryptionKey(ctx, as, st)
	if err != nil {
		return r.stoppedBeforeDeployment(ctx, as, err)
	}
	plan, err := r.ensurePlan(ctx, as)
	if err != nil {
		return r.stoppedBeforeDeployment(ctx, as, err)
	}
	if err := r.ensureServiceAccount(ctx, as); err != nil {
		return r.stoppedBeforeDeployment(ctx, as, r.failed(as, "ServiceAccount", err))
	}
	dep, err := r.ensureDeployment(ctx, as, plan, dbURL, kek)
	if err != nil {
		return r.stoppedBeforeDeployment(ctx, as, err)
	}
	if err := r.ensureService(ctx, as); err != nil {
		return r.failed(as, "Service", err)
	}
	if err := r.ensurePodDisruptionBudget(ctx, as, plan.Replicas); err != nil {
		return r.failed(as, "PodDisruptionBudget", err)
	}
	if err := r.ensureIngress(ctx, as); err != nil {
		return r.failed(as, "Ingress", err)
	}
	if err := r.ensureServiceMonitor(ctx, as); err != nil {
		return r.failed(as, "ServiceMonitor", err)
	}
	setDeploymentStatus(as, dep, plan.Replicas)
	return nil
}

// ensureDatabase reads the database URL, checks that the database answers and migrates it
// to the schema this operator's image expects. While it is not ready, why is in the
// DatabaseReady condition and the error is a requeue.
func (r *AuthServerReconciler) ensureDatabase(ctx context.Context, as *authlyv1.AuthServer) (url string, st *store.Store, err error) {
	// Each of these waits for something that comes without a change of spec (the Secret
	// created, the database up, a migration that failed for a passing reason retried).
	notReady := func(reason, message string, after time.Duration) (string, *store.Store, error) {
		setCondition(&as.Status.Conditions, as.Generation, authlyv1.ConditionDatabaseReady, metav1.ConditionFalse, reason, message)
		return "", nil, waitingFor(reason, message, after)
	}
	url, err = DatabaseURL(ctx, r.Client, as)
	if errors.Is(err, errDatabaseSecret) {
		return notReady(authlyv1.ReasonDatabaseSecretNotFound, err.Error(), waitSecretPeriod)
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading the database URL: %w", err)
	}
	key := types.NamespacedName{Namespace: as.Namespace, Name: as.Name}
	dctx, cancel := context.WithTimeout(ctx, databaseTimeout)
	defer cancel()
	st, err = r.Databases.Store(dctx, key, url)
	if err == nil {
		err = st.Ping(dctx)
	}
	if err != nil {
		return notReady(authlyv1.ReasonDatabaseUnreachable, "database unreachable: "+redact(err.Error(), url), waitDatabasePeriod)
	}
	want := store.SchemaVersion()
	have, err := st.SchemaVersion(dctx)
	if err != nil || have < want {
		mctx, cancel := context.WithTimeout(ctx, migrationTimeout)
		defer cancel()
		if err := store.Migrate(mctx, url); err != nil {
			return notReady(authlyv1.ReasonMigrationFailed, "migration failed: "+redact(err.Error(), url), waitDatabasePeriod)
		}
		from := have
		if have, err = st.SchemaVersion(dctx); err != nil {
			return notReady(authlyv1.ReasonMigrationFailed, "reading the schema version after migrating: "+redact(err.Error(), url), waitDatabasePeriod)
		}
		r.Recorder.Eventf(as, corev1.EventTypeNormal, eventMigrated, "database migrated from schema version %d to %d", from, have)
	}
	if have > want {
		// Only a person can help: a newer operator, or another database in
		// spec.database.secretRef.
		msg := fmt.Sprintf("the database named by spec.database.secretRef is at schema version %d, newer than the %d this operator knows: upgrade the operator", have, want)
		setCondition(&as.Status.Conditions, as.Generation, authlyv1.ConditionDatabaseReady, metav1.ConditionFalse, authlyv1.ReasonMigrationFailed, msg)
		return "", nil, stalledf(authlyv1.ReasonMigrationFailed, "%s", msg)
	}
	as.Status.DatabaseSchemaVersion = int32(have)
	setCondition(&as.Status.Conditions, as.Generation, authlyv1.ConditionDatabaseReady, metav1.ConditionTrue, authlyv1.ReasonMigrated,
		fmt.Sprintf("database at schema version %d", have))
	return url, st, nil
}

// ensureKeyEncryptionKey returns the key that encrypts the signing keys at rest: from the
// Secret the spec names, else from the generated `<name>-kek` Secret, created once with 32
// random bytes and never overwritten (a new key would make the stored keys unreadable).
// Nor is a lost one replaced while the database holds keys it encrypted: that needs a
// person, who restores the Secret or decides to start over.
func (r *AuthServerReconciler) ensureKeyEncryptionKey(ctx context.Context, as *authlyv1.AuthServer, st *store.Store) ([]byte, error) {
	ref := as.KeyEncryptionKeyRef()
	name, key := ref.Name, ref.Key
	s, found, err := r.secret(ctx, as.Namespace, name)
	if err != nil {
		return nil, fmt.Errorf("reading the key-encryption key: %w", err)
	}
	if as.Spec.KeyEncryptionKeySecretRef != nil {
		// A Secret named in the spec may be created after the AuthServer (by External
		// Secrets, or later in a GitOps sync): wait for it, do not stall.
		if !found || len(s.Data[key]) == 0 {
			msg := fmt.Sprintf("key-encryption key: Secret %s/%s with key %q, named by spec.keyEncryptionKeySecretRef, not found", as.Namespace, name, key)
			return nil, waitingFor(reasonKEKNotFound, msg, waitSecretPeriod)
		}
		return s.Data[key], nil
	}
	if found {
		if owner := metav1.GetControllerOf(s); owner != nil && owner.UID != as.UID {
			return nil, stalledf(authlyv1.ReasonSecretConflict,
				"the Secret %s for the generated key-encryption key exists and belongs to %s %s: delete it, or name a Secret of yours in spec.keyEncryptionKeySecretRef", name, owner.Kind, owner.Name)
		}
		if len(s.Data[key]) == 0 {
			return nil, stalledf(authlyv1.ReasonSecretConflict,
				"the Secret %s exists without key %q; it is not overwritten, as it may be the key of existing signing keys: delete it or set spec.keyEncryptionKeySecretRef", name, key)
		}
		return s.Data[key], nil
	}
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, r.failed(as, "signing keys", err)
	}
	sealed := 0
	for _, k := range keys {
		if k.Encrypted {
			sealed++
		}
	}
	if sealed > 0 {
		// Only a person can help: restoring the Secret (which the Secret watch notices) or
		// a change of spec.
		return nil, stalledf(reasonKEKNotFound,
			"the Secret %s with the key-encryption key is gone but the database holds %d signing keys encrypted with it: restore the Secret from a backup (or set spec.keyEncryptionKeySecretRef); a new key would make them unreadable", name, sealed)
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(r.Rand, raw); err != nil {
		return nil, fmt.Errorf("generating the key-encryption key: %w", err)
	}
	desired := specs.KeyEncryptionKeySecret(as, base64.StdEncoding.EncodeToString(raw))
	if err := controllerutil.SetControllerReference(as, desired, r.Scheme); err != nil {
		return nil, fmt.Errorf("owning the key-encryption key Secret: %w", err)
	}
	if err := r.Create(ctx, desired); err != nil {
		// AlreadyExists: created by an earlier reconcile the cache has not seen yet; the
		// retry reads it rather than writing another key.
		return nil, r.failed(as, "Secret", err)
	}
	r.Recorder.Eventf(as, corev1.EventTypeNormal, eventKEKCreated, "generated the key-encryption key in Secret %s; back it up with the database", name)
	return desired.Data[authlyv1.DefaultKeySecretKey], nil
}

// ensurePlan computes the capacity plan (corrected by the observed load in capacity mode),
// records it in status and the CapacityLimited condition. A spec the planner refuses
// stalls: only a spec change helps.
func (r *AuthServerReconciler) ensurePlan(ctx context.Context, as *authlyv1.AuthServer) (capacity.Plan, error) {
	plan, err := specs.Plan(as)
	if err != nil {
		// Among these: a connection budget too small for minReplicas.
		return capacity.Plan{}, stalledf(authlyv1.ReasonInvalidSpec, "capacity plan: %s", specFieldErrors(err))
	}
	corr, err := r.correctForLoad(ctx, as, plan)
	if err != nil {
		return capacity.Plan{}, r.failed(as, "capacity plan", err)
	}
	plan = corr.plan
	prev := as.Status.Capacity
	next := capacityStatus(plan, corr, specs.CapacityMode(as))
	if prev != nil && (prev.Replicas != next.Replicas || prev.PoolMaxConns != next.PoolMaxConns || prev.PoolMinConns != next.PoolMinConns) {
		r.Recorder.Eventf(as, corev1.EventTypeNormal, eventCapacityPlanChanged, "replicas %d -> %d, pool %d-%d -> %d-%d connections per pod",
			prev.Replicas, next.Replicas, prev.PoolMinConns, prev.PoolMaxConns, next.PoolMinConns, next.PoolMaxConns)
	}
	as.Status.Capacity = mergeCapacityStatus(prev, next, metav1.NewTime(r.Clock.Now()))
	setCapacityLimited(as, string(plan.LimitedBy), plan.Message)
	return plan, nil
}

// secret reads a Secret that may not exist yet; found is false when there is none.
func (r *AuthServerReconciler) secret(ctx context.Context, namespace, name string) (s *corev1.Secret, found bool, err error) {
	s = &corev1.Secret{}
	err = r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get Secret %s/%s: %w", namespace, name, err)
	}
	return s, true, nil
}

// ensureServiceAccount creates the pods' ServiceAccount unless the spec names one.
func (r *AuthServerReconciler) ensureServiceAccount(ctx context.Context, as *authlyv1.AuthServer) error {
	if as.Spec.PodTemplate != nil && as.Spec.PodTemplate.ServiceAccountName != "" {
		return nil
	}
	_, _, err := r.apply(ctx, as, specs.ServiceAccount(as))
	return err
}

// ensureDeployment applies the server's Deployment, with a config hash over the settings
// and the contents of the Secrets the server reads, so that a new database URL, key or
// certificate rolls the pods.
func (r *AuthServerReconciler) ensureDeployment(ctx context.Context, as *authlyv1.AuthServer, plan capacity.Plan, dbURL string, kek []byte) (*appsv1.Deployment, error) {
	digests := []string{specs.SecretDigest([]byte(dbURL)), specs.SecretDigest(kek)}
	if specs.ServerTLS(as) {
		s, found, err := r.secret(ctx, as.Namespace, as.Spec.TLS.SecretName)
		if err != nil {
			return nil, fmt.Errorf("reading the TLS Secret: %w", err)
		}
		// cert-manager, say, writes it after the AuthServer exists: wait, do not stall.
		if !found || len(s.Data[corev1.TLSCertKey]) == 0 || len(s.Data[corev1.TLSPrivateKeyKey]) == 0 {
			msg := fmt.Sprintf("TLS Secret %s/%s (spec.tls.secretName) with %s and %s not found", as.Namespace, as.Spec.TLS.SecretName, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
			return nil, waitingFor(reasonTLSSecretNotFound, msg, waitSecretPeriod)
		}
		digests = append(digests, specs.SecretDigest(s.Data[corev1.TLSCertKey]), specs.SecretDigest(s.Data[corev1.TLSPrivateKeyKey]))
	}
	image := as.Spec.Image
	if image == "" {
		image = r.Image
	}
	desired := specs.Deployment(as, plan, image, specs.ConfigHash(specs.ServerSettings(as, plan), digests...))
	cur, op, err := r.apply(ctx, as, desired)
	if err != nil {
		return nil, r.failed(as, "Deployment", err)
	}
	if op == opUpdated {
		r.Recorder.Eventf(as, corev1.EventTypeNormal, eventDeploymentUpdated, "Deployment %s updated: %d replicas, image %s", desired.Name, plan.Replicas, image)
	}
	return cur.(*appsv1.Deployment), nil
}

func (r *AuthServerReconciler) ensureService(ctx context.Context, as *authlyv1.AuthServer) error {
	_, _, err := r.apply(ctx, as, specs.Service(as))
	return err
}

// ensurePodDisruptionBudget keeps a budget while there is more than one replica and removes
// it otherwise (see specs.PodDisruptionBudget).
func (r *AuthServerReconciler) ensurePodDisruptionBudget(ctx context.Context, as *authlyv1.AuthServer, replicas int32) error {
	if pdb := specs.PodDisruptionBudget(as, replicas); pdb != nil {
		_, _, err := r.apply(ctx, as, pdb)
		return err
	}
	return r.deleteOwned(ctx, as, &policyv1.PodDisruptionBudget{})
}

func (r *AuthServerReconciler) ensureIngress(ctx context.Context, as *authlyv1.AuthServer) error {
	if ing := specs.Ingress(as); ing != nil {
		_, _, err := r.apply(ctx, as, ing)
		return err
	}
	return r.deleteOwned(ctx, as, &networkingv1.Ingress{})
}

// ensureServiceMonitor applies a ServiceMonitor when the cluster has the Prometheus
// Operator's API, and does nothing otherwise. The API server is asked (through the
// RESTMapper, which looks again after a miss), so installing the Prometheus Operator later
// is noticed at the next reconcile.
func (r *AuthServerReconciler) ensureServiceMonitor(ctx context.Context, as *authlyv1.AuthServer) error {
	_, err := r.RESTMapper().RESTMapping(specs.ServiceMonitorGVK.GroupKind(), specs.ServiceMonitorGVK.Version)
	if meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up the ServiceMonitor API: %w", err)
	}
	_, _, err = r.apply(ctx, as, specs.ServiceMonitor(as))
	return err
}

// stoppedBeforeDeployment returns err, the error of a step before the Deployment's, after
// filling replicas and readiness from the Deployment there is, if any; the conditions are
// left as set.
func (r *AuthServerReconciler) stoppedBeforeDeployment(ctx context.Context, as *authlyv1.AuthServer, err error) error {
	var dep appsv1.Deployment
	if gerr := r.Get(ctx, types.NamespacedName{Namespace: as.Namespace, Name: as.Name}, &dep); gerr != nil {
		return err
	}
	if metav1.IsControlledBy(&dep, as) {
		as.Status.ReadyReplicas = dep.Status.ReadyReplicas
		if dep.Spec.Replicas != nil {
			as.Status.Replicas = *dep.Spec.Replicas
		}
	}
	return err
}

// failed records a failed step: Degraded with the error, and a Warning event; the error
// comes back as a *stepFailed, which says what failed and which outcome records as
// Reconciling. A conflict (someone wrote the object since it was read) or a create racing
// the cache is routine: it is only retried. An object of someone else in the way is a
// stalled requeue, passed on.
func (r *AuthServerReconciler) failed(as *authlyv1.AuthServer, what string, err error) error {
	var q *requeue
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || errors.As(err, &q) {
		return err
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	setCondition(&as.Status.Conditions, as.Generation, authlyv1.ConditionDegraded, metav1.ConditionTrue, reasonApplyFailed, msg)
	r.Recorder.Event(as, corev1.EventTypeWarning, reasonApplyFailed, msg)
	return &stepFailed{what: what, err: err}
}

// stepFailed is the error of a step that failed for a reason that may pass (the API
// server or the database answered with an error).
type stepFailed struct {
	what string
	err  error
}

func (e *stepFailed) Error() string { return e.what + ": " + e.err.Error() }
func (e *stepFailed) Unwrap() error { return e.err }

// patchStatus writes the status when it changed.
func (r *AuthServerReconciler) patchStatus(ctx context.Context, orig, as *authlyv1.AuthServer) error {
	if equality.Semantic.DeepEqual(orig.Status, as.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, as, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing the status: %w", err)
	}
	return nil
}

// What apply did.
const (
	opCreated   = "created"
	opUpdated   = "updated"
	opUnchanged = "unchanged"
)

// apply makes the object desired exist as rendered, owned by the AuthServer. The hash of
// the desired object goes into specs.SpecHashAnnotation; an existing object whose annotation
// already holds that hash is left alone, so an idle reconcile sends nothing. Otherwise the
// operator's labels, annotations and spec are patched in (with the resourceVersion as a
// precondition), keeping what others added to the metadata and the fields the API server
// allocated. An object of that name that another owner controls is not touched.
func (r *AuthServerReconciler) apply(ctx context.Context, as *authlyv1.AuthServer, desired client.Object) (client.Object, string, error) {
	if err := controllerutil.SetControllerReference(as, desired, r.Scheme); err != nil {
		return nil, "", fmt.Errorf("own %s %s: %w", kindOf(desired), desired.GetName(), err)
	}
	hash, err := specs.ObjectHash(desired)
	if err != nil {
		return nil, "", fmt.Errorf("hashing: %w", err)
	}
	ann := maps.Clone(desired.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	managed := slices.Sorted(maps.Keys(ann))
	ann[specs.SpecHashAnnotation] = hash
	if len(managed) > 0 {
		ann[managedAnnotationsAnnotation] = strings.Join(managed, ",")
	}
	desired.SetAnnotations(ann)

	cur := emptyLike(desired)
	err = r.Get(ctx, client.ObjectKeyFromObject(desired), cur)
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, desired); err != nil {
			return nil, "", fmt.Errorf("create %s %s: %w", kindOf(desired), desired.GetName(), err)
		}
		r.Recorder.Eventf(as, corev1.EventTypeNormal, eventCreated, "created %s %s", kindOf(desired), desired.GetName())
		return desired, opCreated, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get %s %s: %w", kindOf(desired), desired.GetName(), err)
	}
	if !metav1.IsControlledBy(cur, as) {
		// Taking over someone else's object is not the operator's to decide; the next
		// look is after waitSecretPeriod, since such objects are not watched.
		return nil, "", stalledf(authlyv1.ReasonResourceConflict,
			"%s %s exists and is not controlled by this AuthServer (metadata.name %s): delete or rename that %s, or give the AuthServer another name",
			kindOf(desired), desired.GetName(), as.Name, kindOf(desired))
	}
	if cur.GetAnnotations()[specs.SpecHashAnnotation] == hash {
		return cur, opUnchanged, nil
	}
	before := cur.DeepCopyObject().(client.Object)

	curAnn := maps.Clone(cur.GetAnnotations())
	if curAnn == nil {
		curAnn = map[string]string{}
	}
	if prev := curAnn[managedAnnotationsAnnotation]; prev != "" {
		for k := range strings.SplitSeq(prev, ",") {
			delete(curAnn, k)
		}
	}
	delete(curAnn, managedAnnotationsAnnotation)
	maps.Copy(curAnn, ann)
	cur.SetAnnotations(curAnn)
	curLabels := maps.Clone(cur.GetLabels())
	if curLabels == nil {
		curLabels = map[string]string{}
	}
	maps.Copy(curLabels, desired.GetLabels())
	cur.SetLabels(curLabels)
	cur.SetOwnerReferences(desired.GetOwnerReferences())
	if err := copySpec(cur, desired); err != nil {
		return nil, "", err
	}
	if err := r.Patch(ctx, cur, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, "", fmt.Errorf("patch %s %s: %w", kindOf(desired), desired.GetName(), err)
	}
	return cur, opUpdated, nil
}

// deleteOwned deletes the AuthServer's object of obj's kind (named like the AuthServer) if
// the AuthServer controls it.
func (r *AuthServerReconciler) deleteOwned(ctx context.Context, as *authlyv1.AuthServer, obj client.Object) error {
	err := r.Get(ctx, types.NamespacedName{Namespace: as.Namespace, Name: as.Name}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", kindOf(obj), as.Name, err)
	}
	if !metav1.IsControlledBy(obj, as) {
		return nil
	}
	if err := r.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", kindOf(obj), as.Name, err)
	}
	r.Recorder.Eventf(as, corev1.EventTypeNormal, "Deleted", "deleted %s %s, no longer asked for", kindOf(obj), obj.GetName())
	return nil
}

// copySpec copies the desired object's specification onto the current one, keeping the
// fields the API server allocated.
func copySpec(cur, desired client.Object) error {
	switch c := cur.(type) {
	case *appsv1.Deployment:
		c.Spec = desired.(*appsv1.Deployment).Spec
	case *corev1.Service:
		d := desired.(*corev1.Service).Spec.DeepCopy()
		d.ClusterIP, d.ClusterIPs = c.Spec.ClusterIP, c.Spec.ClusterIPs
		d.IPFamilies, d.IPFamilyPolicy = c.Spec.IPFamilies, c.Spec.IPFamilyPolicy
		c.Spec = *d
	case *policyv1.PodDisruptionBudget:
		c.Spec = desired.(*policyv1.PodDisruptionBudget).Spec
	case *networkingv1.Ingress:
		c.Spec = desired.(*networkingv1.Ingress).Spec
	case *corev1.ServiceAccount:
		c.AutomountServiceAccountToken = desired.(*corev1.ServiceAccount).AutomountServiceAccountToken
	case *unstructured.Unstructured:
		c.Object["spec"] = runtime.DeepCopyJSONValue(desired.(*unstructured.Unstructured).Object["spec"])
	default:
		return fmt.Errorf("apply: no spec copy for %T", cur)
	}
	return nil
}

// emptyLike is a new empty object of obj's type (and, for unstructured, kind).
func emptyLike(obj client.Object) client.Object {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		out := &unstructured.Unstructured{}
		out.SetGroupVersionKind(u.GroupVersionKind())
		return out
	}
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
}

// kindOf names an object's kind for messages.
func kindOf(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return reflect.TypeOf(obj).Elem().Name()
}

// authServerSecretNames are the Secrets an AuthServer reads, for authServerSecretsIndex.
func authServerSecretNames(obj client.Object) []string {
	as, ok := obj.(*authlyv1.AuthServer)
	if !ok {
		return nil
	}
	names := []string{as.Spec.Database.SecretRef.Name, as.KeyEncryptionKeyRef().Name}
	if specs.ServerTLS(as) {
		names = append(names, as.Spec.TLS.SecretName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// authServersForSecret maps a Secret to the AuthServers of its namespace that read it.
func (r *AuthServerReconciler) authServersForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var list authlyv1.AuthServerList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{authServerSecretsIndex: obj.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing the AuthServers that read a Secret", "secret", obj.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, as := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: as.Namespace, Name: as.Name}})
	}
	return out
}

// SetupWithManager registers the reconciler: AuthServers (spec, labels and annotations
// changes; its own status writes do not come back), the objects it owns, and the Secrets
// the servers read.
func (r *AuthServerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	// The defaults of the optional settings are set here, once, as for the entry
	// reconcilers (newEntryReconciler): the reconcile code never checks for nil or zero.
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Recorder == nil {
		r.Recorder = discardEvents{}
	}
	if r.Rand == nil {
		r.Rand = rand.Reader
	}
	r.ObserveInterval = durationOr(r.ObserveInterval, DefaultObserveInterval)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &authlyv1.AuthServer{}, authServerSecretsIndex, authServerSecretNames); err != nil {
		return fmt.Errorf("indexing AuthServers by Secret: %w", err)
	}
	err := ctrl.NewControllerManagedBy(mgr).
		For(&authlyv1.AuthServer{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{},
		))).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.authServersForSecret)).
		Named("authserver").
		Complete(r)
	if err != nil {
		return fmt.Errorf("building the AuthServer controller: %w", err)
	}
	return nil
}
