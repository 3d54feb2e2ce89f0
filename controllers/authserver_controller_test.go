/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/controllers/specs"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

const testImage = "ghcr.io/authly-dev/authly:test"

// fakeLoad is a LoadObserver whose answer the test sets: no pods can run in envtest.
type fakeLoad struct {
	mu  sync.Mutex
	rps float64
	ok  bool
}

func (f *fakeLoad) ObservedRPS(context.Context, *authlyv1.AuthServer) (float64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rps, f.ok, nil
}

func (f *fakeLoad) set(rps float64) {
	f.mu.Lock()
	f.rps, f.ok = rps, true
	f.mu.Unlock()
}

// startAuthServerController runs the AuthServer reconciler r in a manager of its own that
// watches only namespace ns, so that tests do not reconcile each other's servers. It
// returns a client that reads the API server directly.
func startAuthServerController(t *testing.T, ns string, r *controllers.AuthServerReconciler) client.Client {
	t.Helper()
	if r.Databases == nil {
		r.Databases = &controllers.Databases{MaxConns: 2}
	}
	// Registered before the manager's cleanup, so it runs after the manager stopped.
	t.Cleanup(r.Databases.Close)
	s := testScheme(t)
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     s,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Client = mgr.GetClient()
	r.Scheme = mgr.GetScheme()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	t.Cleanup(events.Shutdown)
	r.Recorder = events.NewRecorder(s, corev1.EventSource{Component: "authserver-controller"})
	if r.Image == "" {
		r.Image = testImage
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newDatabaseSecret(t *testing.T, c client.Client, ns, name, key, dbURL string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data:       map[string][]byte{key: []byte(dbURL)},
	}
	if err := c.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newAuthServer(ns, name string, mutate func(*authlyv1.AuthServer)) *authlyv1.AuthServer {
	as := &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: authlyv1.AuthServerSpec{
			Issuer:   "https://auth." + ns + ".example.com",
			Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: "authly-db"}},
			Tokens:   &authlyv1.TokenSpec{AccessTokenTTL: &metav1.Duration{Duration: 15 * time.Minute}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			},
		},
	}
	if mutate != nil {
		mutate(as)
	}
	return as
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func getAuthServer(t *testing.T, c client.Client, key types.NamespacedName) *authlyv1.AuthServer {
	t.Helper()
	var as authlyv1.AuthServer
	if err := c.Get(context.Background(), key, &as); err != nil {
		t.Fatal(err)
	}
	return &as
}

// waitCondition waits until the AuthServer's condition has the status and reason, at the
// current generation, and returns the AuthServer as it was then.
func waitCondition(t *testing.T, c client.Client, key types.NamespacedName, typ string, status metav1.ConditionStatus, reason string) *authlyv1.AuthServer {
	t.Helper()
	var as authlyv1.AuthServer
	eventually(t, fmt.Sprintf("%s %s=%s (%s)", key, typ, status, reason), func() error {
		if err := c.Get(context.Background(), key, &as); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(as.Status.Conditions, typ)
		if cond == nil {
			return fmt.Errorf("no condition %s in %+v", typ, as.Status.Conditions)
		}
		if cond.Status != status || cond.Reason != reason || cond.ObservedGeneration != as.Generation {
			return fmt.Errorf("%s is %s/%s at generation %d (object at %d): %s", typ, cond.Status, cond.Reason, cond.ObservedGeneration, as.Generation, cond.Message)
		}
		return nil
	})
	return &as
}

func waitDeployment(t *testing.T, c client.Client, key types.NamespacedName, what string, ok func(*appsv1.Deployment) error) *appsv1.Deployment {
	t.Helper()
	var dep appsv1.Deployment
	eventually(t, what, func() error {
		if err := c.Get(context.Background(), key, &dep); err != nil {
			return err
		}
		return ok(&dep)
	})
	return &dep
}

func containerEnv(dep *appsv1.Deployment) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		m[e.Name] = e
	}
	return m
}

