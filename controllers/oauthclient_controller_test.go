/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// newOAuthClient creates a confidential web client of the fixture's AuthServer, changed by
// mutate before it is created.
func (f *fixture) newOAuthClient(name string, mutate func(*authlyv1.OAuthClient)) *authlyv1.OAuthClient {
	f.t.Helper()
	oc := &authlyv1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: authlyv1.OAuthClientSpec{
			AuthServerRef:             authlyv1.ServerReference{Name: testServer},
			GrantTypes:                []authlyv1.GrantType{authlyv1.GrantAuthorizationCode, authlyv1.GrantRefreshToken},
			RedirectURIs:              []string{"https://" + name + ".team-a.example.com/callback"},
			Scopes:                    []string{"openid", "profile", "groups"},
			SecretRotationGracePeriod: &metav1.Duration{Duration: time.Hour},
		},
	}
	if mutate != nil {
		mutate(oc)
	}
	if err := f.c.Create(context.Background(), oc); err != nil {
		f.t.Fatal(err)
	}
	return oc
}

// update re-reads the OAuthClient, applies change and writes it, retrying on conflicts
// with the reconciler's own writes.
func (f *fixture) updateOAuthClient(name string, change func(*authlyv1.OAuthClient)) {
	f.t.Helper()
	eventually(f.t, "update of OAuthClient "+name, func() error {
		var oc authlyv1.OAuthClient
		if err := f.c.Get(context.Background(), f.key(name), &oc); err != nil {
			return err
		}
		change(&oc)
		return f.c.Update(context.Background(), &oc)
	})
}

func (f *fixture) secret(name string) *corev1.Secret {
	f.t.Helper()
	var s corev1.Secret
	if err := f.c.Get(context.Background(), f.key(name), &s); err != nil {
		f.t.Fatal(err)
	}
	return &s
}

// waitClient waits until the database row of clientID satisfies check.
func (f *fixture) waitClient(clientID, what string, check func(*store.Client) error) *store.Client {
	f.t.Helper()
	var got *store.Client
	eventually(f.t, what, func() error {
		c, err := f.st.GetClient(context.Background(), clientID)
		if err != nil {
			return err
		}
		got = c
		return check(c)
	})
	return got
}

