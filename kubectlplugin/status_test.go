/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// statusNamespace holds the status tests' AuthServers; the kubeconfig's context
// envtest-status selects it.
const statusNamespace = "plugin-status"

// statusNow is the clock of the status tests: an hour after the fixtures' conditions.
var statusNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// statusFixtures are AuthServers with the status the operator would give them, written
// through the status subresource.
func statusFixtures() []*authlyv1.AuthServer {
	at := func(minutesAgo int) metav1.Time {
		return metav1.NewTime(statusNow.Add(-time.Duration(minutesAgo) * time.Minute))
	}
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string, minutesAgo int) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: 1, LastTransitionTime: at(minutesAgo)}
	}
	endpoints := func(iss string) *authlyv1.Endpoints {
		return &authlyv1.Endpoints{
			Issuer: iss, Discovery: iss + "/.well-known/openid-configuration", Token: iss + "/api/v1/oauth/token",
			Authorize: iss + "/api/v1/oauth/authorize", JWKS: iss + "/.well-known/jwks.json", Userinfo: iss + "/oidc/userinfo",
			Introspection: iss + "/api/v1/oauth/introspect", Revocation: iss + "/api/v1/oauth/revoke",
		}
	}
	cpu := resource.MustParse("500m")
	return []*authlyv1.AuthServer{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: statusNamespace, Name: "main"},
			Spec: authlyv1.AuthServerSpec{
				Issuer: "https://auth.team-a.example.com",
				Database: authlyv1.DatabaseSpec{
					SecretRef:      authlyv1.DatabaseSecretRef{Name: "mydb-app", Key: "uri"},
					MaxConnections: 40,
				},
				Capacity: &authlyv1.CapacitySpec{
					ExpectedDailyRequests: 100000000, PeakMultiplier: "6", MaxReplicas: 30, CPUPerReplica: &cpu,
				},
			},
			Status: authlyv1.AuthServerStatus{
				ObservedGeneration: 1, Replicas: 5, ReadyReplicas: 4,
				Selector:              "app.kubernetes.io/instance=main,app.kubernetes.io/name=authly",
				DatabaseSchemaVersion: 12,
				Endpoints:             endpoints("https://auth.team-a.example.com"),
				Capacity: &authlyv1.CapacityStatus{
					AverageRPS: "1157.4", PeakRPS: "6944.4", CPUPerReplica: "0.5", CapacityPerReplicaRPS: "4556.1",
					PlannedReplicas: 3, Replicas: 5, ConnectionBudget: 30, PoolMinConns: 2, PoolMaxConns: 2,
					ObservedRPS: "15012.3", LastObserved: ptr.To(at(2)), LimitedBy: "connectionBudget",
					Message:         "peak 6944.4 rps at 4556.1 rps per replica (0.5 CPU) needs 2 serving + 1 failover replicas; planned 3 (bounds 2-14); pool 2-2 connections per pod for up to 15 pods within a budget of 30; the connection budget of 30 allows at most 14 replicas with 2 connections each, fewer than maxReplicas 30",
					LastEvaluated:   ptr.To(at(2)),
					Recommendations: []authlyv1.ReplicaRecommendation{{Replicas: 5, Time: at(2)}},
				},
				Conditions: []metav1.Condition{
					cond("Ready", metav1.ConditionTrue, "DeploymentAvailable", "4 of 5 replicas are ready", 60),
					cond("Progressing", metav1.ConditionTrue, "DeploymentProgressing", "rolling out to 5 replicas", 2),
					cond("Degraded", metav1.ConditionFalse, "DeploymentAvailable", "", 60),
					cond("DatabaseReady", metav1.ConditionTrue, "Migrated", "database at schema version 12", 90),
					cond("CapacityLimited", metav1.ConditionTrue, "ConnectionBudgetExhausted", "the connection budget of 30 allows at most 14 replicas", 2),
					cond("Stalled", metav1.ConditionFalse, "Reconciled", "", 90),
				},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: statusNamespace, Name: "fixed"},
			Spec: authlyv1.AuthServerSpec{
				Issuer:   "http://fixed.plugin-status.svc:8000",
				Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: "fixed-db"}},
				Replicas: ptr.To[int32](2),
			},
			Status: authlyv1.AuthServerStatus{
				ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 2, DatabaseSchemaVersion: 12,
				Endpoints: endpoints("http://fixed.plugin-status.svc:8000"),
				Capacity: &authlyv1.CapacityStatus{
					PlannedReplicas: 2, Replicas: 2, ConnectionBudget: 90, PoolMinConns: 2, PoolMaxConns: 20,
					Message: "2 replicas (spec.replicas); pool 2-20 connections per pod for up to 3 pods within a budget of 90",
				},
				Conditions: []metav1.Condition{
					cond("Ready", metav1.ConditionTrue, "DeploymentAvailable", "2 of 2 replicas are ready", 200),
					cond("DatabaseReady", metav1.ConditionTrue, "Migrated", "database at schema version 12", 300),
				},
			},
		},
		{
			// Just created: the operator has written no status yet.
			ObjectMeta: metav1.ObjectMeta{Namespace: statusNamespace, Name: "new"},
			Spec: authlyv1.AuthServerSpec{
				Issuer:   "https://new.example.com",
				Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: "new-db"}},
			},
		},
	}
}