// poke changes an annotation of the AuthServer, which asks for a reconcile.
func poke(t *testing.T, c client.Client, key types.NamespacedName) {
	t.Helper()
	as := getAuthServer(t, c, key)
	patch := client.MergeFrom(as.DeepCopy())
	if as.Annotations == nil {
		as.Annotations = map[string]string{}
	}
	as.Annotations["test.authly.dev/poke"] = strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := c.Patch(context.Background(), as, patch); err != nil {
		t.Fatal(err)
	}
}

func assertControlledBy(t *testing.T, obj client.Object, as *authlyv1.AuthServer) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != as.UID || ref.Kind != "AuthServer" || ref.Name != as.Name || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("%T %s: controller reference %+v, want AuthServer %s (%s)", obj, obj.GetName(), ref, as.Name, as.UID)
	}
}

func eventsFor(t *testing.T, c client.Client, ns, name string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "AuthServer" && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func waitEvent(t *testing.T, c client.Client, ns, name, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, "event "+reason, func() error {
		for _, e := range eventsFor(t, c, ns, name) {
			if e.Reason == reason {
				found = e
				return nil
			}
		}
		return errors.New("not recorded yet")
	})
	return found
}

// The whole life of an AuthServer with a fixed replica count: database, key, Deployment,
// Service, PodDisruptionBudget, status, the scale subresource, spec and Secret changes.
func TestAuthServerLifecycle(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	ctx := context.Background()
	dbURL := storetest.URL(t)
	dbSecret := newDatabaseSecret(t, c, ns, "authly-db", "url", dbURL)
	as := newAuthServer(ns, "main", func(as *authlyv1.AuthServer) { as.Spec.Replicas = ptr.To[int32](2) })
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)

	got := waitCondition(t, c, key, authlyv1.ConditionDatabaseReady, metav1.ConditionTrue, authlyv1.ReasonMigrated)
	if got.Status.DatabaseSchemaVersion != int32(store.SchemaVersion()) || got.Status.DatabaseSchemaVersion == 0 {
		t.Errorf("databaseSchemaVersion = %d, want %d", got.Status.DatabaseSchemaVersion, store.SchemaVersion())
	}

	// The key-encryption key: 32 random bytes, owned, created once.
	var kek corev1.Secret
	eventually(t, "the KEK Secret", func() error { return c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "main-kek"}, &kek) })
	raw, err := base64.StdEncoding.DecodeString(string(kek.Data["key"]))
	if err != nil || len(raw) != 32 {
		t.Errorf("KEK = %d bytes (%v), want 32 base64-encoded", len(raw), err)
	}
	assertControlledBy(t, &kek, got)

	dep := waitDeployment(t, c, key, "the Deployment", func(*appsv1.Deployment) error { return nil })
	assertControlledBy(t, dep, got)
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *dep.Spec.Replicas)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	if ctr.Image != testImage || strings.Join(ctr.Args, " ") != "server" {
		t.Errorf("image %s args %v, want the operator's image with [server]", ctr.Image, ctr.Args)
	}
	env := containerEnv(dep)
	if env["AUTHLY_ISSUER"].Value != as.Spec.Issuer || env["AUTHLY_REPLICAS"].Value != "2" || env["AUTHLY_LOG_FORMAT"].Value != "json" {
		t.Errorf("env = %+v", env)
	}
	if ref := env["AUTHLY_DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "authly-db" || ref.SecretKeyRef.Key != "url" || env["AUTHLY_DATABASE_URL"].Value != "" {
		t.Errorf("AUTHLY_DATABASE_URL = %+v, want a reference to authly-db/url", env["AUTHLY_DATABASE_URL"])
	}
	if ref := env["AUTHLY_KEY_ENCRYPTION_KEY"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "main-kek" {
		t.Errorf("AUTHLY_KEY_ENCRYPTION_KEY = %+v", env["AUTHLY_KEY_ENCRYPTION_KEY"])
	}
	// 90 connections for 2 replicas and a surge pod: 30 each, capped at 20.
	if env["AUTHLY_POOL_MAX_CONNS"].Value != "20" || env["AUTHLY_POOL_MIN_CONNS"].Value != "2" {
		t.Errorf("pool = %s-%s, want 2-20", env["AUTHLY_POOL_MIN_CONNS"].Value, env["AUTHLY_POOL_MAX_CONNS"].Value)
	}
	if p := ctr.ReadinessProbe.HTTPGet; p.Path != "/ready" || p.Port.StrVal != "http" {
		t.Errorf("readiness = %+v", p)
	}
	if p := ctr.LivenessProbe.HTTPGet; p.Path != "/health" || p.Port.StrVal != "http" {
		t.Errorf("liveness = %+v", p)
	}
	if ru := dep.Spec.Strategy.RollingUpdate; ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("rolling update = %+v", ru)
	}
	if sc := ctr.SecurityContext; !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("security context = %+v", sc)
	}
	hash1 := dep.Spec.Template.Annotations[specs.ConfigHashAnnotation]
	if hash1 == "" {
		t.Fatal("no config hash on the pod template")
	}

	var svc corev1.Service
	eventually(t, "the Service", func() error { return c.Get(ctx, key, &svc) })
	assertControlledBy(t, &svc, got)
	if p := svc.Spec.Ports[0]; p.Port != 8000 || p.Name != "http" || svc.Spec.Selector["app.kubernetes.io/instance"] != "main" {
		t.Errorf("service = %+v", svc.Spec)
	}
	var pdb policyv1.PodDisruptionBudget
	eventually(t, "the PodDisruptionBudget", func() error { return c.Get(ctx, key, &pdb) })
	assertControlledBy(t, &pdb, got)
	if pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("pdb = %+v", pdb.Spec)
	}
	var sa corev1.ServiceAccount
	eventually(t, "the ServiceAccount", func() error { return c.Get(ctx, key, &sa) })
	assertControlledBy(t, &sa, got)

	// Status: endpoints, the selector of the scale subresource, not ready without pods.
	got = waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionFalse, authlyv1.ReasonDeploymentUnavailable)
	iss := as.Spec.Issuer
	if e := got.Status.Endpoints; e == nil || e.Token != iss+"/api/v1/oauth/token" || e.JWKS != iss+"/.well-known/jwks.json" ||
		e.Authorize != iss+"/api/v1/oauth/authorize" || e.Userinfo != iss+"/oidc/userinfo" || e.Introspection != iss+"/api/v1/oauth/introspect" ||
		e.Revocation != iss+"/api/v1/oauth/revoke" || e.Issuer != iss {
		t.Errorf("endpoints = %+v", got.Status.Endpoints)
	}
	if got.Status.Selector != "app.kubernetes.io/instance=main,app.kubernetes.io/name=authly" || got.Status.Replicas != 2 {
		t.Errorf("selector %q replicas %d", got.Status.Selector, got.Status.Replicas)
	}
	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration = %d, want %d", got.Status.ObservedGeneration, got.Generation)
	}

	// The Deployment controller (absent from envtest) reports every replica available.
	setDeploymentAvailable(t, c, key)
	waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionTrue, authlyv1.ReasonDeploymentAvailable)
	got = waitCondition(t, c, key, authlyv1.ConditionProgressing, metav1.ConditionFalse, authlyv1.ReasonReconciled)
	if got.Status.ReadyReplicas != 2 {
		t.Errorf("readyReplicas = %d, want 2", got.Status.ReadyReplicas)
	}

	// A reconcile with nothing new does not write the Deployment.
	dep = waitDeployment(t, c, key, "the Deployment", func(*appsv1.Deployment) error { return nil })
	rv := dep.ResourceVersion
	oldSvcUID := svc.UID
	if err := c.Delete(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Service recreated", func() error {
		var s corev1.Service
		if err := c.Get(ctx, key, &s); err != nil {
			return err
		}
		if s.UID == oldSvcUID {
			return errors.New("still the old Service")
		}
		return nil
	})
	poke(t, c, key)
	time.Sleep(500 * time.Millisecond)
	dep = waitDeployment(t, c, key, "the Deployment", func(*appsv1.Deployment) error { return nil })
	if dep.ResourceVersion != rv {
		t.Errorf("an idle reconcile updated the Deployment: resourceVersion %s -> %s", rv, dep.ResourceVersion)
	}

	// The scale subresource: kubectl scale / an HPA writes spec.replicas; the Deployment follows.
	scale := &autoscalingv1.Scale{}
	if err := c.SubResource("scale").Get(ctx, got, scale); err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 2 || scale.Status.Selector != got.Status.Selector {
		t.Errorf("scale = %+v", scale)
	}
	scale.Spec.Replicas = 3
	if err := c.SubResource("scale").Update(ctx, got, client.WithSubResourceBody(scale)); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, c, key, "3 replicas", func(d *appsv1.Deployment) error {
		if *d.Spec.Replicas != 3 || containerEnv(d)["AUTHLY_REPLICAS"].Value != "3" {
			return fmt.Errorf("replicas %d, AUTHLY_REPLICAS %s", *d.Spec.Replicas, containerEnv(d)["AUTHLY_REPLICAS"].Value)
		}
		return nil
	})
	got = waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionFalse, authlyv1.ReasonDeploymentUnavailable)
	if got.Status.Replicas != 3 {
		t.Errorf("status.replicas = %d, want 3", got.Status.Replicas)
	}

	// A new access token TTL rolls the pods: new env, new config hash.
	got = getAuthServer(t, c, key)
	got.Spec.Tokens.AccessTokenTTL = &metav1.Duration{Duration: 10 * time.Minute}
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	dep = waitDeployment(t, c, key, "the new TTL", func(d *appsv1.Deployment) error {
		if v := containerEnv(d)["AUTHLY_ACCESS_TOKEN_TTL"].Value; v != "10m0s" {
			return fmt.Errorf("AUTHLY_ACCESS_TOKEN_TTL = %s", v)
		}
		return nil
	})
	hash2 := dep.Spec.Template.Annotations[specs.ConfigHashAnnotation]
	if hash2 == hash1 || hash2 == "" {
		t.Errorf("config hash %q -> %q, want a new one", hash1, hash2)
	}
	waitEvent(t, c, ns, "main", "DeploymentUpdated")

	// A new database URL (same database) rolls the pods too: the Secret is watched.
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "authly-rotated")
	u.RawQuery = q.Encode()
	dbSecret.Data["url"] = []byte(u.String())
	if err := c.Update(ctx, dbSecret); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, c, key, "a config hash for the new database URL", func(d *appsv1.Deployment) error {
		if h := d.Spec.Template.Annotations[specs.ConfigHashAnnotation]; h == hash2 {
			return errors.New("config hash unchanged")
		}
		return nil
	})

	// The key was never replaced.
	var kekAfter corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "main-kek"}, &kekAfter); err != nil {
		t.Fatal(err)
	}
	if kekAfter.UID != kek.UID || string(kekAfter.Data["key"]) != string(kek.Data["key"]) {
		t.Error("the key-encryption key changed")
	}

	// No secret in events or status.
	for _, e := range eventsFor(t, c, ns, "main") {
		if strings.Contains(e.Message, string(kek.Data["key"])) || strings.Contains(e.Message, dbURL) {
			t.Errorf("event %s carries a secret: %s", e.Reason, e.Message)
		}
	}
	got = getAuthServer(t, c, key)
	if st := fmt.Sprintf("%+v", got.Status); strings.Contains(st, dbURL) || strings.Contains(st, u.String()) || strings.Contains(st, string(kek.Data["key"])) {
		t.Errorf("status carries a secret: %s", st)
	}
}