func (f *fixture) waitClientGone(clientID string) {
	f.t.Helper()
	eventually(f.t, "client "+clientID+" removed from the database", func() error {
		_, err := f.st.GetClient(context.Background(), clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still in the database")
	})
}

// credentialsOf checks that the Secret and the database agree: the Secret's secret
// matches the row's current hash. It returns the client_id and secret.
func credentialsOf(t *testing.T, s *corev1.Secret, row *store.Client) (string, string) {
	t.Helper()
	id, secret := string(s.Data["client_id"]), string(s.Data["client_secret"])
	if id != row.ID {
		t.Errorf("Secret client_id %q, database row %q", id, row.ID)
	}
	if !credentials.SecretMatches(secret, row.SecretHash) {
		t.Errorf("the Secret's client_secret does not match the database's hash")
	}
	return id, secret
}

// The whole life of a confidential client: registration, Secret, update, rotation with a
// grace period, deletion that removes it from the database and revokes its tokens.
func TestOAuthClientLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f.start(operator{Clock: clk})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	if !controllerutil.ContainsFinalizer(oc, authlyv1.Finalizer) {
		t.Errorf("finalizers %v, want %s", oc.Finalizers, authlyv1.Finalizer)
	}
	st := oc.Status
	if st.ClientID == "" || st.SecretName != "web-oauth" || st.CredentialsVersion != 1 || st.DatabaseSecretName != testDBSecret || st.DatabaseSecretKey != "url" || st.LastSyncTime == nil || st.ObservedGeneration != oc.Generation {
		t.Errorf("status %+v: want clientId, secretName web-oauth, credentialsVersion 1, databaseSecretName %s/url, lastSyncTime, observedGeneration %d", st, testDBSecret, oc.Generation)
	}

	s := f.secret("web-oauth")
	wantData := map[string]string{
		"client_id":     st.ClientID,
		"issuer":        testIssuer,
		"token_url":     testIssuer + "/api/v1/oauth/token",
		"authorize_url": testIssuer + "/api/v1/oauth/authorize",
		"jwks_url":      testIssuer + "/.well-known/jwks.json",
	}
	gotData := map[string]string{}
	for k, v := range s.Data {
		if k != "client_secret" {
			gotData[k] = string(v)
		}
	}
	if diff := cmp.Diff(wantData, gotData); diff != "" {
		t.Errorf("Secret data (-want +got):\n%s", diff)
	}
	if len(s.Data["client_secret"]) < 43 {
		t.Errorf("client_secret has %d characters, want at least 43 (256 bits)", len(s.Data["client_secret"]))
	}
	if s.Type != corev1.SecretTypeOpaque || s.Labels["app.kubernetes.io/managed-by"] != "authly-operator" {
		t.Errorf("Secret type %q labels %v", s.Type, s.Labels)
	}
	if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != oc.UID || ref.Kind != "OAuthClient" {
		t.Errorf("Secret controller reference %+v, want the OAuthClient", ref)
	}

	row, err := f.st.GetClient(ctx, st.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	_, firstSecret := credentialsOf(t, s, row)
	wantRow := &store.Client{
		ID: st.ClientID, Name: "web", Type: store.Confidential,
		RedirectURIs: []string{"https://web.team-a.example.com/callback"}, PostLogoutRedirectURIs: []string{},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "groups"}, TokenEndpointAuthMethod: "client_secret_basic",
		SecretHash: row.SecretHash, ManagedBy: "k8s:" + f.ns + "/web",
	}
	if diff := cmp.Diff(wantRow, row, cmpClientRow); diff != "" {
		t.Errorf("database row (-want +got):\n%s", diff)
	}
	f.waitEvent("web", "Registered", st.ClientID)

	// Update: a second redirect URI and first-party.
	f.updateOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		oc.Spec.RedirectURIs = append(oc.Spec.RedirectURIs, "https://web.team-a.example.com/callback2")
		oc.Spec.FirstParty = true
	})
	f.waitClient(st.ClientID, "redirect URI added in the database", func(c *store.Client) error {
		if !slices.Contains(c.RedirectURIs, "https://web.team-a.example.com/callback2") || !c.FirstParty {
			return fmt.Errorf("redirect URIs %v, first party %v", c.RedirectURIs, c.FirstParty)
		}
		return nil
	})
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	f.waitEvent("web", "Updated", "redirectUris")
	if got := f.secret("web-oauth").Data["client_secret"]; string(got) != firstSecret {
		t.Error("an update of the spec changed the client secret")
	}

	// Rotation: the previous secret stays valid for the grace period (1h), the new one
	// works at once, and the annotation the user wrote stays as it is.
	f.updateOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		metav1.SetMetaDataAnnotation(&oc.ObjectMeta, authlyv1.RotateSecretAnnotation, "2026-03-01")
	})
	eventually(t, "rotation recorded in status", func() error {
		if err := f.c.Get(ctx, f.key("web"), oc); err != nil {
			return err
		}
		if oc.Status.LastRotationRequest != "2026-03-01" || oc.Status.CredentialsVersion != 2 {
			return fmt.Errorf("lastRotationRequest %q credentialsVersion %d", oc.Status.LastRotationRequest, oc.Status.CredentialsVersion)
		}
		return nil
	})
	wantExpiry := clk.Now().Add(time.Hour)
	if oc.Status.PreviousSecretExpiresAt == nil || !oc.Status.PreviousSecretExpiresAt.Time.Equal(wantExpiry) || oc.Status.RotatedAt == nil {
		t.Errorf("status previousSecretExpiresAt %v rotatedAt %v, want %v and set", oc.Status.PreviousSecretExpiresAt, oc.Status.RotatedAt, wantExpiry)
	}
	if oc.Annotations[authlyv1.RotateSecretAnnotation] != "2026-03-01" {
		t.Errorf("the operator changed the rotate-secret annotation: %v", oc.Annotations)
	}
	s = f.secret("web-oauth")
	row, err = f.st.GetClient(ctx, st.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	_, newSecret := credentialsOf(t, s, row)
	if newSecret == firstSecret {
		t.Fatal("rotation kept the same secret")
	}
	if !credentials.SecretMatches(firstSecret, row.PreviousSecretHash) || credentials.SecretMatches(firstSecret, row.SecretHash) {
		t.Error("the previous secret is not the one valid during the grace period")
	}
	if !row.PreviousSecretExpiresAt.Equal(wantExpiry) {
		t.Errorf("previous secret expires at %v, want %v", row.PreviousSecretExpiresAt, wantExpiry)
	}
	f.waitEvent("web", "SecretRotated", "valid until 2026-03-01T13:00:00Z")
	// One request, one rotation: a reconcile that reads the OAuthClient from a cache that
	// has not seen the status yet must not rotate (or report a rotation) again.
	rotations := 0
	for _, e := range f.events() {
		if e.InvolvedObject.Name == "web" && e.Reason == "SecretRotated" {
			rotations += max(int(e.Count), 1)
		}
	}
	if rotations != 1 {
		t.Errorf("%d SecretRotated events for one rotation request", rotations)
	}
	f.noSecretInEvents(firstSecret, newSecret)
	for _, cond := range oc.Status.Conditions {
		if cond.Message != "" && containsAny(cond.Message, firstSecret, newSecret) {
			t.Errorf("condition %s mentions a secret", cond.Type)
		}
	}

	// Deletion with policy Delete: the row goes, with a cutoff that revokes the tokens.
	f.delete(oc)
	f.waitGone(oc)
	f.waitClientGone(st.ClientID)
	cutoffs, err := f.st.ListCutoffs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cutoffs, func(c store.Cutoff) bool { return c.Kind == store.CutoffClient && c.Subject == st.ClientID }) {
		t.Errorf("no token cutoff for client %s after deletion: %+v", st.ClientID, cutoffs)
	}
	f.waitEvent("web", "Deleted", st.ClientID)
}

