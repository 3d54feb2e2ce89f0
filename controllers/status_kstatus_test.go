/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// The objects the operator writes, read back from the API server, computed with kstatus
// (what Flux and `kubectl wait` follow) and with the README's Argo CD health check. The
// entry reconcilers run with a resync and a wait period of an hour, so every state is
// reached through watches, not by looking again later.

// kstatusWait is what waitKstatus checks of the object's status besides its kstatus status.
type kstatusWait struct {
	// reason of the Ready condition.
	reason string
	// inMessage must be in the Ready condition's message (a field path, for a stall).
	inMessage string
}

// waitKstatus waits until obj, read from the API server, computes want with kstatus, and
// its Ready condition has the reason (when given). At that point the conditions must follow
// the operator's rules: observedGeneration current, exactly one of Ready, Reconciling and
// Stalled True, and the README's Argo CD health check agreeing with kstatus.
func waitKstatus(t *testing.T, c client.Client, scripts map[string]string, obj client.Object, want status.Status, w kstatusWait) *unstructured.Unstructured {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	key := client.ObjectKeyFromObject(obj)
	var res *status.Result
	eventually(t, fmt.Sprintf("%s %s to be %s (Ready reason %q)", gvk.Kind, key.Name, want, w.reason), func() error {
		if err := c.Get(context.Background(), key, u); err != nil {
			return err
		}
		res, err = status.Compute(u)
		if err != nil {
			return err
		}
		if res.Status != want {
			return fmt.Errorf("kstatus %s: %s", res.Status, res.Message)
		}
		if w.reason != "" {
			ready := readyOf(t, u)
			if ready == nil || ready.Reason != w.reason {
				return fmt.Errorf("Ready condition %+v", ready)
			}
		}
		return nil
	})
	checkHealthAgrees(t, scripts, u)
	checkConditionRules(t, u, want)
	if w.inMessage != "" {
		if msg := readyOf(t, u).Message; !strings.Contains(msg, w.inMessage) {
			t.Errorf("%s %s: Ready message %q does not contain %q", gvk.Kind, key.Name, msg, w.inMessage)
		}
	}
	return u
}