// setDeploymentAvailable writes the status the Deployment controller would: every replica
// updated, ready and available.
func setDeploymentAvailable(t *testing.T, c client.Client, key types.NamespacedName) {
	t.Helper()
	var dep appsv1.Deployment
	if err := c.Get(context.Background(), key, &dep); err != nil {
		t.Fatal(err)
	}
	n := *dep.Spec.Replicas
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
	}
	if err := c.Status().Update(context.Background(), &dep); err != nil {
		t.Fatal(err)
	}
}

// Capacity mode: the plan is capacity.Compute's; observed load raises it at once and it
// comes down only after the stabilisation window; maxReplicas binding is a condition.
func TestAuthServerCapacityPlanAndObservedLoad(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	clk := clocktesting.NewFakeClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	load := &fakeLoad{}
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clk, Load: load})
	newDatabaseSecret(t, c, ns, "authly-db", "url", storetest.URL(t))
	as := newAuthServer(ns, "planned", func(as *authlyv1.AuthServer) {
		as.Spec.Database.MaxConnections = 200
		as.Spec.Capacity = &authlyv1.CapacitySpec{
			ExpectedDailyRequests: 100_000_000,
			PeakMultiplier:        "4",
			MinReplicas:           2,
			MaxReplicas:           10,
			FailoverReplicas:      ptr.To[int32](1),
		}
	})
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)

	want, err := capacity.Compute(capacity.Input{
		ExpectedDailyRequests: 100_000_000, PeakMultiplier: 4, CPUPerReplica: 1,
		MinReplicas: 2, MaxReplicas: 10, FailoverReplicas: 1, SurgeReplicas: 1,
		MaxConnections: 200, ReservedConnections: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want.LimitedBy != capacity.NotLimited {
		t.Fatalf("the test's plan is limited: %s", want.Message)
	}
	var got *authlyv1.AuthServer
	eventually(t, "the declared plan in status", func() error {
		got = getAuthServer(t, c, key)
		cs := got.Status.Capacity
		if cs == nil || cs.PlannedReplicas != want.PlannedReplicas || cs.Replicas != want.Replicas ||
			cs.PoolMaxConns != want.PoolMaxConns || cs.PoolMinConns != want.PoolMinConns ||
			cs.PeakRPS != capacity.FormatRate(want.PeakRPS) || cs.CapacityPerReplicaRPS != capacity.FormatRate(want.CapacityPerReplicaRPS) ||
			cs.ConnectionBudget != 190 || cs.CPUPerReplica != "1" {
			return fmt.Errorf("capacity status %+v, want %+v", cs, want)
		}
		return nil
	})
	waitCondition(t, c, key, authlyv1.ConditionCapacityLimited, metav1.ConditionFalse, authlyv1.ReasonWithinLimits)
	waitDeployment(t, c, key, "the planned replicas and pool", func(d *appsv1.Deployment) error {
		env := containerEnv(d)
		if *d.Spec.Replicas != want.Replicas || env["AUTHLY_POOL_MAX_CONNS"].Value != strconv.Itoa(int(want.PoolMaxConns)) || env["AUTHLY_REPLICAS"].Value != "2" {
			return fmt.Errorf("replicas %d pool %s AUTHLY_REPLICAS %s", *d.Spec.Replicas, env["AUTHLY_POOL_MAX_CONNS"].Value, env["AUTHLY_REPLICAS"].Value)
		}
		return nil
	})
	hashBefore := waitDeployment(t, c, key, "the Deployment", func(*appsv1.Deployment) error { return nil }).Spec.Template.Annotations[specs.ConfigHashAnnotation]

	// More load than declared: replicas go up at once.
	observed := 4.2 * want.CapacityPerReplicaRPS
	raised := int32(math.Ceil(observed/want.CapacityPerReplicaRPS)) + 1
	load.set(observed)
	poke(t, c, key)
	replicasAre := func(n int32) func(*appsv1.Deployment) error {
		return func(d *appsv1.Deployment) error {
			if *d.Spec.Replicas != n {
				return fmt.Errorf("replicas %d, want %d", *d.Spec.Replicas, n)
			}
			return nil
		}
	}
	dep := waitDeployment(t, c, key, "raised replicas", replicasAre(raised))
	if h := dep.Spec.Template.Annotations[specs.ConfigHashAnnotation]; h != hashBefore {
		t.Error("scaling within the bounds changed the config hash: it would restart every pod")
	}
	got = getAuthServer(t, c, key)
	if cs := got.Status.Capacity; cs.ObservedRPS != capacity.FormatRate(observed) || cs.Replicas != raised || cs.LastObserved == nil || len(cs.Recommendations) != 1 {
		t.Errorf("capacity status after the observation: %+v", cs)
	}
	waitEvent(t, c, ns, "planned", "CapacityPlanChanged")

	// The load drops: a minute later the replicas are held for the window.
	load.set(0)
	clk.Step(time.Minute)
	poke(t, c, key)
	eventually(t, "the low reading in status", func() error {
		got = getAuthServer(t, c, key)
		if cs := got.Status.Capacity; cs.ObservedRPS != "0.0" || cs.Replicas != raised || !strings.Contains(cs.Message, "holding") {
			return fmt.Errorf("capacity status %+v", cs)
		}
		return nil
	})
	if d := waitDeployment(t, c, key, "the Deployment", func(*appsv1.Deployment) error { return nil }); *d.Spec.Replicas != raised {
		t.Errorf("replicas %d within the stabilisation window, want %d held", *d.Spec.Replicas, raised)
	}

	// After the window, back to the declared plan.
	clk.Step(capacity.DefaultStabilizationWindow)
	poke(t, c, key)
	waitDeployment(t, c, key, "the declared plan after the window", replicasAre(want.Replicas))

	// Far more load than maxReplicas serves: capped, and CapacityLimited says so.
	load.set(100 * want.CapacityPerReplicaRPS)
	clk.Step(time.Minute)
	poke(t, c, key)
	waitDeployment(t, c, key, "maxReplicas", replicasAre(10))
	got = waitCondition(t, c, key, authlyv1.ConditionCapacityLimited, metav1.ConditionTrue, authlyv1.ReasonMaxReplicas)
	if got.Status.Capacity.LimitedBy != "maxReplicas" {
		t.Errorf("limitedBy = %q", got.Status.Capacity.LimitedBy)
	}
}

// A missing database Secret is a condition with a reason; creating it lets the server start.
func TestAuthServerWaitsForDatabaseSecret(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	as := newAuthServer(ns, "waiting", func(as *authlyv1.AuthServer) {
		as.Spec.Database.SecretRef = authlyv1.DatabaseSecretRef{Name: "mydb-app", Key: "uri"}
	})
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)
	got := waitCondition(t, c, key, authlyv1.ConditionDatabaseReady, metav1.ConditionFalse, authlyv1.ReasonDatabaseSecretNotFound)
	if msg := meta.FindStatusCondition(got.Status.Conditions, authlyv1.ConditionDatabaseReady).Message; !strings.Contains(msg, "mydb-app") {
		t.Errorf("message %q does not name the Secret", msg)
	}
	waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionFalse, authlyv1.ReasonDatabaseSecretNotFound)
	var dep appsv1.Deployment
	if err := c.Get(context.Background(), key, &dep); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment before the database is ready: %v", err)
	}

	// CloudNativePG's <cluster>-app Secret, key uri.
	newDatabaseSecret(t, c, ns, "mydb-app", "uri", storetest.URL(t))
	waitCondition(t, c, key, authlyv1.ConditionDatabaseReady, metav1.ConditionTrue, authlyv1.ReasonMigrated)
	waitDeployment(t, c, key, "the Deployment", func(d *appsv1.Deployment) error {
		if ref := containerEnv(d)["AUTHLY_DATABASE_URL"].ValueFrom.SecretKeyRef; ref.Name != "mydb-app" || ref.Key != "uri" {
			return fmt.Errorf("database ref %+v", ref)
		}
		return nil
	})
}