// cmpClientRow ignores the database's timestamps.
var cmpClientRow = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".CreatedAt", ".UpdatedAt":
		return true
	}
	return false
}, cmp.Ignore())

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A public client gets a Secret with its client_id and no secret, and a row without one.
func TestOAuthClientPublic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})

	oc := waitReady(f, f.newOAuthClient("spa", func(oc *authlyv1.OAuthClient) {
		oc.Spec.Type = authlyv1.ClientPublic
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	s := f.secret("spa-oauth")
	if _, ok := s.Data["client_secret"]; ok || string(s.Data["client_id"]) != oc.Status.ClientID {
		t.Errorf("public client's Secret keys: %v", keys(s.Data))
	}
	row, err := f.st.GetClient(context.Background(), oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Type != store.Public || row.TokenEndpointAuthMethod != "none" || len(row.SecretHash) != 0 {
		t.Errorf("row type %s auth %s secret hash %x, want public, none, none", row.Type, row.TokenEndpointAuthMethod, row.SecretHash)
	}
	if oc.Status.CredentialsVersion != 0 {
		t.Errorf("credentialsVersion %d for a client without a secret", oc.Status.CredentialsVersion)
	}
}

// A command-line tool of the device flow (RFC 8628): a public client with the device_code
// grant and no redirect URIs reaches the database as it is declared.
func TestOAuthClientDeviceFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})

	oc := waitReady(f, f.newOAuthClient("orders-cli", func(oc *authlyv1.OAuthClient) {
		oc.Spec.Type = authlyv1.ClientPublic
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantDeviceCode, authlyv1.GrantRefreshToken}
		oc.Spec.RedirectURIs, oc.Spec.PostLogoutRedirectURIs = nil, nil
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	row, err := f.st.GetClient(context.Background(), oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(row.GrantTypes, []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}) ||
		row.Type != store.Public || len(row.RedirectURIs) != 0 || len(row.ResponseTypes) != 0 {
		t.Errorf("row %+v, want a public device-flow client without redirect URIs", row)
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// A Secret that exists with credentials (Vault, External Secrets, a person) is used as it
// is and never written to; when it changes, the database follows.
func TestOAuthClientAdoptsExistingSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	vault := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vault-creds", Labels: map[string]string{"app.kubernetes.io/managed-by": "external-secrets"}},
		Data: map[string][]byte{
			"client_id":     []byte("orders-api"),
			"client_secret": []byte("from-vault-0123456789abcdef0123456789abcdef"),
		},
	}
	if err := f.c.Create(ctx, vault); err != nil {
		t.Fatal(err)
	}
	// A Secret whose client_id is not the one the spec pins.
	pinned := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "pinned-creds"},
		Data:       map[string][]byte{"client_id": []byte("something-else"), "client_secret": []byte("x-0123456789")},
	}
	if err := f.c.Create(ctx, pinned); err != nil {
		t.Fatal(err)
	}
	f.start(operator{})

	m2m := func(secretName, clientID string) func(*authlyv1.OAuthClient) {
		return func(oc *authlyv1.OAuthClient) {
			oc.Spec.SecretName = secretName
			oc.Spec.ClientID = clientID
			oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
			oc.Spec.RedirectURIs = nil
		}
	}
	oc := waitReady(f, f.newOAuthClient("orders", m2m("vault-creds", "")), metav1.ConditionTrue, authlyv1.ReasonSynced)
	if oc.Status.ClientID != "orders-api" || oc.Status.SecretName != "vault-creds" {
		t.Errorf("status clientId %q secretName %q, want the Secret's orders-api in vault-creds", oc.Status.ClientID, oc.Status.SecretName)
	}
	row, err := f.st.GetClient(ctx, "orders-api")
	if err != nil {
		t.Fatal(err)
	}
	if !credentials.SecretMatches("from-vault-0123456789abcdef0123456789abcdef", row.SecretHash) {
		t.Error("the database does not accept the Secret's client_secret")
	}
	got := f.secret("vault-creds")
	if got.ResourceVersion != vault.ResourceVersion || len(got.OwnerReferences) != 0 || len(got.Data) != 2 {
		t.Errorf("the operator wrote to a Secret it does not own: resourceVersion %s->%s, owners %v, keys %v", vault.ResourceVersion, got.ResourceVersion, got.OwnerReferences, keys(got.Data))
	}

	// Vault rotates the secret: the database follows.
	got.Data["client_secret"] = []byte("rotated-by-vault-0123456789abcdef012345678")
	if err := f.c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	f.waitClient("orders-api", "the database to follow the edited Secret", func(c *store.Client) error {
		if !credentials.SecretMatches("rotated-by-vault-0123456789abcdef012345678", c.SecretHash) {
			return errors.New("hash is not the new secret's")
		}
		return nil
	})

	// A rotation cannot be done in a Secret the operator does not write: it says so.
	f.updateOAuthClient("orders", func(oc *authlyv1.OAuthClient) {
		metav1.SetMetaDataAnnotation(&oc.ObjectMeta, authlyv1.RotateSecretAnnotation, "1")
	})
	f.waitEvent("orders", "RotationSkipped", "vault-creds")
	rv := f.secret("vault-creds").ResourceVersion
	eventually(t, "rotation request recorded", func() error {
		if err := f.c.Get(ctx, f.key("orders"), oc); err != nil {
			return err
		}
		if oc.Status.LastRotationRequest != "1" {
			return fmt.Errorf("lastRotationRequest %q", oc.Status.LastRotationRequest)
		}
		return nil
	})
	if after := f.secret("vault-creds").ResourceVersion; after != rv {
		t.Errorf("rotation wrote to the foreign Secret (resourceVersion %s -> %s)", rv, after)
	}

	// spec.clientId pins a client_id the Secret does not hold: a conflict, nothing written.
	pc := waitReady(f, f.newOAuthClient("pinned", m2m("pinned-creds", "pinned-id")), metav1.ConditionFalse, authlyv1.ReasonSecretConflict)
	if msg := readyMessage(pc.Status.Conditions); !containsAny(msg, "something-else") || !containsAny(msg, "pinned-id") {
		t.Errorf("conflict message %q does not name both client ids", msg)
	}
	for _, id := range []string{"pinned-id", "something-else"} {
		if _, err := f.st.GetClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("client %s in the database after a Secret conflict: %v", id, err)
		}
	}
	f.waitEvent("pinned", authlyv1.ReasonSecretConflict, "pinned-creds")
}

