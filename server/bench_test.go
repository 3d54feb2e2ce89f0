/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// newBenchHandler is a server on a fresh database (newTestEnv) with rate limits out of the
// way; benchmarks call its handler directly, without a listener.
func newBenchHandler(b *testing.B) (http.Handler, *registry.Registry) {
	b.Helper()
	e := newTestEnv(b, func(cfg *server.Config) {
		cfg.TokenPerClientPerSecond, cfg.TokenPerIPPerSecond = 1e9, 1e9
	})
	return e.srv.Handler(), e.reg
}

// BenchmarkTokenClientCredentials is a whole token endpoint request with the
// client_credentials grant through the server's handler: form parsing, client
// authentication (cached client, SHA-256 secret), scope checks, ES256 signing and the
// JSON answer. After the first request it touches no database.
func BenchmarkTokenClientCredentials(b *testing.B) {
	h, reg := newBenchHandler(b)
	ctx := context.Background()
	if err := reg.CreateScope(ctx, &store.Scope{Name: "api:read"}); err != nil {
		b.Fatal(err)
	}
	c := &store.Client{ID: "bench-service", Name: "Benchmark service", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}
	secret, err := reg.CreateClient(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(secret)))
	const body = "grant_type=client_credentials&scope=api%3Aread"
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, h, "/api/v1/oauth/token", basic, body)
	}
}

// benchPost sends one form POST with Basic client authentication through h and fails the
// benchmark unless it is answered 200; it returns the body.
func benchPost(b *testing.B, h http.Handler, path, basic, body string) []byte {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", basic)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// BenchmarkIntrospection is an introspection of a client_credentials access token by a
// confidential client through the server's handler: form parsing, client authentication,
// the verification (cached after the first request), the deny-list and the JSON answer.
func BenchmarkIntrospection(b *testing.B) {
	h, reg := newBenchHandler(b)
	ctx := context.Background()
	if err := reg.CreateScope(ctx, &store.Scope{Name: "api:read"}); err != nil {
		b.Fatal(err)
	}
	c := &store.Client{ID: "bench-resource", Name: "Benchmark resource server", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}
	secret, err := reg.CreateClient(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(secret)))
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(benchPost(b, h, "/api/v1/oauth/token", basic, "grant_type=client_credentials&scope=api%3Aread"), &tr); err != nil {
		b.Fatal(err)
	}
	body := "token=" + tr.AccessToken + "&token_type_hint=access_token"
	b.ReportAllocs()
	for b.Loop() {
		if out := benchPost(b, h, "/api/v1/oauth/introspect", basic, body); !bytes.Contains(out, []byte(`"active":true`)) {
			b.Fatalf("inactive: %s", out)
		}
	}
}

// BenchmarkDiscovery is the discovery document through the server's handler; the issue
// asks for precomputed bytes and no allocation of the handler's own.
func BenchmarkDiscovery(b *testing.B) {
	h, _ := newBenchHandler(b)
	r := httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
