/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server"
)

// token gets a client_credentials token from a running Authly server with the credentials
// the real OAuthClient reconciler wrote into the client's Secret, through the issuer URL.
func TestToken(t *testing.T) {
	const ns = "plugin-token"
	k := newCluster(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = k.dbURL
	cfg.Issuer = ts.URL
	cfg.PoolMaxConns = 4
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Start(ctx)
	ts.Config.Handler = srv.Handler()

	k.startOperator(nil)
	k.addServer("authly", ts.URL)
	batch := k.addClient("batch", "authly", nil)
	k.addClient("poster", "authly", func(oc *authlyv1.OAuthClient) {
		oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodClientSecretPost
	})

	// The token printed is one the server issued to the client: it verifies against the
	// server's keys as a relying party checks it.
	r := mustRun(t, nil, "token", "batch", "-n", ns, "--scope", "orders:read")
	if r.stderr != "" {
		t.Errorf("stderr %q: nothing should be said on the direct way", r.stderr)
	}
	raw := strings.TrimSuffix(r.stdout, "\n")
	provider, err := oidc.NewProvider(ctx, ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.VerifierContext(ctx, &oidc.Config{SkipClientIDCheck: true}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("the token printed does not verify: %v\n%q", err, r.stdout)
	}
	var claims struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Issuer != ts.URL || idt.Subject != batch.Status.ClientID || claims.ClientID != batch.Status.ClientID || claims.Scope != "orders:read" {
		t.Errorf("token iss %s sub %s client_id %s scope %q, want %s, client %s, orders:read", idt.Issuer, idt.Subject, claims.ClientID, claims.Scope, ts.URL, batch.Status.ClientID)
	}

	// --decode: the header and claims, after checking the signature against the JWKS.
	r = mustRun(t, nil, "token", "poster", "-n", ns, "--decode", "--scope", "orders:read,orders:write")
	var doc struct {
		Header map[string]any `json:"header"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--decode printed no JSON: %v\n%s", err, r.stdout)
	}
	poster := k.waitReady("poster")
	if doc.Header["typ"] != "at+jwt" || doc.Header["alg"] != "ES256" || doc.Header["kid"] == nil {
		t.Errorf("header %v", doc.Header)
	}
	if doc.Claims["iss"] != ts.URL || doc.Claims["client_id"] != poster.Status.ClientID || doc.Claims["scope"] != "orders:read orders:write" || doc.Claims["exp"] == nil {
		t.Errorf("claims %v", doc.Claims)
	}
	if want := "signature verified with key " + doc.Header["kid"].(string) + " of " + ts.URL + "/.well-known/jwks.json\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}

	// The server's refusal is reported, not taken for an unreachable issuer.
	r = run(t, ctx, nil, "token", "batch", "-n", ns, "--scope", "admin:clients:write")
	if r.err == nil || !strings.Contains(r.err.Error(), "invalid_scope") || strings.Contains(r.stderr, "port-forward") {
		t.Errorf("a scope the client may not have: error %v, stderr %q", r.err, r.stderr)
	}
}

// When the issuer cannot be reached from here, token port-forwards to a Ready pod of the
// AuthServer's Service. envtest has no kubelet, hence no pods: what is checked here is the
// way there (test/e2e/plugin_test.go gets a token through a real port-forward).
func TestTokenUnreachableIssuer(t *testing.T) {
	const ns = "plugin-token-away"
	k := newCluster(t, ns)
	k.startOperator(nil)
	k.addServer("away", "http://127.0.0.1:1") // nothing listens on port 1
	k.addClient("batch", "away", nil)
	k.addClient("spa", "away", func(oc *authlyv1.OAuthClient) {
		oc.Spec.Type = authlyv1.ClientPublic
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantAuthorizationCode}
		oc.Spec.RedirectURIs = []string{"https://spa.example.com/cb"}
		oc.Spec.Scopes = nil
	})
	ctx := context.Background()

	r := run(t, ctx, nil, "token", "batch", "-n", ns)
	if !strings.HasPrefix(r.stderr, "http://127.0.0.1:1/api/v1/oauth/token is not reachable from here (") ||
		!strings.HasSuffix(r.stderr, "): port-forwarding to AuthServer away\n") {
		t.Errorf("stderr %q: want the fallback to a port-forward announced", r.stderr)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), `the Service of AuthServer away: services "away" not found`) {
		t.Errorf("without the Service: %v", r.err)
	}

	// The Service the AuthServer reconciler makes, but no pod is Ready behind it.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "away"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": "authly", "app.kubernetes.io/instance": "away"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")}},
		},
	}
	if err := k.c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{}, {"--via", "port-forward"}} {
		r = run(t, ctx, nil, append([]string{"token", "batch", "-n", ns}, args...)...)
		if r.err == nil || r.err.Error() != "no Ready pod behind Service plugin-token-away/away (0 pods) to port-forward to" {
			t.Errorf("token %v without a Ready pod: %v", args, r.err)
		}
	}
	// --via issuer never port-forwards.
	r = run(t, ctx, nil, "token", "batch", "-n", ns, "--via", "issuer")
	if r.err == nil || !strings.Contains(r.err.Error(), "connection refused") || r.stderr != "" {
		t.Errorf("--via issuer: error %v, stderr %q", r.err, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"spa"}, "OAuthClient spa is a public client: client_credentials is for confidential clients"},
		{[]string{"batch", "--via", "carrier-pigeon"}, `--via "carrier-pigeon": want auto, issuer or port-forward`},
		{[]string{"missing"}, `"missing" not found`},
	} {
		r := run(t, ctx, nil, append([]string{"token", "-n", ns}, tc.args...)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("token %v: error %v, want one containing %q", tc.args, r.err, tc.want)
		}
	}
}