func readyMessage(conds []metav1.Condition) string {
	for _, c := range conds {
		if c.Type == authlyv1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

// A client_secret edited in the Secret is what the database accepts next; a deleted
// Secret is written again with the same client_id and a new secret.
// A Secret written by someone else under the default name (<name>-oauth) is watched like one
// named in spec.secretName: once its client_secret is filled in, the client is registered
// without waiting for the resync.
func TestOAuthClientForeignSecretWithDefaultName(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "billing-oauth"},
		Data:       map[string][]byte{"client_id": []byte("billing-api")},
	}
	if err := f.c.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	f.start(operator{ResyncPeriod: time.Hour})
	oc := waitReady(f, f.newOAuthClient("billing", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
	}), metav1.ConditionFalse, authlyv1.ReasonSecretConflict)

	foreign = f.secret("billing-oauth")
	foreign.Data["client_secret"] = []byte("from-elsewhere-0123456789abcdef0123456789")
	if err := f.c.Update(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if oc.Status.ClientID != "billing-api" {
		t.Errorf("status clientId %q, want the Secret's billing-api", oc.Status.ClientID)
	}
	f.waitClient("billing-api", "the client registered with the Secret's secret", func(c *store.Client) error {
		if !credentials.SecretMatches("from-elsewhere-0123456789abcdef0123456789", c.SecretHash) {
			return errors.New("the database does not accept the Secret's client_secret")
		}
		return nil
	})
}

func TestOAuthClientSecretEditedAndDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	id := oc.Status.ClientID
	s := f.secret("web-oauth")
	first := string(s.Data["client_secret"])

	const edited = "edited-by-hand-0123456789abcdef0123456789ab"
	s.Data["client_secret"] = []byte(edited)
	if err := f.c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	f.waitClient(id, "the database to accept the edited secret", func(c *store.Client) error {
		if !credentials.SecretMatches(edited, c.SecretHash) {
			return errors.New("hash is not the edited secret's")
		}
		if credentials.SecretMatches(first, c.SecretHash, c.PreviousSecretHash) {
			return errors.New("the replaced secret still works")
		}
		return nil
	})
	f.waitEvent("web", "SecretChanged", "web-oauth")
	if got := string(f.secret("web-oauth").Data["client_secret"]); got != edited {
		t.Error("the operator overwrote the edited client_secret")
	}

	f.delete(s)
	var recreated *corev1.Secret
	eventually(t, "Secret written again", func() error {
		var s corev1.Secret
		if err := f.c.Get(ctx, f.key("web-oauth"), &s); err != nil {
			return err
		}
		if string(s.Data["client_secret"]) == edited {
			return errors.New("still the deleted Secret")
		}
		recreated = &s
		return nil
	})
	if string(recreated.Data["client_id"]) != id {
		t.Errorf("recreated Secret has client_id %q, want the registered %q", recreated.Data["client_id"], id)
	}
	newSecret := string(recreated.Data["client_secret"])
	f.waitClient(id, "the database to follow the recreated Secret", func(c *store.Client) error {
		if !credentials.SecretMatches(newSecret, c.SecretHash) {
			return errors.New("hash is not the recreated secret's")
		}
		return nil
	})
	f.waitEvent("web", "SecretRecreated", "web-oauth")
	eventually(t, "credentialsVersion 3", func() error {
		if err := f.c.Get(ctx, f.key("web"), oc); err != nil {
			return err
		}
		if oc.Status.CredentialsVersion != 3 {
			return fmt.Errorf("credentialsVersion %d", oc.Status.CredentialsVersion)
		}
		return nil
	})
	f.noSecretInEvents(first, edited, newSecret)
}

// Changes made in the database by hand are put back at the next resync.
func TestOAuthClientDriftCorrection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{ResyncPeriod: 500 * time.Millisecond})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	id := oc.Status.ClientID
	secret := string(f.secret("web-oauth").Data["client_secret"])
	row, err := f.st.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tampered := *row
	tampered.RedirectURIs = []string{"https://evil.example.com/cb"}
	tampered.Scopes = append(slices.Clone(row.Scopes), "admin")
	tampered.FirstParty = true
	tampered.SecretHash = credentials.HashSecret("attacker-chosen")
	if _, err := f.st.UpsertClient(ctx, &tampered); err != nil {
		t.Fatal(err)
	}
	f.waitClient(id, "the row put back", func(c *store.Client) error {
		if diff := cmp.Diff(row, c, cmpClientRow); diff != "" {
			return fmt.Errorf("(-want +got):\n%s", diff)
		}
		if !credentials.SecretMatches(secret, c.SecretHash) || credentials.SecretMatches("attacker-chosen", c.SecretHash, c.PreviousSecretHash) {
			return errors.New("secret hash not put back")
		}
		return nil
	})
	f.waitEvent("web", "DriftCorrected", "redirectUris")

	if err := f.st.DeleteClient(ctx, id, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.waitClient(id, "the deleted row registered again", func(c *store.Client) error {
		if !credentials.SecretMatches(secret, c.SecretHash) {
			return errors.New("registered again with another secret")
		}
		return nil
	})
	f.waitEvent("web", "DriftCorrected", "missing from the database")
}