// A database that does not answer: DatabaseUnreachable, and the password nowhere.
func TestAuthServerDatabaseUnreachable(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	const password = "Sup3rSecretPassw0rd"
	newDatabaseSecret(t, c, ns, "authly-db", "url", "postgres://authly:"+password+"@127.0.0.1:1/authly?connect_timeout=2&sslmode=disable")
	as := newAuthServer(ns, "down", nil)
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)
	got := waitCondition(t, c, key, authlyv1.ConditionDatabaseReady, metav1.ConditionFalse, authlyv1.ReasonDatabaseUnreachable)
	for _, cond := range got.Status.Conditions {
		if strings.Contains(cond.Message, password) {
			t.Errorf("condition %s carries the password: %s", cond.Type, cond.Message)
		}
	}
	e := waitEvent(t, c, ns, "down", authlyv1.ReasonDatabaseUnreachable)
	if e.Type != corev1.EventTypeWarning || strings.Contains(e.Message, password) {
		t.Errorf("event %s %q", e.Type, e.Message)
	}
	var kek corev1.Secret
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "down-kek"}, &kek); !apierrors.IsNotFound(err) {
		t.Errorf("steps after the database ran: KEK Secret %v", err)
	}
}

// An empty database is migrated by the operator, with an event.
func TestAuthServerMigratesAnEmptyDatabase(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	emptyURL := emptyDatabase(t)
	newDatabaseSecret(t, c, ns, "authly-db", "url", emptyURL)
	as := newAuthServer(ns, "fresh", nil)
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)
	got := waitCondition(t, c, key, authlyv1.ConditionDatabaseReady, metav1.ConditionTrue, authlyv1.ReasonMigrated)
	if got.Status.DatabaseSchemaVersion != int32(store.SchemaVersion()) {
		t.Errorf("schema version %d, want %d", got.Status.DatabaseSchemaVersion, store.SchemaVersion())
	}
	e := waitEvent(t, c, ns, "fresh", "Migrated")
	if !strings.Contains(e.Message, fmt.Sprintf("from schema version 0 to %d", store.SchemaVersion())) {
		t.Errorf("event %q", e.Message)
	}
	conn, err := pgx.Connect(context.Background(), emptyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if v, err := store.CurrentVersion(context.Background(), conn); err != nil || v != store.SchemaVersion() {
		t.Errorf("the database is at %d (%v), want %d", v, err, store.SchemaVersion())
	}
}