func conditionsOf(t *testing.T, u *unstructured.Unstructured) []metav1.Condition {
	t.Helper()
	var obj struct {
		Status struct {
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Status.Conditions
}

func readyOf(t *testing.T, u *unstructured.Unstructured) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(conditionsOf(t, u), authlyv1.ConditionReady)
}

// checkConditionRules holds the status against the rules the operator promises (README,
// "Status and GitOps"): observedGeneration current, exactly one of Ready, Reconciling and
// Stalled True, the other two of Reconciling and Stalled absent, Ready's reason that of the
// True one, and each condition at the current generation.
func checkConditionRules(t *testing.T, u *unstructured.Unstructured, st status.Status) {
	t.Helper()
	what := u.GetKind() + " " + u.GetName()
	og, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if !found || og != u.GetGeneration() {
		t.Errorf("%s: observedGeneration %d (found %v), generation %d", what, og, found, u.GetGeneration())
	}
	conds := conditionsOf(t, u)
	ready := meta.FindStatusCondition(conds, authlyv1.ConditionReady)
	reconciling := meta.FindStatusCondition(conds, authlyv1.ConditionReconciling)
	stalled := meta.FindStatusCondition(conds, authlyv1.ConditionStalled)
	if ready == nil {
		t.Fatalf("%s: no Ready condition in %+v", what, conds)
	}
	for _, c := range []*metav1.Condition{ready, reconciling, stalled} {
		if c != nil && c.ObservedGeneration != u.GetGeneration() {
			t.Errorf("%s: condition %s at generation %d, object at %d", what, c.Type, c.ObservedGeneration, u.GetGeneration())
		}
	}
	for _, c := range []*metav1.Condition{reconciling, stalled} {
		if c != nil && c.Status != metav1.ConditionTrue {
			t.Errorf("%s: condition %s present as %s; it is present only while True", what, c.Type, c.Status)
		}
	}
	var want *metav1.Condition
	switch st {
	case status.CurrentStatus:
		if ready.Status != metav1.ConditionTrue || reconciling != nil || stalled != nil {
			t.Errorf("%s: Current with Ready %s, Reconciling %v, Stalled %v", what, ready.Status, reconciling, stalled)
		}
		return
	case status.InProgressStatus:
		want = reconciling
		if stalled != nil {
			t.Errorf("%s: InProgress with Stalled %+v", what, stalled)
		}
	case status.FailedStatus:
		want = stalled
		if reconciling != nil {
			t.Errorf("%s: Failed with Reconciling %+v", what, reconciling)
		}
	}
	if want == nil {
		t.Fatalf("%s: %s without its condition: %+v", what, st, conds)
	}
	if ready.Status != metav1.ConditionFalse || ready.Reason != want.Reason || ready.Message != want.Message {
		t.Errorf("%s: Ready %s %s %q, want False with %s's reason %s and message", what, ready.Status, ready.Reason, ready.Message, want.Type, want.Reason)
	}
}

// OAuthClients and Scopes: in progress while their AuthServer is missing or its database is
// not ready, current once registered, failed on an impossible spec or a Secret of someone
// else, and current again once the spec is corrected; each state through watches.
func TestStatusKstatusOAuthClientAndScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scripts := argoHealthScripts(t)

	// Before the operator has seen it, a new object is in progress: the CRD defaults
	// status.observedGeneration to 0.
	early := f.newOAuthClient("early", nil)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(authlyv1.GroupVersion.WithKind("OAuthClient"))
	if err := f.c.Get(context.Background(), f.key("early"), u); err != nil {
		t.Fatal(err)
	}
	if res := checkHealthAgrees(t, scripts, u); res.Status != status.InProgressStatus {
		t.Errorf("an OAuthClient the operator has not seen: kstatus %s (%s), want InProgress; status %v", res.Status, res.Message, u.Object["status"])
	}

	f.start(operator{ResyncPeriod: time.Hour, ServerWaitPeriod: time.Hour})

	// The AuthServer does not exist yet (GitOps applies in any order): in progress.
	waitKstatus(t, f.c, scripts, early, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonAuthServerNotFound, inMessage: "spec.authServerRef.name"})
	scope := f.newScope("early-scope", "orders:read", nil)
	waitKstatus(t, f.c, scripts, scope, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonAuthServerNotFound})

	// It exists, its database is not migrated yet: still in progress.
	f.addServer(false)
	waitKstatus(t, f.c, scripts, early, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonAuthServerNotReady})
	waitKstatus(t, f.c, scripts, scope, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonAuthServerNotReady})

	// Its database is ready: both are registered.
	f.setDatabaseReady()
	waitKstatus(t, f.c, scripts, early, status.CurrentStatus, kstatusWait{reason: authlyv1.ReasonSynced})
	waitKstatus(t, f.c, scripts, scope, status.CurrentStatus, kstatusWait{reason: authlyv1.ReasonSynced})

	// An impossible spec: failed, naming the field; corrected: current.
	bad := f.newOAuthClient("bad", func(oc *authlyv1.OAuthClient) {
		oc.Spec.RedirectURIs = []string{"http://bad.team-a.example.com/callback"}
	})
	waitKstatus(t, f.c, scripts, bad, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonInvalidSpec, inMessage: "spec.redirectUris[0]"})
	f.updateOAuthClient("bad", func(oc *authlyv1.OAuthClient) {
		oc.Spec.RedirectURIs = []string{"https://bad.team-a.example.com/callback"}
	})
	waitKstatus(t, f.c, scripts, bad, status.CurrentStatus, kstatusWait{reason: authlyv1.ReasonSynced})

	badScope := f.newScope("long", strings.Repeat("s", 201), nil)
	waitKstatus(t, f.c, scripts, badScope, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonInvalidSpec, inMessage: "spec.name"})

	// A Secret of someone else, without credentials, under the name the client asks for.
	create(t, f.c, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "theirs"},
		Data:       map[string][]byte{"note": []byte("not for the operator")},
	})
	taken := f.newOAuthClient("taken", func(oc *authlyv1.OAuthClient) { oc.Spec.SecretName = "theirs" })
	waitKstatus(t, f.c, scripts, taken, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonSecretConflict, inMessage: "spec.secretName"})
	f.updateOAuthClient("taken", func(oc *authlyv1.OAuthClient) { oc.Spec.SecretName = "taken-credentials" })
	waitKstatus(t, f.c, scripts, taken, status.CurrentStatus, kstatusWait{reason: authlyv1.ReasonSynced})
}