func createStatusFixtures(t *testing.T) map[string]*authlyv1.AuthServer {
	t.Helper()
	c := testClient(t)
	ctx := context.Background()
	createNamespace(t, c, statusNamespace)
	out := map[string]*authlyv1.AuthServer{}
	for _, as := range statusFixtures() {
		status := as.Status
		if err := c.Create(ctx, as); err != nil {
			t.Fatal(err)
		}
		if status.Conditions != nil || status.Capacity != nil {
			as.Status = status
			if err := c.Status().Update(ctx, as); err != nil {
				t.Fatalf("status of %s: %v", as.Name, err)
			}
		}
		out[as.Name] = as
	}
	return out
}

// status shows what the operator wrote in status as tables (golden files), and the objects
// with -o json and -o yaml; the namespace comes from --namespace or the context, as in
// kubectl.
func TestStatus(t *testing.T) {
	fixtures := createStatusFixtures(t)
	clk := clocktesting.NewFakeClock(statusNow)

	golden(t, "status-main", mustRun(t, clk, "status", "main", "-n", statusNamespace).stdout)
	golden(t, "status-all", mustRun(t, clk, "status", "--namespace", statusNamespace).stdout)

	// The context's namespace, when there is no --namespace.
	if got := mustRun(t, clk, "status", "--context", "envtest-status").stdout; got != mustRun(t, clk, "status", "-n", statusNamespace).stdout {
		t.Errorf("--context envtest-status (namespace %s) printed something else than -n %s:\n%s", statusNamespace, statusNamespace, got)
	}
	// The current context has none: "default", which has no AuthServers.
	if got := mustRun(t, clk, "status").stdout; got != "No AuthServers in namespace default.\n" {
		t.Errorf("status in the default namespace printed %q", got)
	}

	// -o json: the object as the API server has it.
	var got authlyv1.AuthServer
	if err := json.Unmarshal([]byte(mustRun(t, clk, "status", "main", "-n", statusNamespace, "-o", "json").stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.APIVersion != "oauth.authly.dev/v1" || got.Kind != "AuthServer" || got.Name != "main" {
		t.Errorf("-o json: %s %s %s", got.APIVersion, got.Kind, got.Name)
	}
	if diff := cmp.Diff(fixtures["main"].Status, got.Status); diff != "" {
		t.Errorf("-o json status (-want +got):\n%s", diff)
	}
	// -o yaml without a name: a List of every AuthServer.
	var list struct {
		APIVersion string                `json:"apiVersion"`
		Kind       string                `json:"kind"`
		Items      []authlyv1.AuthServer `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(mustRun(t, clk, "status", "-n", statusNamespace, "-o", "yaml").stdout), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, as := range list.Items {
		names = append(names, as.Kind+"/"+as.Name)
		if diff := cmp.Diff(fixtures[as.Name].Status, as.Status); diff != "" {
			t.Errorf("-o yaml status of %s (-want +got):\n%s", as.Name, diff)
		}
	}
	if list.Kind != "List" || strings.Join(names, " ") != "AuthServer/fixed AuthServer/main AuthServer/new" {
		t.Errorf("-o yaml: %s with %v", list.Kind, names)
	}

	if r := run(t, t.Context(), clk, "status", "missing", "-n", statusNamespace); !apierrors.IsNotFound(r.err) {
		t.Errorf("status of a missing AuthServer: %v, want NotFound", r.err)
	}
	if r := run(t, t.Context(), clk, "status", "main", "-n", statusNamespace, "-o", "wide"); r.err == nil || !strings.Contains(r.err.Error(), "json, yaml") {
		t.Errorf("-o wide: %v, want an error naming json and yaml", r.err)
	}
}
