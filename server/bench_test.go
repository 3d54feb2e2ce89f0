/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"encoding/base64"
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
		r := httptest.NewRequest(http.MethodPost, "/api/v1/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", basic)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
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