// Orphan leaves the client in the database and its Secret in the namespace.
func TestOAuthClientDeletionOrphan(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		oc.Spec.DeletionPolicy = authlyv1.DeletionPolicyOrphan
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	id := oc.Status.ClientID
	f.delete(oc)
	f.waitGone(oc)
	row, err := f.st.GetClient(ctx, id)
	if err != nil {
		t.Fatalf("orphaned client gone from the database: %v", err)
	}
	s := f.secret("web-oauth")
	credentialsOf(t, s, row)
	for _, ref := range s.OwnerReferences {
		if ref.UID == oc.UID {
			t.Errorf("orphaned Secret still owned by the deleted OAuthClient: %+v", ref)
		}
	}
	f.waitEvent("web", "Orphaned", "web-oauth")
}

// The AuthServer is deleted before its client: deletion still removes the client, with
// the store the operator last used for that AuthServer.
func TestOAuthClientDeletedAfterAuthServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	as := f.addServer(true)
	f.start(operator{})

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	f.delete(as)
	f.waitGone(as)
	f.delete(oc)
	f.waitGone(oc)
	f.waitClientGone(oc.Status.ClientID)
}

// The AuthServer is deleted, the operator restarts (it knows no store any more), then the
// client is deleted: the database Secret recorded in status leads to the database.
func TestOAuthClientDeletedAfterAuthServerAndRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	as := f.addServer(true)
	stop := f.start(operator{})
	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	stop()

	f.delete(as)
	f.waitGone(as)
	f.start(operator{})
	f.delete(oc)
	f.waitGone(oc)
	f.waitClientGone(oc.Status.ClientID)
}

// With the AuthServer and its database Secret gone, deletion cannot reach the database:
// it finishes anyway and says that the client may remain.
func TestOAuthClientDeletedAfterDatabaseGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	as := f.addServer(true)
	stop := f.start(operator{})
	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	stop()

	f.delete(as)
	f.delete(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: testDBSecret}})
	f.waitGone(as)
	f.start(operator{})
	f.delete(oc)
	f.waitGone(oc)
	f.waitEvent("web", "NotRemovedFromDatabase", oc.Status.ClientID)
	if _, err := f.st.GetClient(context.Background(), oc.Status.ClientID); err != nil {
		t.Errorf("the client is not left in the database as the event says: %v", err)
	}
}

// A database that keeps failing delays deletion for DeletionTimeout at most; then the
// finalizer goes anyway, with a Warning event.
func TestOAuthClientDeletionGivesUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{DeletionTimeout: 3 * time.Second})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	db := &corev1.Secret{}
	if err := f.c.Get(ctx, f.key(testDBSecret), db); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: every connection is refused.
	db.Data["url"] = []byte("postgres://authly@127.0.0.1:1/authly?connect_timeout=1")
	if err := f.c.Update(ctx, db); err != nil {
		t.Fatal(err)
	}
	f.delete(oc)
	f.waitGone(oc)
	f.waitEvent("web", "NotRemovedFromDatabase", "could not remove")
	if _, err := f.st.GetClient(ctx, oc.Status.ClientID); err != nil {
		t.Errorf("the client is not left in the database as the event says: %v", err)
	}
}

// An OAuthClient waits, with a reason, for its AuthServer and its database; it does not
// write a Secret meanwhile, and registers once the database is ready.
func TestOAuthClientWaitsForAuthServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start(operator{})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionFalse, authlyv1.ReasonAuthServerNotFound)
	if err := f.c.Get(ctx, f.key("web-oauth"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret written before the AuthServer exists: %v", err)
	}
	f.addServer(false)
	waitReady(f, oc, metav1.ConditionFalse, authlyv1.ReasonAuthServerNotReady)
	f.setDatabaseReady()
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if _, err := f.st.GetClient(ctx, oc.Status.ClientID); err != nil {
		t.Error(err)
	}
}

// createAsBeforeCrash creates an OAuthClient with the finalizer already set, as the first
// steps of a reconcile leave it, and its owned Secret with the given credentials, as
// written just before the operator stopped.
func (f *fixture) createAsBeforeCrash(name, clientID, secret string, annotations map[string]string, rotation string) *authlyv1.OAuthClient {
	f.t.Helper()
	ctx := context.Background()
	oc := f.newOAuthClient(name, func(oc *authlyv1.OAuthClient) {
		oc.Finalizers = []string{authlyv1.Finalizer}
		oc.Annotations = annotations
	})
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name + "-oauth", Labels: map[string]string{"app.kubernetes.io/managed-by": "authly-operator"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"client_id": []byte(clientID), "client_secret": []byte(secret), "issuer": []byte(testIssuer)},
	}
	if rotation != "" {
		s.Annotations = map[string]string{controllers.SecretRotationAnnotation: rotation}
	}
	if err := controllerutil.SetControllerReference(oc, s, f.c.Scheme()); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.Create(ctx, s); err != nil {
		f.t.Fatal(err)
	}
	return oc
}

