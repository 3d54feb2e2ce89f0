//go:build e2e

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectl authly, run by kubectl as a plugin found on the PATH, against the AuthServer of
// TestAuthServer: the status of the running server, and a token through a port-forward to
// one of its pods (the issuer, a name of the cluster's DNS, cannot be reached from the
// host), checked by the server's introspection; then a rotation that the operator carries
// out, after which the new secret gets tokens.
func TestKubectlPlugin(t *testing.T) {
	dir := t.TempDir()
	build := exec.CommandContext(env.ctx, "go", "build", "-o", filepath.Join(dir, "kubectl-authly"), ".")
	build.Dir = env.repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build kubectl-authly: %v\n%s", err, out)
	}
	kubectlBin := filepath.Join(getenv("E2E_NODE_BIN", filepath.Join(env.repo, "bin", "node")), "kubectl")
	// kubectl takes no flags before a plugin's name: --kubeconfig goes after it, and the
	// plugin reads it as kubectl would.
	plugin := func(args ...string) (stdout, stderr string, err error) {
		cmd := exec.CommandContext(env.ctx, kubectlBin, append([]string{"authly"}, append(args, "--kubeconfig", env.cluster.Kubeconfig)...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	mustPlugin := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := plugin(args...)
		if err != nil {
			t.Fatalf("kubectl authly %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out, errOut
	}

	out, _ := mustPlugin("status", authServerName, "-n", ns)
	for _, want := range []string{"AuthServer:  " + ns + "/" + authServerName, "Schema version:", "Ready", "Token          http://authly.e2e.svc:8000/api/v1/oauth/token"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl authly status lacks %q:\n%s", want, out)
		}
	}

	kubectl(t, fmt.Sprintf(`apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: plugin-cli, namespace: %s}
spec:
  authServerRef: {name: %s}
  grantTypes: [client_credentials]
  secretRotationGracePeriod: 0s
`, ns, authServerName), "apply", "-f", "-")
	eventually(t, time.Minute, "OAuthClient plugin-cli Ready", func() error { return conditionTrue(t, "oauthclient", "plugin-cli", "Ready") })

	a := newAuthServer(t, ns, authServerName)
	token := func() string {
		t.Helper()
		out, errOut := mustPlugin("token", "plugin-cli", "-n", ns)
		if !strings.Contains(errOut, "port-forwarding to AuthServer "+authServerName) {
			t.Errorf("kubectl authly token did not port-forward (stderr %q)", errOut)
		}
		return strings.TrimSpace(out)
	}
	first := token()
	if !introspect(t, a, credentials(t, ns, "plugin-cli-oauth"), first) {
		t.Error("the token kubectl authly printed is not active at the server")
	}

	out, errOut := mustPlugin("token", "plugin-cli", "-n", ns, "--decode")
	var doc struct {
		Claims struct {
			Iss      string `json:"iss"`
			ClientID string `json:"client_id"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--decode: %v\n%s", err, out)
	}
	if doc.Claims.Iss != a.issuer || doc.Claims.ClientID != credentials(t, ns, "plugin-cli-oauth")["client_id"] {
		t.Errorf("--decode claims %+v, want iss %s and the client's id", doc.Claims, a.issuer)
	}
	if !strings.Contains(errOut, "signature verified with key ") {
		t.Errorf("--decode stderr %q: want the signature verified against the JWKS", errOut)
	}

	// A rotation without grace period: the operator issues the new secret, the old one
	// stops at once, and token gets a token with the new one.
	before := credentials(t, ns, "plugin-cli-oauth")
	out, _ = mustPlugin("rotate", "plugin-cli", "-n", ns)
	if !strings.Contains(out, "the previous secret stopped working at once (no grace period): the rotation is complete") {
		t.Errorf("kubectl authly rotate printed:\n%s", out)
	}
	after := credentials(t, ns, "plugin-cli-oauth")
	if after["client_secret"] == before["client_secret"] {
		t.Fatal("the rotation did not change the client secret")
	}
	if introspect(t, a, after, token()) != true {
		t.Error("a token got with the new secret is not active")
	}
	if _, err := clientCredentials(before).Token(a.ctx()); err == nil {
		t.Error("the previous secret still gets tokens after a rotation without grace period")
	}
}