// emptyDatabase creates a database without any schema next to a storetest one.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	base := storetest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_empty"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// TLS served by the server, an Ingress, and a ServiceMonitor once the Prometheus Operator's
// API exists (and nothing failing before).
func TestAuthServerTLSIngressAndServiceMonitor(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	ctx := context.Background()
	newDatabaseSecret(t, c, ns, "authly-db", "url", storetest.URL(t))
	as := newAuthServer(ns, "edge", func(as *authlyv1.AuthServer) {
		as.Spec.Replicas = ptr.To[int32](1)
		as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "edge-tls"}
		as.Spec.Ingress = &authlyv1.IngressSpec{
			ClassName: "nginx", Host: "auth." + ns + ".example.com", TLSSecretName: "edge-public-tls",
			Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"},
		}
	})
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)

	waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionFalse, "TLSSecretNotFound")
	tlsSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-tls", Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: []byte("cert-1"), corev1.TLSPrivateKeyKey: []byte("key-1")},
	}
	create(t, c, tlsSecret)

	dep := waitDeployment(t, c, key, "the TLS Deployment", func(d *appsv1.Deployment) error {
		if containerEnv(d)["AUTHLY_TLS_CERT_FILE"].Value == "" {
			return errors.New("no AUTHLY_TLS_CERT_FILE")
		}
		return nil
	})
	if p := dep.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet; p.Scheme != corev1.URISchemeHTTPS {
		t.Errorf("readiness scheme %s, want HTTPS", p.Scheme)
	}
	hash := dep.Spec.Template.Annotations[specs.ConfigHashAnnotation]

	var svc corev1.Service
	eventually(t, "the Service", func() error { return c.Get(ctx, key, &svc) })
	if p := svc.Spec.Ports[0]; p.Port != 443 || p.TargetPort.StrVal != "https" {
		t.Errorf("service port %+v, want 443 -> https", p)
	}
	var ing networkingv1.Ingress
	eventually(t, "the Ingress", func() error { return c.Get(ctx, key, &ing) })
	got := getAuthServer(t, c, key)
	assertControlledBy(t, &ing, got)
	if *ing.Spec.IngressClassName != "nginx" || ing.Spec.Rules[0].Host != "auth."+ns+".example.com" || ing.Spec.TLS[0].SecretName != "edge-public-tls" ||
		ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" || ing.Annotations["nginx.ingress.kubernetes.io/backend-protocol"] != "HTTPS" {
		t.Errorf("ingress = %+v %v", ing.Spec, ing.Annotations)
	}
	// One replica: no PodDisruptionBudget, which would block node drains.
	var pdb policyv1.PodDisruptionBudget
	if err := c.Get(ctx, key, &pdb); !apierrors.IsNotFound(err) {
		t.Errorf("a PodDisruptionBudget for one replica: %v", err)
	}
	// Without the monitoring API every step still succeeds.
	waitCondition(t, c, key, authlyv1.ConditionDegraded, metav1.ConditionFalse, authlyv1.ReasonReconciled)

	// A renewed certificate rolls the pods.
	tlsSecret.Data[corev1.TLSCertKey] = []byte("cert-2")
	if err := c.Update(ctx, tlsSecret); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, c, key, "a new config hash for the renewed certificate", func(d *appsv1.Deployment) error {
		if d.Spec.Template.Annotations[specs.ConfigHashAnnotation] == hash {
			return errors.New("config hash unchanged")
		}
		return nil
	})

	// Removing spec.ingress removes the Ingress.
	got = getAuthServer(t, c, key)
	got.Spec.Ingress = nil
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Ingress deleted", func() error {
		err := c.Get(ctx, key, &networkingv1.Ingress{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		return errors.New("still there")
	})

	// The Prometheus Operator's API appears: a ServiceMonitor follows.
	installServiceMonitorCRD(t, c)
	sm := &unstructured.Unstructured{}
	sm.SetAPIVersion("monitoring.coreos.com/v1")
	sm.SetKind("ServiceMonitor")
	eventually(t, "the ServiceMonitor", func() error {
		poke(t, c, key)
		return c.Get(ctx, key, sm)
	})
	assertControlledBy(t, sm, got)
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != "https" || endpoints[0].(map[string]any)["scheme"] != "https" {
		t.Errorf("endpoints = %v", endpoints)
	}
}

