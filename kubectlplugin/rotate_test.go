/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// rotate asks the real OAuthClient reconciler for a new secret, follows it until the new
// secret is live, and waits for the grace period on its clock.
func TestRotate(t *testing.T) {
	const ns = "plugin-rotate"
	k := newCluster(t, ns)
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	k.startOperator(clk)
	k.addServer("authly", "https://auth.example.com")
	k.addClient("batch", "authly", nil)
	st, err := store.Open(context.Background(), k.dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	first := string(k.secret("batch-oauth").Data["client_secret"])

	// --grace 1h: the command waits until the previous secret expires, an hour later on
	// the clock that the operator's grace period is counted on too.
	done := make(chan result, 1)
	go func() { done <- run(t, context.Background(), clk, "rotate", "batch", "-n", ns, "--grace", "1h") }()
	eventually(t, "rotate waiting for the grace period", func() error {
		select {
		case r := <-done:
			t.Fatalf("rotate ended before the grace period: %v\n%s%s", r.err, r.stdout, r.stderr)
		default:
		}
		if !clk.HasWaiters() {
			return errors.New("not waiting on the clock yet")
		}
		return nil
	})
	var oc authlyv1.OAuthClient
	if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "batch"}, &oc); err != nil {
		t.Fatal(err)
	}
	wantExpiry := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	if oc.Status.PreviousSecretExpiresAt == nil || !oc.Status.PreviousSecretExpiresAt.Time.Equal(wantExpiry) {
		t.Errorf("status.previousSecretExpiresAt %v, want %v (--grace 1h, not the spec's 24h)", oc.Status.PreviousSecretExpiresAt, wantExpiry)
	}
	if got := oc.Annotations; got[authlyv1.RotateSecretAnnotation] != "2026-03-01T12:00:00Z" || got[authlyv1.RotateSecretGracePeriodAnnotation] != "1h0m0s" {
		t.Errorf("annotations %v", got)
	}
	second := string(k.secret("batch-oauth").Data["client_secret"])
	row, err := st.GetClient(context.Background(), oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !credentials.SecretMatches(second, row.SecretHash) || !credentials.SecretMatches(first, row.PreviousSecretHash) || !row.PreviousSecretExpiresAt.Equal(wantExpiry) {
		t.Errorf("database: the new secret must be current and the first one previous until %v (got %v)", wantExpiry, row.PreviousSecretExpiresAt)
	}

	clk.Step(time.Hour)
	r := <-done
	if r.err != nil {
		t.Fatalf("rotate: %v\n%s", r.err, r.stderr)
	}
	want := `asked for a new client secret for OAuthClient plugin-rotate/batch (oauth.authly.dev/rotate-secret=2026-03-01T12:00:00Z), grace period 1h0m0s
the new secret is in Secret batch-oauth and the server accepts it (credentials version 2)
the previous secret stays valid until 2026-03-01T13:00:00Z (1h0m0s from now): waiting (Ctrl-C stops waiting; the rotation is done either way)
the previous secret stopped working at 2026-03-01T13:00:00Z: the rotation is complete
`
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("rotate --grace 1h printed (-want +got):\n%s", diff)
	}

	// Without --grace, the spec's grace period (the CRD's default 24h); --no-wait-grace
	// ends once the new secret is live.
	r = mustRun(t, clk, "rotate", "batch", "-n", ns, "--no-wait-grace")
	want = `asked for a new client secret for OAuthClient plugin-rotate/batch (oauth.authly.dev/rotate-secret=2026-03-01T13:00:00Z), grace period 24h0m0s (spec.secretRotationGracePeriod)
the new secret is in Secret batch-oauth and the server accepts it (credentials version 3)
the previous secret stays valid until 2026-03-02T13:00:00Z (24h0m0s from now): not waiting (--no-wait-grace)
`
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("rotate --no-wait-grace printed (-want +got):\n%s", diff)
	}
	if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "batch"}, &oc); err != nil {
		t.Fatal(err)
	}
	if _, ok := oc.Annotations[authlyv1.RotateSecretGracePeriodAnnotation]; ok {
		t.Errorf("rotate without --grace left annotation %s", authlyv1.RotateSecretGracePeriodAnnotation)
	}
	if third := string(k.secret("batch-oauth").Data["client_secret"]); third == second {
		t.Error("the second rotation did not change the secret")
	}

	// --grace 0s: the previous secret stops at once.
	clk.Step(time.Minute)
	r = mustRun(t, clk, "rotate", "batch", "-n", ns, "--grace", "0s")
	if !strings.HasSuffix(r.stdout, "the previous secret stopped working at once (no grace period): the rotation is complete\n") {
		t.Errorf("rotate --grace 0s printed:\n%s", r.stdout)
	}
}

// rotate refuses what the operator would not rotate, and says so when the operator does
// not carry a rotation out.
func TestRotateRefusals(t *testing.T) {
	const ns = "plugin-rotate-refusals"
	c := testClient(t)
	createNamespace(t, c, ns)
	ctx := context.Background()
	for _, oc := range []*authlyv1.OAuthClient{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spa"},
			Spec: authlyv1.OAuthClientSpec{
				AuthServerRef: authlyv1.ServerReference{Name: "authly"}, Type: authlyv1.ClientPublic,
				GrantTypes: []authlyv1.GrantType{authlyv1.GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example.com/cb"},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault"},
			Spec: authlyv1.OAuthClientSpec{
				AuthServerRef: authlyv1.ServerReference{Name: "authly"}, SecretName: "from-vault",
				GrantTypes: []authlyv1.GrantType{authlyv1.GrantClientCredentials},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unattended"},
			Spec: authlyv1.OAuthClientSpec{
				AuthServerRef: authlyv1.ServerReference{Name: "authly"},
				GrantTypes:    []authlyv1.GrantType{authlyv1.GrantClientCredentials},
			},
		},
	} {
		if err := c.Create(ctx, oc); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-vault"},
		Data:       map[string][]byte{"client_id": []byte("vault-client"), "client_secret": []byte("s3cret")},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"spa"}, "OAuthClient spa is a public client: it has no secret to rotate"},
		{[]string{"vault"}, "secret from-vault is not written by the operator for OAuthClient vault: rotate the secret where it comes from"},
		{[]string{"missing"}, `"missing" not found`},
		{[]string{"vault", "--grace", "-1h"}, "--grace must not be negative"},
		// No operator runs in this namespace: the request is made, and never carried out.
		{[]string{"unattended", "--timeout", "1s"}, "the operator did not carry out the rotation within 1s"},
	} {
		r := run(t, ctx, nil, append([]string{"rotate", "-n", ns}, tc.args...)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("rotate %v: error %v, want one containing %q", tc.args, r.err, tc.want)
		}
	}
	var oc authlyv1.OAuthClient
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "spa"}, &oc); err != nil {
		t.Fatal(err)
	}
	if _, ok := oc.Annotations[authlyv1.RotateSecretAnnotation]; ok {
		t.Error("a refused rotation was requested anyway")
	}
}
