/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// The grants' unit tests: the token endpoint through httptest, against fakeStore and
// in-memory clients, without Postgres. The end-to-end tests of the server package run
// the same flows against the real store.

const (
	grantSecret   = "grant-secret-0123456789abcdef0123456789abcdef"
	grantRedirect = "https://app.example.com/cb"
	// alice is a user of the fake store.
	aliceID       = "6b1f0c3e-6f0e-4a55-9b53-0a4c1f6f2f11"
	alicePassword = "correct horse battery staple"
)

// testPasswordParams keep argon2id cheap in unit tests; the default parameters are
// exercised by the credentials package and the end-to-end tests.
var testPasswordParams = credentials.PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func unitGrantClients() memClients {
	secret := credentials.HashSecret(grantSecret)
	return memClients{
		"web": {ID: "web", Type: store.Confidential, SecretHash: secret, RedirectURIs: []string{grantRedirect},
			GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
			Scopes:     []string{"openid", "profile", "email", "offline_access", "orders:read", "orders:write"}},
		"spa": {ID: "spa", Type: store.Public, RedirectURIs: []string{grantRedirect},
			GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid", "orders:read"}},
		"m2m": {ID: "m2m", Type: store.Confidential, SecretHash: secret,
			GrantTypes: []string{GrantClientCredentials},
			Scopes:     []string{"openid", "profile", "orders:read", "orders:write", "admin:clients:read"}},
		"public-m2m": {ID: "public-m2m", Type: store.Public, GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"orders:read"}},
		"cli": {ID: "cli", Type: store.Confidential, SecretHash: secret,
			GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"openid", "profile", "orders:read", "admin:clients:read"}},
		"cli-once": {ID: "cli-once", Type: store.Confidential, SecretHash: secret,
			GrantTypes: []string{GrantPassword}, Scopes: []string{"orders:read"}},
		"device-cli": {ID: "device-cli", Name: "Orders CLI", Type: store.Public,
			GrantTypes: []string{GrantDeviceCode, GrantRefreshToken}, Scopes: []string{"openid", "profile", "orders:read", "admin:clients:read"}},
		"device-tv": {ID: "device-tv", Type: store.Confidential, SecretHash: secret,
			GrantTypes: []string{GrantDeviceCode}, Scopes: []string{"orders:read"}},
	}
}

// grantKeys are the signing keys of every grantTest, made once: an RSA key takes a while.
var grantKeys = sync.OnceValues(func() (*tokens.KeySet, error) {
	es, err := tokens.GenerateKey(tokens.ES256, nil)
	if err != nil {
		return nil, err
	}
	rs, err := tokens.GenerateKey(tokens.RS256, nil)
	if err != nil {
		return nil, err
	}
	es.State, es.CreatedAt = tokens.StateActive, fuzzNow.Add(-time.Hour)
	rs.State, rs.CreatedAt = tokens.StateActive, fuzzNow.Add(-time.Hour)
	return tokens.NewKeySet([]*tokens.Key{es, rs})
})

// grantTest is one Provider on a fake store, with a clock the test moves.
type grantTest struct {
	t     *testing.T
	now   time.Time
	store *fakeStore
	p     *Provider
	mux   *http.ServeMux
	reuse []string // Hooks.RefreshReuse outcomes
}

func newGrantTest(t *testing.T, cfg Config) *grantTest {
	t.Helper()
	g := &grantTest{t: t, now: fuzzNow, store: newFakeStore()}
	keys, err := grantKeys()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = fuzzIssuer
	if cfg.Password.Memory == 0 {
		cfg.Password = testPasswordParams
	}
	g.p, err = New(Deps{
		Config: cfg, Store: g.store, Clients: unitGrantClients(), Keys: keys, Revocations: noRevocations{},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock: func() time.Time { return g.now },
		Hooks: Hooks{RefreshReuse: func(outcome string) { g.reuse = append(g.reuse, outcome) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.mux = http.NewServeMux()
	g.p.Register(g.mux)
	hash, err := credentials.HashPassword(testPasswordParams, alicePassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.store.addUser(&store.User{ID: aliceID, Username: "alice", Email: "alice@example.com", EmailVerified: true,
		Name: "Alice Liddell", PasswordHash: hash})
	return g
}

// tokenAnswer is a token endpoint answer, success or error.
type tokenAnswer struct {
	status           int
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	IDToken          string `json:"id_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// token posts a token request of client: confidential clients authenticate with HTTP
// Basic, public ones name themselves in the body.
func (g *grantTest) token(client string, form url.Values) tokenAnswer {
	g.t.Helper()
	return g.tokenWithSecret(client, grantSecret, form)
}

// tokenWithSecret is token with that secret for a confidential client.
func (g *grantTest) tokenWithSecret(client, secret string, form url.Values) tokenAnswer {
	g.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	c := unitGrantClients()[client]
	if c != nil && c.Type == store.Public {
		form.Set("client_id", client)
	}
	r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c == nil || c.Type == store.Confidential {
		r.Header.Set("Authorization", basic(client, secret))
	}
	w := httptest.NewRecorder()
	g.mux.ServeHTTP(w, r)
	a := tokenAnswer{status: w.Code}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		g.t.Fatalf("token answer %d %q: %v", w.Code, w.Body.String(), err)
	}
	return a
}

// access verifies an issued access token.
func (g *grantTest) access(a tokenAnswer) *tokens.VerifiedAccess {
	g.t.Helper()
	at, err := g.p.verifier.VerifyAccessToken(a.AccessToken)
	if err != nil {
		g.t.Fatalf("access token: %v", err)
	}
	return at
}

// check compares an answer with what a table row wants: wantErr "" is success.
func (a tokenAnswer) check(t *testing.T, wantErr, wantDesc string) {
	t.Helper()
	switch {
	case wantErr == "" && a.status != http.StatusOK:
		t.Fatalf("status %d %s: %s, want success", a.status, a.Error, a.ErrorDescription)
	case wantErr == "":
		if a.AccessToken == "" {
			t.Fatal("no access token")
		}
	case a.Error != wantErr || !strings.Contains(a.ErrorDescription, wantDesc):
		t.Fatalf("status %d %s: %q, want %s: %q", a.status, a.Error, a.ErrorDescription, wantErr, wantDesc)
	}
}
