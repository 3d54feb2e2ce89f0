/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/store"
)

const (
	testClusterIssuer = "https://kubernetes.test.example"
	testSASubject     = "system:serviceaccount:shop:orders-worker"
	testSAUID         = "0d6e4f3a-1c1b-4c55-9a5e-2f8a3f7c9b01"
)

// fakeCluster is a ServiceAccount token issuer as a Kubernetes API server is one: a key
// with a kid, and tokens with the claims the TokenRequest API puts in them. The envtest
// test in controllers uses the real API server; this one covers the server's checks.
type fakeCluster struct {
	issuer string
	key    *rsa.PrivateKey
	kid    string
}

func newFakeCluster(t *testing.T, issuer, kid string) *fakeCluster {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCluster{issuer: issuer, key: key, kid: kid}
}

func (c *fakeCluster) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &c.key.PublicKey, KeyID: c.kid, Algorithm: "RS256", Use: "sig"}
}

func jwkSetOf(t *testing.T, keys ...jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// token is a ServiceAccount token for subject and uid, valid from now for an hour, for
// audience aud; change edits its claims before it is signed.
func (c *fakeCluster) token(t *testing.T, now time.Time, aud, subject, uid string, change func(jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss": c.issuer, "sub": subject, "aud": []string{aud},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": randomString(t),
		"kubernetes.io": map[string]any{
			"namespace":      "shop",
			"serviceaccount": map[string]any{"name": "orders-worker", "uid": uid},
		},
	}
	if change != nil {
		change(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = c.kid
	s, err := tok.SignedString(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertionForm is a client_credentials request authenticated with a client assertion.
func assertionForm(clientID, assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
}

// A client registered with a ServiceAccount authenticates with that ServiceAccount's
// token and nothing else: each way a token can be wrong is invalid_client (401 with
// WWW-Authenticate), a kid the stored keys lack asks for a refresh, and keys stored again
// (a rotation) are used at once.
func TestServiceAccountClientAssertion(t *testing.T) {
	var offset atomic.Int64 // the server's clock, moved by the expiry case
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newTestEnv(t, func(c *server.Config) { c.Clock = clock })
	ctx := context.Background()
	cluster := newFakeCluster(t, testClusterIssuer, "k1")
	if err := e.store.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{
		Issuer: testClusterIssuer, JWKS: jwkSetOf(t, cluster.jwk()), FetchedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	client, secret := e.client(store.Client{Name: "orders-worker", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
		FederatedIssuer: testClusterIssuer, FederatedSubject: testSASubject, ServiceAccountUID: testSAUID})
	if secret != "" || client.TokenEndpointAuthMethod != "service_account_jwt" {
		t.Fatalf("registered with secret %q and auth method %q; want no secret and service_account_jwt", secret, client.TokenEndpointAuthMethod)
	}
	now := time.Now()
	good := cluster.token(t, now, e.URL, testSASubject, testSAUID, nil)

	// As an application does it with golang.org/x/oauth2: the token as an extra parameter.
	cc := clientcredentials.Config{ClientID: client.ID, TokenURL: e.URL + "/api/v1/oauth/token",
		AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{
			"client_assertion_type": {jwtBearer}, "client_assertion": {good}}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials with the ServiceAccount token: %v", err)
	}
	if sub := accessTokenClaim(t, tok.AccessToken, "client_id"); sub != client.ID {
		t.Errorf("access token client_id %v, want %s", sub, client.ID)
	}
	// Introspection authenticates the same way, and discovery says so.
	introspect := assertionForm(client.ID, good)
	introspect.Del("grant_type")
	introspect.Set("token", tok.AccessToken)
	if res := e.postForm("/api/v1/oauth/introspect", "", "", introspect); res.status != http.StatusOK {
		t.Errorf("introspection with the ServiceAccount token: %d %s", res.status, res.ErrorDescription)
	}
	var meta struct {
		Token         []string `json:"token_endpoint_auth_methods_supported"`
		Introspection []string `json:"introspection_endpoint_auth_methods_supported"`
	}
	resp, err := http.Get(e.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &meta); err != nil ||
		!slices.Contains(meta.Token, "service_account_jwt") || !slices.Contains(meta.Introspection, "service_account_jwt") {
		t.Errorf("discovery auth methods %+v (%v), want service_account_jwt", meta, err)
	}
	// Not single use: a pod reuses its projected token until the kubelet renews it.
	if _, err := cc.Token(ctx); err != nil {
		t.Errorf("the same ServiceAccount token a second time: %v", err)
	}

	other := newFakeCluster(t, "https://other-cluster.example", "k1")
	lookAlike := newFakeCluster(t, testClusterIssuer, "k-unknown")
	refused := []struct{ name, assertion string }{
		{"another ServiceAccount", cluster.token(t, now, e.URL, "system:serviceaccount:shop:payments", testSAUID, nil)},
		{"another audience", cluster.token(t, now, "https://api.example.com", testSASubject, testSAUID, nil)},
		{"no audience", cluster.token(t, now, e.URL, testSASubject, testSAUID, func(c jwt.MapClaims) { delete(c, "aud") })},
		{"no expiry", cluster.token(t, now, e.URL, testSASubject, testSAUID, func(c jwt.MapClaims) { delete(c, "exp") })},
		{"expired (signed by the cluster key)", cluster.token(t, now.Add(-2*time.Hour), e.URL, testSASubject, testSAUID, nil)},
		{"not yet valid", cluster.token(t, now.Add(time.Hour), e.URL, testSASubject, testSAUID, nil)},
		{"another issuer, its own key", other.token(t, now, e.URL, testSASubject, testSAUID, nil)},
		{"another issuer, the cluster's key", cluster.token(t, now, e.URL, testSASubject, testSAUID, func(c jwt.MapClaims) { c["iss"] = "https://other-cluster.example" })},
		{"the ServiceAccount recreated (another uid)", cluster.token(t, now, e.URL, testSASubject, testSAUID, func(c jwt.MapClaims) {
			c["kubernetes.io"] = map[string]any{"serviceaccount": map[string]any{"name": "orders-worker", "uid": "a-new-uid"}}
		})},
		{"no uid", cluster.token(t, now, e.URL, testSASubject, testSAUID, func(c jwt.MapClaims) { delete(c, "kubernetes.io") })},
		{"not a JWT", "not.a.jwt"},
		{"unsigned", unsignedToken(t, jwt.MapClaims{"iss": testClusterIssuer, "sub": testSASubject, "aud": e.URL, "exp": now.Add(time.Hour).Unix()})},
		{"HMAC with the public key's bytes", hmacToken(t, cluster)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", assertionForm(client.ID, tc.assertion)))
		})
	}
	t.Run("the ServiceAccount's own token, but no client_id", func(t *testing.T) {
		form := assertionForm(client.ID, good)
		form.Del("client_id")
		assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", form))
	})
	t.Run("another client_assertion_type", func(t *testing.T) {
		form := assertionForm(client.ID, good)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", form))
	})
	t.Run("a secret client presenting the ServiceAccount token", func(t *testing.T) {
		m2m, _ := e.client(store.Client{Name: "m2m", Type: store.Confidential, GrantTypes: []string{"client_credentials"}})
		assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", assertionForm(m2m.ID, good)))
	})
	t.Run("the ServiceAccount client with a secret instead", func(t *testing.T) {
		assertInvalidClient(t, "ServiceAccount token", e.tokenRequest(client.ID, "guessed-secret", url.Values{"grant_type": {"client_credentials"}}))
	})
	t.Run("expired by the server's clock", func(t *testing.T) {
		offset.Store(int64(2 * time.Hour))
		defer offset.Store(0)
		assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", assertionForm(client.ID, good)))
	})

	// A key the stored set lacks: refused, and a refresh is requested for the operator.
	assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", assertionForm(client.ID, lookAlike.token(t, now, e.URL, testSASubject, testSAUID, nil))))
	fi, err := e.store.GetFederatedIssuer(ctx, testClusterIssuer)
	if err != nil {
		t.Fatal(err)
	}
	if fi.RefreshRequestedAt.IsZero() {
		t.Error("a token with an unknown kid did not request a refresh of the issuer's keys")
	}
	// The cluster rotated to the look-alike's key: once stored, its tokens work at once
	// (every replica reloads on the store's notification), and the old key's still do
	// while the set holds both.
	if err := e.store.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{
		Issuer: testClusterIssuer, JWKS: jwkSetOf(t, cluster.jwk(), lookAlike.jwk()), FetchedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	rotated := lookAlike.token(t, time.Now(), e.URL, testSASubject, testSAUID, nil)
	eventuallyServer(t, "a token of the new key accepted", func() bool {
		return e.tokenRequest("", "", assertionForm(client.ID, rotated)).status == http.StatusOK
	})
	if res := e.tokenRequest("", "", assertionForm(client.ID, good)); res.status != http.StatusOK {
		t.Errorf("a token of the old key, still in the set: %d %s", res.status, res.ErrorDescription)
	}
	if fi, _ = e.store.GetFederatedIssuer(ctx, testClusterIssuer); !fi.RefreshRequestedAt.IsZero() {
		t.Errorf("the refresh request is still pending after keys were stored: %v", fi.RefreshRequestedAt)
	}

	// The ServiceAccount is gone (the operator records no uid): every token is refused.
	client.ServiceAccountUID = ""
	if err := e.reg.UpdateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	eventuallyServer(t, "tokens refused once the uid is gone", func() bool {
		return e.tokenRequest("", "", assertionForm(client.ID, good)).status == http.StatusUnauthorized
	})
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("a refused ServiceAccount token was logged as an error:\n%s", logs)
	}
}

func accessTokenClaim(t *testing.T, token, claim string) any {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("access token: %v", err)
	}
	return claims[claim]
}

func unsignedToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacToken is the classic confusion attack: HS256 keyed with the public key's bytes.
func hmacToken(t *testing.T, c *fakeCluster) string {
	t.Helper()
	pub, err := json.Marshal(c.jwk())
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": c.issuer, "sub": testSASubject,
		"exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = c.kid
	s, err := tok.SignedString(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An EC cluster key (ES256, as API servers with an EC signing key use) verifies too, and
// a key whose curve does not fit the token's alg does not.
func TestServiceAccountAssertionECKey(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// No alg in the JWK: the key's curve decides.
	if err := e.store.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{Issuer: testClusterIssuer,
		JWKS: jwkSetOf(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "ec1", Use: "sig"}), FetchedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	client, _ := e.client(store.Client{Name: "worker", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		FederatedIssuer: testClusterIssuer, FederatedSubject: testSASubject, ServiceAccountUID: testSAUID})
	sign := func(method jwt.SigningMethod, k any) string {
		now := time.Now()
		tok := jwt.NewWithClaims(method, jwt.MapClaims{"iss": testClusterIssuer, "sub": testSASubject, "aud": e.URL,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"serviceaccount": map[string]any{"uid": testSAUID}}})
		tok.Header["kid"] = "ec1"
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if res := e.tokenRequest("", "", assertionForm(client.ID, sign(jwt.SigningMethodES256, key))); res.status != http.StatusOK {
		t.Fatalf("ES256 token: %d %s %s", res.status, res.Error, res.ErrorDescription)
	}
	key384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	assertInvalidClient(t, "ServiceAccount token", e.tokenRequest("", "", assertionForm(client.ID, sign(jwt.SigningMethodES384, key384))))
}

// eventuallyServer polls cond for up to 10 seconds.
func eventuallyServer(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

// Without the operator: an administrator stores the cluster's keys and registers the
// client through the admin API, and the ServiceAccount token works the same.
func TestServiceAccountClientThroughAdminAPI(t *testing.T) {
	e := newTestEnv(t)
	ops, opsSecret := e.client(store.Client{Name: "ops", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: admin.ScopeNames()})
	adminTok := e.tokenRequest(ops.ID, opsSecret, url.Values{"grant_type": {"client_credentials"}})
	if adminTok.status != http.StatusOK {
		t.Fatalf("admin token: %d %s", adminTok.status, adminTok.ErrorDescription)
	}
	remote := &admin.Remote{BaseURL: e.URL, Token: adminTok.AccessToken}
	cluster := newFakeCluster(t, testClusterIssuer, "k1")
	ctx := context.Background()

	if _, err := remote.SetFederatedIssuer(ctx, admin.FederatedIssuerRequest{Issuer: "http://insecure.example", JWKS: jwkSetOf(t, cluster.jwk())}); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("an http issuer: %v, want refused naming issuer", err)
	}
	if _, err := remote.SetFederatedIssuer(ctx, admin.FederatedIssuerRequest{Issuer: testClusterIssuer, JWKS: json.RawMessage(`{"keys":[]}`)}); err == nil || !strings.Contains(err.Error(), "jwks") {
		t.Errorf("a JWKS without keys: %v, want refused naming jwks", err)
	}
	fi, err := remote.SetFederatedIssuer(ctx, admin.FederatedIssuerRequest{Issuer: testClusterIssuer, JWKS: jwkSetOf(t, cluster.jwk())})
	if err != nil || fi.Issuer != testClusterIssuer {
		t.Fatalf("store the issuer: %+v %v", fi, err)
	}
	c, err := remote.CreateClient(ctx, admin.ClientRequest{ClientName: "orders-worker", GrantTypes: []string{"client_credentials"},
		FederatedIssuer: testClusterIssuer, FederatedSubject: testSASubject, ServiceAccountUID: testSAUID})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret != "" || c.TokenEndpointAuthMethod != "service_account_jwt" || c.FederatedSubject != testSASubject {
		t.Errorf("created %+v: want no secret, service_account_jwt, the subject", c)
	}
	if _, err := remote.CreateClient(ctx, admin.ClientRequest{GrantTypes: []string{"client_credentials"}, FederatedSubject: testSASubject}); err == nil {
		t.Error("a federated subject without an issuer was accepted")
	}
	if _, err := remote.RotateSecret(ctx, c.ClientID, 0); err == nil {
		t.Error("a secret was issued to a ServiceAccount client")
	}
	if res := e.tokenRequest("", "", assertionForm(c.ClientID, cluster.token(t, time.Now(), e.URL, testSASubject, testSAUID, nil))); res.status != http.StatusOK {
		t.Fatalf("token with the ServiceAccount token: %d %s %s", res.status, res.Error, res.ErrorDescription)
	}
	var list admin.List[admin.FederatedIssuer]
	if err := remote.Do(ctx, http.MethodGet, "/admin/federated-issuers", nil, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := remote.Do(ctx, http.MethodDelete, "/admin/federated-issuers/"+url.PathEscape(testClusterIssuer), nil, nil); err != nil {
		t.Fatal(err)
	}
	eventuallyServer(t, "tokens refused once the issuer is deleted", func() bool {
		return e.tokenRequest("", "", assertionForm(c.ClientID, cluster.token(t, time.Now(), e.URL, testSASubject, testSAUID, nil))).status == http.StatusUnauthorized
	})
}