// AuthServers: in progress until the rollout is complete, current then, failed when the
// connection budget cannot hold minReplicas or the rollout passes its deadline, in progress
// (not failed) while the database is unreachable.
func TestStatusKstatusAuthServer(t *testing.T) {
	c, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, c)
	scripts := argoHealthScripts(t)
	ctx := context.Background()

	early := newAuthServer(ns, "main", func(as *authlyv1.AuthServer) { as.Spec.Replicas = ptr.To[int32](2) })
	create(t, c, early)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(authlyv1.GroupVersion.WithKind("AuthServer"))
	if err := c.Get(ctx, client.ObjectKeyFromObject(early), u); err != nil {
		t.Fatal(err)
	}
	if res := checkHealthAgrees(t, scripts, u); res.Status != status.InProgressStatus {
		t.Errorf("an AuthServer the operator has not seen: kstatus %s (%s), want InProgress", res.Status, res.Message)
	}

	c = startAuthServerController(t, ns, &controllers.AuthServerReconciler{Clock: clocktesting.NewFakeClock(time.Now())})
	// The database Secret does not exist yet: in progress, waiting for it.
	waitKstatus(t, c, scripts, early, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonDatabaseSecretNotFound})
	newDatabaseSecret(t, c, ns, "authly-db", "url", storetest.URL(t))
	// No pods in envtest: the Deployment is there, its replicas are not available.
	waitKstatus(t, c, scripts, early, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonDeploymentUnavailable})
	key := client.ObjectKeyFromObject(early)
	setDeploymentAvailable(t, c, key)
	waitKstatus(t, c, scripts, early, status.CurrentStatus, kstatusWait{reason: authlyv1.ReasonDeploymentAvailable})

	// A rollout that passes its progress deadline: failed.
	var dep appsv1.Deployment
	if err := c.Get(ctx, key, &dep); err != nil {
		t.Fatal(err)
	}
	dep.Status.Conditions = []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
		Message: `ReplicaSet "main-5d8f" has timed out progressing.`,
	}}
	if err := c.Status().Update(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	waitKstatus(t, c, scripts, early, status.FailedStatus, kstatusWait{reason: "ProgressDeadlineExceeded", inMessage: "timed out"})

	// A connection budget that cannot give minReplicas and a surge pod the smallest pool:
	// failed, naming the field; raised: in progress towards the rollout.
	budgetDB := "budget-db"
	newDatabaseSecret(t, c, ns, budgetDB, "url", storetest.URL(t))
	tight := newAuthServer(ns, "tight", func(as *authlyv1.AuthServer) {
		as.Spec.Database.SecretRef.Name = budgetDB
		as.Spec.Database.MaxConnections = 14
		as.Spec.Capacity = &authlyv1.CapacitySpec{ExpectedDailyRequests: 1_000_000, MinReplicas: 2, MaxReplicas: 4}
	})
	create(t, c, tight)
	waitKstatus(t, c, scripts, tight, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonInvalidSpec, inMessage: "spec.database.maxConnections"})
	eventually(t, "the budget raised", func() error {
		as := getAuthServer(t, c, client.ObjectKeyFromObject(tight))
		as.Spec.Database.MaxConnections = 100
		return c.Update(ctx, as)
	})
	waitKstatus(t, c, scripts, tight, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonDeploymentUnavailable})

	// An unreachable database is transient: in progress, never failed.
	newDatabaseSecret(t, c, ns, "down-db", "url", "postgres://authly:x@127.0.0.1:1/authly?connect_timeout=2&sslmode=disable")
	down := newAuthServer(ns, "down", func(as *authlyv1.AuthServer) { as.Spec.Database.SecretRef.Name = "down-db" })
	create(t, c, down)
	waitKstatus(t, c, scripts, down, status.InProgressStatus, kstatusWait{reason: authlyv1.ReasonDatabaseUnreachable})

	// A database at a schema newer than this operator knows: failed, a person upgrades.
	newerURL := storetest.URL(t)
	conn, err := pgx.Connect(ctx, newerURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", store.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	newDatabaseSecret(t, c, ns, "newer-db", "url", newerURL)
	newer := newAuthServer(ns, "newer", func(as *authlyv1.AuthServer) { as.Spec.Database.SecretRef.Name = "newer-db" })
	create(t, c, newer)
	waitKstatus(t, c, scripts, newer, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonMigrationFailed, inMessage: "spec.database.secretRef"})

	// The Secret for the generated key-encryption key belongs to someone else: failed.
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "someone-else"}}
	create(t, c, owner)
	create(t, c, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keyless-kek", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true),
		}}},
		Data: map[string][]byte{"key": []byte("theirs")},
	})
	newDatabaseSecret(t, c, ns, "keyless-db", "url", storetest.URL(t))
	keyless := newAuthServer(ns, "keyless", func(as *authlyv1.AuthServer) { as.Spec.Database.SecretRef.Name = "keyless-db" })
	create(t, c, keyless)
	waitKstatus(t, c, scripts, keyless, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonSecretConflict, inMessage: "spec.keyEncryptionKeySecretRef"})

	// A Service of that name that someone else made: failed, the operator does not take it.
	create(t, c, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "web", Port: 80}}},
	})
	newDatabaseSecret(t, c, ns, "taken-db", "url", storetest.URL(t))
	taken := newAuthServer(ns, "taken", func(as *authlyv1.AuthServer) { as.Spec.Database.SecretRef.Name = "taken-db" })
	create(t, c, taken)
	waitKstatus(t, c, scripts, taken, status.FailedStatus, kstatusWait{reason: authlyv1.ReasonResourceConflict, inMessage: "Service taken"})
}