// The operator stopped after writing the Secret and before registering the client: the
// next operator registers it with the credentials in the Secret, and issues no others.
func TestOAuthClientRestartAfterSecretWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	const id, secret = "crash-id-0001", "written-before-the-crash-0123456789abcdef012"
	oc := f.createAsBeforeCrash("web", id, secret, nil, "")
	if _, err := f.st.GetClient(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client registered before the operator ran: %v", err)
	}

	f.start(operator{})
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if oc.Status.ClientID != id || oc.Status.CredentialsVersion != 1 {
		t.Errorf("status clientId %q credentialsVersion %d, want %s and 1", oc.Status.ClientID, oc.Status.CredentialsVersion, id)
	}
	row, err := f.st.GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	s := f.secret("web-oauth")
	if _, got := credentialsOf(t, s, row); got != secret {
		t.Error("the operator replaced the secret written before the crash")
	}
	if string(s.Data["token_url"]) != testIssuer+"/api/v1/oauth/token" {
		t.Errorf("Secret not completed: token_url %q", s.Data["token_url"])
	}
}

// The operator stopped during a rotation, after writing the new secret to the Secret and
// before the database: the next operator finishes that rotation (the old secret stays
// valid for the grace period) instead of issuing yet another secret.
func TestOAuthClientRestartDuringRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	const id, oldSecret, newSecret = "rot-id-0001", "old-secret-0123456789abcdef0123456789abcdef", "new-secret-0123456789abcdef0123456789abcdef"
	oc := f.createAsBeforeCrash("web", id, newSecret, map[string]string{authlyv1.RotateSecretAnnotation: "r1"}, "r1")
	// What the first registration left: the row with the old secret, and status.
	if _, err := f.st.UpsertClient(ctx, &store.Client{
		ID: id, Name: "web", Type: store.Confidential, RedirectURIs: oc.Spec.RedirectURIs,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: oc.Spec.Scopes, TokenEndpointAuthMethod: "client_secret_basic",
		SecretHash: credentials.HashSecret(oldSecret), ManagedBy: "k8s:" + f.ns + "/web",
	}); err != nil {
		t.Fatal(err)
	}
	oc.Status = authlyv1.OAuthClientStatus{ClientID: id, SecretName: "web-oauth", CredentialsVersion: 1}
	if err := f.c.Status().Update(ctx, oc); err != nil {
		t.Fatal(err)
	}

	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC))
	f.start(operator{Clock: clk})
	eventually(t, "rotation finished", func() error {
		if err := f.c.Get(ctx, f.key("web"), oc); err != nil {
			return err
		}
		if oc.Status.LastRotationRequest != "r1" {
			return fmt.Errorf("lastRotationRequest %q", oc.Status.LastRotationRequest)
		}
		return nil
	})
	if oc.Status.CredentialsVersion != 2 {
		t.Errorf("credentialsVersion %d, want 2", oc.Status.CredentialsVersion)
	}
	if got := string(f.secret("web-oauth").Data["client_secret"]); got != newSecret {
		t.Error("the operator issued another secret instead of finishing the rotation")
	}
	row, err := f.st.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !credentials.SecretMatches(newSecret, row.SecretHash) || !credentials.SecretMatches(oldSecret, row.PreviousSecretHash) {
		t.Error("the database does not hold the new secret as current and the old one as previous")
	}
	if want := clk.Now().Add(time.Hour); !row.PreviousSecretExpiresAt.Equal(want) {
		t.Errorf("previous secret expires at %v, want %v", row.PreviousSecretExpiresAt, want)
	}
	f.waitEvent("web", "SecretRotated", id)
}