func installServiceMonitorCRD(t *testing.T, c client.Client) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	if err := c.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// A lost key-encryption key is not silently replaced while the database holds signing keys
// it encrypted; a restored Secret is used as it is.
func TestAuthServerDoesNotReplaceALostKey(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c)
	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	ctx := context.Background()
	dbURL := storetest.URL(t)
	st, err := store.Open(ctx, dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.InsertSigningKey(ctx, &store.SigningKey{KID: "k1", Algorithm: "ES256", PrivateKey: []byte("sealed with the lost key"), Encrypted: true, State: store.KeyActive}); err != nil {
		t.Fatal(err)
	}
	newDatabaseSecret(t, c, ns, "authly-db", "url", dbURL)
	as := newAuthServer(ns, "restored", nil)
	create(t, c, as)
	key := client.ObjectKeyFromObject(as)

	got := waitCondition(t, c, key, authlyv1.ConditionReady, metav1.ConditionFalse, "KeyEncryptionKeyNotFound")
	// Only a person can help: Stalled, which the Secret's restoration below ends.
	waitCondition(t, c, key, authlyv1.ConditionStalled, metav1.ConditionTrue, "KeyEncryptionKeyNotFound")
	if msg := meta.FindStatusCondition(got.Status.Conditions, authlyv1.ConditionReady).Message; !strings.Contains(msg, "restore") {
		t.Errorf("message %q does not say what to do", msg)
	}
	kekKey := types.NamespacedName{Namespace: ns, Name: "restored-kek"}
	if err := c.Get(ctx, kekKey, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a new key-encryption key was generated over encrypted signing keys: %v", err)
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, key, &dep); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment without the key: %v", err)
	}

	backup := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "restored-kek", Namespace: ns}, Data: map[string][]byte{"key": []byte(backup)}})
	waitDeployment(t, c, key, "the Deployment with the restored key", func(d *appsv1.Deployment) error {
		if ref := containerEnv(d)["AUTHLY_KEY_ENCRYPTION_KEY"].ValueFrom.SecretKeyRef; ref.Name != "restored-kek" {
			return fmt.Errorf("KEK ref %+v", ref)
		}
		return nil
	})
	got = waitCondition(t, c, key, authlyv1.ConditionReconciling, metav1.ConditionTrue, authlyv1.ReasonDeploymentUnavailable)
	if st := meta.FindStatusCondition(got.Status.Conditions, authlyv1.ConditionStalled); st != nil {
		t.Errorf("still stalled after the key was restored: %+v", st)
	}
	var s corev1.Secret
	if err := c.Get(ctx, kekKey, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["key"]) != backup {
		t.Error("the restored key was overwritten")
	}
}
