//go:build e2e

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/authly-dev/authly-operator/hack/node"
	"github.com/authly-dev/authly-operator/server/store"
)

// The scenarios run in order on one cluster, each building on the one before: the
// operator installed, an AuthServer serving, clients registered by a GitOps apply, then
// scaling, rollouts and faults under load. A scenario that cannot run because an earlier
// one failed fails too (it needs what the earlier one made).

const (
	ns             = "e2e"
	authServerName = "authly"
	leaseName      = "authly-operator-lock.authly.dev"
)

// The operator runs with only the RBAC that config/ grants, its pod passes the restricted
// Pod Security Standard, and it holds the leader election lease.
func TestInstall(t *testing.T) {
	c := env.cluster
	pods, err := c.Client.CoreV1().Pods(node.OperatorNamespace).List(env.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d operator pods, want 1", len(pods.Items))
	}
	pod := pods.Items[0]
	if !podReady(&pod) {
		t.Fatalf("operator pod %s not Ready: %+v", pod.Name, pod.Status.Conditions)
	}
	if img := pod.Spec.Containers[0].Image; img != env.image {
		t.Errorf("operator image %q, want %q (set by the chart's image values)", img, env.image)
	}
	nsObj, err := c.Client.CoreV1().Namespaces().Get(env.ctx, node.OperatorNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nsObj.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s labels %v: the operator must run under the restricted standard", nsObj.Name, nsObj.Labels)
	}
	eventually(t, time.Minute, "the operator holds the lease", func() error {
		lease, err := c.Client.CoordinationV1().Leases(node.OperatorNamespace).Get(env.ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return leaseHeldBy(lease, pod.Name)
	})
}

func leaseHeldBy(lease *coordinationv1.Lease, pod string) error {
	if lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, pod+"_") {
		return fmt.Errorf("lease held by %v, want pod %s", lease.Spec.HolderIdentity, pod)
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// An AuthServer runs: its Deployment's pods pass their probes, its Service routes, its
// PodDisruptionBudget exists, and discovery and a token come through the ClusterIP.
func TestAuthServer(t *testing.T) {
	c := env.cluster
	if err := c.CreateNamespace(env.ctx, ns); err != nil {
		t.Fatal(err)
	}
	// Two replicas, small enough for the node; the per-client token limit out of the way of
	// the load the scenarios send.
	if err := c.ApplyAuthServer(env.ctx, env.pg, ns, authServerName, "authly_e2e", `  replicas: 2
  rateLimits: {tokenPerClientPerSecond: 100000, tokenPerIPPerSecond: 100000}
  resources:
    requests: {cpu: 50m, memory: 64Mi}
    limits: {memory: 256Mi}
`); err != nil {
		t.Fatal(err)
	}

	if err := c.WaitRollout(env.ctx, ns, authServerName, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "AuthServer Ready", func() error { return conditionTrue(t, "authserver", authServerName, "Ready") })
	var as struct {
		Status struct {
			ReadyReplicas int32 `json:"readyReplicas"`
			Endpoints     struct {
				Issuer, Token, Discovery, JWKS string
			} `json:"endpoints"`
		} `json:"status"`
	}
	eventually(t, time.Minute, "status.readyReplicas 2", func() error {
		if err := getJSON(t, &as, "-n", ns, "authserver", authServerName); err != nil {
			return err
		}
		if as.Status.ReadyReplicas != 2 {
			return fmt.Errorf("readyReplicas %d", as.Status.ReadyReplicas)
		}
		return nil
	})
	a := newAuthServer(t, ns, authServerName)
	if as.Status.Endpoints.Issuer != a.issuer || as.Status.Endpoints.Token != a.issuer+"/api/v1/oauth/token" {
		t.Errorf("status.endpoints %+v, want the issuer %s", as.Status.Endpoints, a.issuer)
	}

	dep, err := c.Client.AppsV1().Deployments(ns).Get(env.ctx, authServerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != env.image {
		t.Errorf("server image %q, want the operator's own %q", img, env.image)
	}
	if _, err := c.Client.PolicyV1().PodDisruptionBudgets(ns).Get(env.ctx, authServerName, metav1.GetOptions{}); err != nil {
		t.Errorf("PodDisruptionBudget: %v", err)
	}
	pods := serverPods(t)
	if len(pods) != 2 {
		t.Errorf("%d server pods, want 2", len(pods))
	}
	for _, p := range pods {
		if !podReady(&p) {
			t.Errorf("pod %s not Ready", p.Name)
		}
	}

	// Discovery through the Service, as a relying party reads it, once kube-proxy has
	// learnt of the new Service's endpoints (it answers "connection refused" until then).
	var provider *oidc.Provider
	eventually(t, 30*time.Second, "discovery through the Service's ClusterIP "+a.clusterIP, func() (err error) {
		provider, err = oidc.NewProvider(a.ctx(), a.issuer)
		return err
	})
	var meta struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.TokenEndpoint != a.issuer+"/api/v1/oauth/token" {
		t.Errorf("discovery token_endpoint %q (%v)", meta.TokenEndpoint, err)
	}
	// And a token for a client registered the ordinary way.
	kubectl(t, fmt.Sprintf(`apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: probe, namespace: %s}
spec:
  authServerRef: {name: %s}
  grantTypes: [client_credentials]
`, ns, authServerName), "apply", "-f", "-")
	eventually(t, time.Minute, "OAuthClient probe Ready", func() error { return conditionTrue(t, "oauthclient", "probe", "Ready") })
	tok, err := clientCredentials(credentials(t, ns, "probe-oauth")).Token(a.ctx())
	if err != nil {
		t.Fatalf("token through the Service: %v", err)
	}
	if _, err := provider.VerifierContext(a.ctx(), &oidc.Config{SkipClientIDCheck: true}).Verify(a.ctx(), tok.AccessToken); err != nil {
		t.Errorf("access token does not verify against the JWKS: %v", err)
	}
}

func conditionTrue(t *testing.T, kind, name, cond string) error {
	t.Helper()
	var obj struct {
		Metadata struct {
			Generation int64 `json:"generation"`
		} `json:"metadata"`
		Status struct {
			ObservedGeneration int64              `json:"observedGeneration"`
			Conditions         []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if err := getJSON(t, &obj, "-n", ns, kind, name); err != nil {
		return err
	}
	for _, c := range obj.Status.Conditions {
		if c.Type == cond {
			if c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s %s: %s is %s: %s: %s", kind, name, cond, c.Status, c.Reason, c.Message)
			}
			if c.ObservedGeneration != 0 && c.ObservedGeneration != obj.Metadata.Generation {
				return fmt.Errorf("%s %s: %s describes generation %d of %d", kind, name, cond, c.ObservedGeneration, obj.Metadata.Generation)
			}
			return nil
		}
	}
	return fmt.Errorf("%s %s has no %s condition", kind, name, cond)
}

func serverPods(t *testing.T) []corev1.Pod {
	t.Helper()
	pods, err := env.cluster.Client.CoreV1().Pods(ns).List(env.ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=authly,app.kubernetes.io/instance=" + authServerName})
	if err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// The GitOps manifests: two scopes and two clients, as a team keeps them in a repository.
var gitopsFiles = map[string]string{
	"scope-orders-read.yaml": `apiVersion: oauth.authly.dev/v1
kind: Scope
metadata: {name: orders-read, namespace: e2e}
spec: {authServerRef: {name: authly}, name: "orders:read", description: Read orders}
`,
	"scope-orders-write.yaml": `apiVersion: oauth.authly.dev/v1
kind: Scope
metadata: {name: orders-write, namespace: e2e}
spec: {authServerRef: {name: authly}, name: "orders:write", description: Write orders}
`,
	"client-orders-worker.yaml": `apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: orders-worker, namespace: e2e}
spec:
  authServerRef: {name: authly}
  clientId: orders-worker
  grantTypes: [client_credentials]
  scopes: ["orders:read"]
`,
	"client-reports.yaml": `apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: reports, namespace: e2e}
spec:
  authServerRef: {name: authly}
  clientId: reports
  grantTypes: [client_credentials]
  scopes: ["orders:read"]
`,
}

// gitopsApply applies the directory as a GitOps tool does: server-side, under its own
// field manager, pruning what left the directory (kubectl's ApplySet).
func gitopsApply(t *testing.T, dir string) {
	t.Helper()
	out, err := env.cluster.Kubectl(env.ctx, nil, "apply", "--server-side", "--field-manager=gitops", "--prune", "--applyset=configmap/e2e-gitops", "-n", ns, "-f", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply: %s", strings.TrimSpace(out))
}

func writeGitopsDir(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Clients and scopes registered by a GitOps apply get their Secrets; an application pod
// mounting its Secret gets and checks a token; the operator never fights the GitOps tool
// (no diff after it settles, no spec field owned by it, generation unchanged); an edit is
// followed; a client pruned from the directory is deleted and its tokens go inactive.
func TestGitOpsRegistration(t *testing.T) {
	a := newAuthServer(t, ns, authServerName)
	dir := t.TempDir()
	writeGitopsDir(t, dir, gitopsFiles)
	gitopsApply(t, dir)
	for _, name := range []string{"orders-worker", "reports"} {
		eventually(t, time.Minute, "OAuthClient "+name+" Ready", func() error { return conditionTrue(t, "oauthclient", name, "Ready") })
	}
	for _, name := range []string{"orders-read", "orders-write"} {
		eventually(t, time.Minute, "Scope "+name+" Ready", func() error { return conditionTrue(t, "scope", name, "Ready") })
	}

	// The application: a pod mounting the Secret, reaching the issuer's host name (no DNS
	// on this node: a host alias gives it the Service's ClusterIP).
	runClientPod(t, a, "orders-worker-app", "orders-worker-oauth", "orders:read")

	// The operator never writes spec: generation stays 1, only gitops owns spec fields.
	for _, obj := range []string{"oauthclient/orders-worker", "oauthclient/reports", "scope/orders-read", "scope/orders-write"} {
		checkOnlyApplierOwnsSpec(t, obj)
	}
	out, err := env.cluster.Kubectl(env.ctx, nil, "diff", "--server-side", "--field-manager=gitops", "-n", ns, "-f", withApplySetLabel(t, dir))
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("kubectl diff --server-side after the operator settled: %v\n%s", err, out)
	}

	// An edit of the scopes is followed.
	edited := maps.Clone(gitopsFiles)
	edited["client-orders-worker.yaml"] = strings.Replace(edited["client-orders-worker.yaml"], `scopes: ["orders:read"]`, `scopes: ["orders:read", "orders:write"]`, 1)
	writeGitopsDir(t, dir, edited)
	gitopsApply(t, dir)
	worker := credentials(t, ns, "orders-worker-oauth")
	eventually(t, time.Minute, "orders:write granted after the edit", func() error {
		_, err := clientCredentials(worker, "orders:read", "orders:write").Token(a.ctx())
		return err
	})

	// Prune: reports leaves the directory.
	reports := credentials(t, ns, "reports-oauth")
	tok, err := clientCredentials(reports, "orders:read").Token(a.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if active := introspect(t, a, worker, tok.AccessToken); !active {
		t.Fatal("the reports token is not active before the prune")
	}
	delete(edited, "client-reports.yaml")
	writeGitopsDir(t, dir, edited)
	gitopsApply(t, dir)
	eventually(t, time.Minute, "OAuthClient reports deleted", func() error {
		if _, err := env.cluster.Kubectl(env.ctx, nil, "-n", ns, "get", "oauthclient", "reports"); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	eventually(t, 30*time.Second, "the pruned client's token inactive", func() error {
		if introspect(t, a, worker, tok.AccessToken) {
			return fmt.Errorf("still active")
		}
		return nil
	})
	if _, err := clientCredentials(reports).Token(a.ctx()); err == nil {
		t.Error("the pruned client still gets tokens")
	}
	// The Secret is owned by the OAuthClient: the garbage collector removes it.
	eventually(t, time.Minute, "the pruned client's Secret deleted", func() error {
		if _, err := env.cluster.Client.CoreV1().Secrets(ns).Get(env.ctx, "reports-oauth", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	checkOnlyApplierOwnsSpec(t, "oauthclient/orders-worker")
}

// withApplySetLabel copies the manifests of dir with the label kubectl's ApplySet adds to
// what it applies, so that kubectl diff (which knows no ApplySet) compares like with like.
func withApplySetLabel(t *testing.T, dir string) string {
	t.Helper()
	cm, err := env.cluster.Client.CoreV1().ConfigMaps(ns).Get(env.ctx, "e2e-gitops", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := cm.Labels["applyset.kubernetes.io/id"]
	if id == "" {
		t.Fatalf("the ApplySet parent has no id label: %v", cm.Labels)
	}
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		labelled := strings.Replace(string(b), "metadata: {", "metadata: {labels: {applyset.kubernetes.io/part-of: "+id+"}, ", 1)
		if err := os.WriteFile(filepath.Join(out, e.Name()), []byte(labelled), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkOnlyApplierOwnsSpec asserts that no manager but gitops owns a field under obj's spec,
// and that its status describes the generation the GitOps apply left.
func checkOnlyApplierOwnsSpec(t *testing.T, obj string) {
	t.Helper()
	var u unstructured.Unstructured
	if err := getJSON(t, &u.Object, "-n", ns, "--show-managed-fields", obj); err != nil {
		t.Fatal(err)
	}
	for _, mf := range u.GetManagedFields() {
		if mf.FieldsV1 == nil || mf.Manager == "gitops" {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["f:spec"]; ok {
			t.Errorf("%s: manager %q (%s) owns spec fields: %s", obj, mf.Manager, mf.Operation, mf.FieldsV1.GetRawBytes())
		}
	}
	var gen struct {
		Metadata struct {
			Generation int64 `json:"generation"`
		} `json:"metadata"`
		Status struct {
			ObservedGeneration int64 `json:"observedGeneration"`
		} `json:"status"`
	}
	if err := getJSON(t, &gen, "-n", ns, obj); err != nil {
		t.Fatal(err)
	}
	if gen.Status.ObservedGeneration != gen.Metadata.Generation {
		t.Errorf("%s: observedGeneration %d, generation %d", obj, gen.Status.ObservedGeneration, gen.Metadata.Generation)
	}
}

// runClientPod runs the test client image as a pod mounting secret, and waits for it to
// succeed.
func runClientPod(t *testing.T, a *authServer, name, secret, scope string) {
	t.Helper()
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  hostAliases: [{ip: %[3]q, hostnames: [%[4]q]}]
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: %[5]s
    imagePullPolicy: Never
    args: [--scope, %[6]q]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: oauth, mountPath: /var/run/oauth, readOnly: true}]
  volumes: [{name: oauth, secret: {secretName: %[7]s}}]
`, name, ns, a.clusterIP, a.host, env.client, scope, secret), "apply", "-f", "-")
	var phase corev1.PodPhase
	eventually(t, 2*time.Minute, "client pod "+name+" done", func() error {
		p, err := env.cluster.Client.CoreV1().Pods(ns).Get(env.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		phase = p.Status.Phase
		if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			return nil
		}
		return fmt.Errorf("phase %s", phase)
	})
	logs, _ := env.cluster.Kubectl(env.ctx, nil, "-n", ns, "logs", name)
	if phase != corev1.PodSucceeded || !strings.Contains(logs, `"ok":true`) {
		t.Fatalf("client pod %s: %s: %s", name, phase, logs)
	}
	t.Logf("client pod: %s", strings.TrimSpace(logs))
}

// introspect asks the server whether token is active, authenticating as creds.
func introspect(t *testing.T, a *authServer, creds map[string]string, token string) bool {
	t.Helper()
	req, err := http.NewRequestWithContext(env.ctx, http.MethodPost, a.issuer+"/api/v1/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(creds["client_id"]), url.QueryEscape(creds["client_secret"]))
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Active
}

// deployment reads the AuthServer's Deployment.
func deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := env.cluster.Client.AppsV1().Deployments(ns).Get(env.ctx, authServerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitReplicas waits until the Deployment wants n replicas and has rolled out to them.
func waitReplicas(t *testing.T, n int32) {
	t.Helper()
	eventually(t, 3*time.Minute, fmt.Sprintf("Deployment at %d ready replicas", n), func() error {
		d := deployment(t)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != n {
			return fmt.Errorf("spec.replicas %v", d.Spec.Replicas)
		}
		if d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != n || d.Status.ReadyReplicas != n || d.Status.Replicas != n {
			return fmt.Errorf("status %+v", d.Status)
		}
		return nil
	})
}

// Scaling from the declared load, and a rolling update, under a steady load through the
// ClusterIP: new pods serve, old ones drain, and no request fails.
func TestScalingAndRollout(t *testing.T) {
	a := newAuthServer(t, ns, authServerName)
	cc := clientCredentials(credentials(t, ns, "orders-worker-oauth"), "orders:read")
	capacity := func(daily int64) string {
		return fmt.Sprintf(`{"spec":{"replicas":null,"capacity":{"expectedDailyRequests":%d,"minReplicas":1,"maxReplicas":3,"failoverReplicas":0,"cpuPerReplica":"100m"}}}`, daily)
	}
	// Replicas mode: spec.replicas 2 -> 3 under load.
	l := startLoad(a, cc)
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p", `{"spec":{"replicas":3}}`)
	waitReplicas(t, 3)
	time.Sleep(3 * time.Second)
	checkLoad(t, "replicas 2 -> 3", l)

	// Capacity mode with a small declared load: one replica.
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p", capacity(1000))
	waitReplicas(t, 1)

	l = startLoad(a, cc)
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p", capacity(1_000_000_000))
	waitReplicas(t, 3)
	time.Sleep(3 * time.Second) // the new pods take their share of the load
	checkLoad(t, "scale-out 1 -> 3", l)

	l = startLoad(a, cc)
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p", capacity(1000))
	waitReplicas(t, 1)
	time.Sleep(3 * time.Second)
	checkLoad(t, "scale-in 3 -> 1", l)

	// A changed token TTL rolls the pods through the config hash.
	before := deployment(t).Spec.Template.Annotations["oauth.authly.dev/config-hash"]
	l = startLoad(a, cc)
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p", `{"spec":{"tokens":{"accessTokenTTL":"10m"}}}`)
	eventually(t, time.Minute, "the config hash changes", func() error {
		if deployment(t).Spec.Template.Annotations["oauth.authly.dev/config-hash"] == before {
			return fmt.Errorf("unchanged")
		}
		return nil
	})
	if err := env.cluster.WaitRollout(env.ctx, ns, authServerName, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	checkLoad(t, "rolling update (1 replica, surge 1)", l)
	tok, err := cc.Token(a.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if ttl := time.Until(tok.Expiry); ttl > 10*time.Minute+5*time.Second || ttl < 9*time.Minute {
		t.Errorf("token lifetime %s after the rollout, want 10m", ttl)
	}
}

// The plan follows the load the pods observe: a bounded load of discovery requests raises
// it (the declared load alone plans one replica), the Deployment follows, and after the
// load stops and the (shortened) stabilisation window passes, it comes back down.
func TestObservedLoad(t *testing.T) {
	a := newAuthServer(t, ns, authServerName)
	// 1m CPU per replica: a replica is planned for a few requests a second, so that the
	// little load this test may send is a lot.
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p",
		`{"spec":{"capacity":{"expectedDailyRequests":1000,"minReplicas":1,"maxReplicas":3,"failoverReplicas":0,"cpuPerReplica":"1m"}}}`)
	waitReplicas(t, 1)
	discovery := a.issuer + "/.well-known/openid-configuration"
	l := startRequests(a, 25, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, discovery, nil)
		if err != nil {
			return err
		}
		resp, err := a.http.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("discovery: %s", resp.Status)
		}
		return nil
	})
	start := time.Now()
	waitReplicas(t, 3)
	t.Logf("observed load raised the plan to 3 replicas in %s", time.Since(start).Round(time.Second))
	var as struct {
		Status struct {
			Capacity struct {
				ObservedRPS string `json:"observedRPS"`
				Message     string `json:"message"`
			} `json:"capacity"`
		} `json:"status"`
	}
	if err := getJSON(t, &as, "-n", ns, "authserver", authServerName); err != nil {
		t.Fatal(err)
	}
	t.Logf("status.capacity: observedRPS %s: %s", as.Status.Capacity.ObservedRPS, as.Status.Capacity.Message)
	checkLoad(t, "discovery load during the scale-out", l)
	stopped := time.Now()
	waitReplicas(t, 1)
	t.Logf("back to 1 replica %s after the load stopped", time.Since(stopped).Round(time.Second))
}

// Faults: a server pod deleted under load, the operator killed while it registers many
// clients, and Postgres restarted.
func TestFaults(t *testing.T) {
	a := newAuthServer(t, ns, authServerName)
	cc := clientCredentials(credentials(t, ns, "orders-worker-oauth"), "orders:read")
	kubectl(t, "", "-n", ns, "patch", "authserver", authServerName, "--type=merge", "-p",
		`{"spec":{"capacity":{"expectedDailyRequests":1000000000,"minReplicas":2,"maxReplicas":2}}}`)
	waitReplicas(t, 2)

	t.Run("server pod deleted under load", func(t *testing.T) {
		victim := serverPods(t)[0].Name
		l := startLoad(a, cc)
		time.Sleep(2 * time.Second)
		kubectl(t, "", "-n", ns, "delete", "pod", victim, "--wait=false")
		eventually(t, 2*time.Minute, "the pod replaced", func() error {
			pods := serverPods(t)
			ready := 0
			for _, p := range pods {
				if p.Name == victim {
					return fmt.Errorf("%s still there", victim)
				}
				if podReady(&p) {
					ready++
				}
			}
			if ready != 2 {
				return fmt.Errorf("%d ready", ready)
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		checkLoad(t, "server pod deleted", l)
	})

	t.Run("operator killed mid-reconcile", func(t *testing.T) {
		const n = 30
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, `---
apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: bulk-%02d, namespace: %s}
spec: {authServerRef: {name: %s}, clientId: bulk-%02d, grantTypes: [client_credentials], scopes: ["orders:read"]}
`, i, ns, authServerName, i)
		}
		old := operatorPod(t)
		kubectl(t, b.String(), "apply", "-f", "-")
		time.Sleep(500 * time.Millisecond)
		kubectl(t, "", "-n", node.OperatorNamespace, "delete", "pod", old, "--grace-period=0", "--force")
		eventually(t, 2*time.Minute, "a new operator pod holds the lease", func() error {
			pods, err := env.cluster.Client.CoreV1().Pods(node.OperatorNamespace).List(env.ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, p := range pods.Items {
				if p.Name != old && podReady(&p) {
					lease, err := env.cluster.Client.CoordinationV1().Leases(node.OperatorNamespace).Get(env.ctx, leaseName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					return leaseHeldBy(lease, p.Name)
				}
			}
			return fmt.Errorf("no new Ready operator pod")
		})
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("bulk-%02d", i)
			eventually(t, 2*time.Minute, name+" Ready", func() error { return conditionTrue(t, "oauthclient", name, "Ready") })
		}
		// One Secret each, and every client works with the secret in it.
		secrets, err := env.cluster.Client.CoreV1().Secrets(ns).List(env.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var bulk []string
		for _, s := range secrets.Items {
			if strings.HasPrefix(s.Name, "bulk-") {
				bulk = append(bulk, s.Name)
			}
		}
		slices.Sort(bulk)
		if len(bulk) != n || bulk[0] != "bulk-00-oauth" {
			t.Errorf("%d bulk Secrets, want %d: %v", len(bulk), n, bulk)
		}
		for i := 0; i < n; i++ {
			if _, err := clientCredentials(credentials(t, ns, fmt.Sprintf("bulk-%02d-oauth", i))).Token(a.ctx()); err != nil {
				t.Errorf("bulk-%02d: %v", i, err)
			}
		}
		// And the database holds each exactly once.
		st, err := store.Open(env.ctx, env.pg.URL("authly_e2e"), store.Options{MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		clients, err := st.ListClients(env.ctx, store.Page{After: "bulk-", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, cl := range clients {
			if strings.HasPrefix(cl.ID, "bulk-") {
				ids = append(ids, cl.ID)
			}
		}
		if len(ids) != n || ids[0] != "bulk-00" || ids[n-1] != fmt.Sprintf("bulk-%02d", n-1) {
			t.Errorf("the database holds %d bulk clients, want %d: %v", len(ids), n, ids)
		}
	})

	t.Run("Postgres restarted", func(t *testing.T) {
		restarts := podRestarts(t)
		env.pg.Stop()
		time.Sleep(3 * time.Second)
		if err := env.pg.Start(env.ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "tokens after the restart", func() error {
			_, err := cc.Token(a.ctx())
			return err
		})
		// A refresh of the clients' registrations goes through the database again.
		eventually(t, time.Minute, "the AuthServer Ready again", func() error { return conditionTrue(t, "authserver", authServerName, "Ready") })
		time.Sleep(15 * time.Second) // longer than a liveness period: a restart loop would show
		if after := podRestarts(t); after != restarts {
			t.Errorf("server containers restarted %d times across the Postgres restart", after-restarts)
		}
		for _, p := range serverPods(t) {
			if !podReady(&p) {
				t.Errorf("pod %s not Ready after the Postgres restart", p.Name)
			}
		}
	})
}

func operatorPod(t *testing.T) string {
	t.Helper()
	pods, err := env.cluster.Client.CoreV1().Pods(node.OperatorNamespace).List(env.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			return p.Name
		}
	}
	t.Fatal("no operator pod")
	return ""
}

func podRestarts(t *testing.T) int32 {
	t.Helper()
	var n int32
	for _, p := range serverPods(t) {
		for _, cs := range p.Status.ContainerStatuses {
			n += cs.RestartCount
		}
	}
	return n
}

// The operator ran with the RBAC of config/ alone: nothing it did was forbidden.
func TestOperatorNeededNoMoreRBAC(t *testing.T) {
	pod := operatorPod(t)
	logs, err := env.cluster.Kubectl(env.ctx, nil, "-n", node.OperatorNamespace, "logs", pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "forbidden") {
			t.Errorf("operator log: %s", line)
		}
	}
}