// An operator that starts again finds everything in place and writes nothing: not the
// Secret, not the database row (a write would NOTIFY every server replica).
func TestOAuthClientRestartWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stop := f.start(operator{Clock: clocktesting.NewFakePassiveClock(t0)})
	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	before := oc.Status
	secretRV := f.secret("web-oauth").ResourceVersion
	row, err := f.st.GetClient(ctx, oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	stop()

	t1 := t0.Add(time.Hour)
	f.start(operator{Clock: clocktesting.NewFakePassiveClock(t1)})
	eventually(t, "a reconcile by the new operator", func() error {
		if err := f.c.Get(ctx, f.key("web"), oc); err != nil {
			return err
		}
		if oc.Status.LastSyncTime == nil || !oc.Status.LastSyncTime.Time.Equal(t1) {
			return fmt.Errorf("lastSyncTime %v", oc.Status.LastSyncTime)
		}
		return nil
	})
	if oc.Status.ClientID != before.ClientID || oc.Status.CredentialsVersion != before.CredentialsVersion {
		t.Errorf("status after restart %+v, before %+v", oc.Status, before)
	}
	if rv := f.secret("web-oauth").ResourceVersion; rv != secretRV {
		t.Errorf("Secret written after a restart (resourceVersion %s -> %s)", secretRV, rv)
	}
	after, err := f.st.GetClient(ctx, oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(row.UpdatedAt) {
		t.Errorf("database row written after a restart (updated_at %v -> %v)", row.UpdatedAt, after.UpdatedAt)
	}
}

// A client_id that someone else manages in the database is never overwritten nor
// deleted; one created outside Kubernetes (no manager) is taken over.
func TestOAuthClientConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	theirs := &store.Client{
		ID: "taken-client", Name: "theirs", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic", SecretHash: credentials.HashSecret("their-secret"), ManagedBy: "k8s:other-team/web",
	}
	handmade := &store.Client{
		ID: "handmade-client", Name: "legacy", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic", SecretHash: credentials.HashSecret("old-cli-secret"),
	}
	for _, c := range []*store.Client{theirs, handmade} {
		if _, err := f.st.UpsertClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.start(operator{})
	m2m := func(clientID string) func(*authlyv1.OAuthClient) {
		return func(oc *authlyv1.OAuthClient) {
			oc.Spec.ClientID = clientID
			oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
			oc.Spec.RedirectURIs = nil
		}
	}

	oc := waitReady(f, f.newOAuthClient("web", m2m("taken-client")), metav1.ConditionFalse, authlyv1.ReasonConflict)
	if msg := readyMessage(oc.Status.Conditions); !containsAny(msg, "k8s:other-team/web") {
		t.Errorf("conflict message %q does not say who manages the client", msg)
	}
	f.waitEvent("web", authlyv1.ReasonConflict, "taken-client")
	f.delete(oc)
	f.waitGone(oc)
	row, err := f.st.GetClient(ctx, "taken-client")
	if err != nil {
		t.Fatalf("deleting the conflicting OAuthClient removed someone else's client: %v", err)
	}
	if row.ManagedBy != theirs.ManagedBy || row.Name != "theirs" || !credentials.SecretMatches("their-secret", row.SecretHash) {
		t.Errorf("someone else's client was changed: %+v", row)
	}

	waitReady(f, f.newOAuthClient("legacy", m2m("handmade-client")), metav1.ConditionTrue, authlyv1.ReasonSynced)
	row, err = f.st.GetClient(ctx, "handmade-client")
	if err != nil {
		t.Fatal(err)
	}
	if row.ManagedBy != "k8s:"+f.ns+"/legacy" {
		t.Errorf("handmade client not taken over: managed by %q", row.ManagedBy)
	}
	credentialsOf(t, f.secret("legacy-oauth"), row)
	f.waitEvent("legacy", "Registered", "outside Kubernetes")
}

// A spec that the schema lets through but the server's rules refuse is reported with
// the field, and nothing is written.
func TestOAuthClientInvalidSpec(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		oc.Spec.RedirectURIs = []string{"http://web.team-a.example.com/callback"}
	}), metav1.ConditionFalse, authlyv1.ReasonInvalidSpec)
	if msg := readyMessage(oc.Status.Conditions); !containsAny(msg, "spec.redirectUris[0]") {
		t.Errorf("InvalidSpec message %q does not name spec.redirectUris[0]", msg)
	}
	if err := f.c.Get(ctx, f.key("web-oauth"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret written for an invalid spec: %v", err)
	}
	f.updateOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		oc.Spec.RedirectURIs = []string{"https://web.team-a.example.com/callback"}
	})
	waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
}
