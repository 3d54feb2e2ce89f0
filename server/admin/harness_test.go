/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
	"github.com/authly-dev/authly-operator/server/tokens"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var fastPasswords = credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// fakeTokens stands in for the OAuth provider: the tests name the tokens and what they
// carry, so that scope enforcement is tested without issuing JWTs (server/admin_test.go
// does that end to end).
type fakeTokens struct {
	mu     sync.Mutex
	tokens map[string]*tokens.VerifiedAccess
}

func (f *fakeTokens) CheckAccessToken(tok string) (*tokens.VerifiedAccess, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.tokens[tok]
	return at, ok
}

func (f *fakeTokens) add(tok string, at *tokens.VerifiedAccess) {
	f.mu.Lock()
	f.tokens[tok] = at
	f.mu.Unlock()
}

// The tokens every env knows. Client tokens have Subject == ClientID.
const (
	tokAll  = "all-admin-scopes"
	tokRead = "read-scopes-only"
	tokNone = "no-admin-scopes"
)

type env struct {
	t      testing.TB
	ctx    context.Context
	store  *store.Store
	reg    *registry.Registry
	tokens *fakeTokens
	url    string
	now    time.Time
	log    *strings.Builder
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := &env{t: t, ctx: ctx, store: st, reg: &registry.Registry{Store: st, Password: fastPasswords},
		tokens: &fakeTokens{tokens: map[string]*tokens.VerifiedAccess{}}, log: &strings.Builder{}}
	e.now = time.Now()
	e.tokens.add(tokAll, &tokens.VerifiedAccess{Subject: "ops", ClientID: "ops", Scopes: admin.ScopeNames()})
	e.tokens.add(tokRead, &tokens.VerifiedAccess{Subject: "ro", ClientID: "ro", Scopes: []string{
		admin.ScopeClientsRead, admin.ScopeScopesRead, admin.ScopeUsersRead, admin.ScopeSystemRead}})
	e.tokens.add(tokNone, &tokens.VerifiedAccess{Subject: "app", ClientID: "app", Scopes: []string{"openid", "orders:read"}})
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, e.log}, nil))
	api, err := admin.New(admin.Deps{Store: st, Registry: e.reg, Tokens: e.tokens, Log: log, Version: "v9.9.9-test"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// response is an answer of the API, read whole.
type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into v, failing the test if it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("answer %d is not JSON (%v): %s", r.status, err, r.body)
	}
}

// apiError decodes an error answer.
func (r response) apiError(t *testing.T) admin.Error {
	t.Helper()
	var e admin.Error
	r.json(t, &e)
	return e
}

// do sends a request; a body is sent as application/json.
func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return e.doCT(method, path, token, ct, body)
}

func (e *env) doCT(method, path, token, contentType, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// want fails the test unless the answer has the status.
func want(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); r.status != http.StatusNoContent && ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// mustJSON marshals v for a request body.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
