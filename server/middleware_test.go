/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/metrics"
	"github.com/authly-dev/authly-operator/server/oauth"
	"github.com/authly-dev/authly-operator/server/ratelimit"
	"github.com/authly-dev/authly-operator/server/settings"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestProxyForwardedClient(t *testing.T) {
	trusted := prefixes(t, "10.0.0.0/8", "fd00::/8")
	for _, tc := range []struct {
		name string
		peer string
		xff  []string
		want string // "" for no replacement
	}{
		{"untrusted peer is believed over its header", "203.0.113.9:1234", []string{"198.51.100.1"}, ""},
		{"trusted peer, one hop", "10.0.0.5:1234", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted wins over a spoofed left entry", "10.0.0.5:1234", []string{"1.1.1.1, 198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"several header lines read right to left", "10.0.0.5:1234", []string{"1.1.1.1", "198.51.100.1,10.1.1.1", "10.0.0.7"}, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.5:1234", []string{"10.9.9.9, 10.0.0.7"}, "10.9.9.9"},
		{"garbage left of trusted hops: the nearest trusted", "10.0.0.5:1234", []string{"evil, 10.0.0.7"}, "10.0.0.7"},
		{"garbage right away: no replacement", "10.0.0.5:1234", []string{"unknown"}, ""},
		{"empty entries skipped", "10.0.0.5:1234", []string{" , 198.51.100.1 ,"}, "198.51.100.1"},
		{"entries with ports and brackets", "10.0.0.5:1234", []string{"[2001:db8::1]:443, 198.51.100.2:80"}, "198.51.100.2"},
		{"bracketed v6", "[fd00::1]:1234", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"v4-mapped peer", "[::ffff:10.0.0.5]:1234", []string{"198.51.100.1"}, "198.51.100.1"},
		{"unparsable peer", "@", []string{"198.51.100.1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := forwardedClient(tc.peer, tc.xff, trusted)
			if tc.want == "" {
				if ok {
					t.Fatalf("replaced with %v, want no replacement", a)
				}
				return
			}
			if !ok || a != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %v (%v), want %s", a, ok, tc.want)
			}
		})
	}
}

func TestProxyMiddlewareReplacesRemoteAddr(t *testing.T) {
	var seen string
	h := trustProxies(prefixes(t, "10.0.0.0/8"), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	for _, tc := range []struct{ peer, xff, want string }{
		{"10.0.0.5:1234", "198.51.100.1", "198.51.100.1:0"},
		{"10.0.0.5:1234", "2001:db8::1", "[2001:db8::1]:0"},
		{"10.0.0.5:1234", "", "10.0.0.5:1234"},
		{"192.0.2.1:1234", "198.51.100.1", "192.0.2.1:1234"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: RemoteAddr %q, want %q", tc.peer, tc.xff, seen, tc.want)
		}
	}
	// Without trusted proxies the header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	trustProxies(nil, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)
	if seen != "10.0.0.5:1" {
		t.Errorf("no trusted proxies: RemoteAddr %q", seen)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("X-Content-Type-Options", "nosniff") // appending must not touch the shared value
	})
	for issuer, wantHSTS := range map[string]bool{"https://auth.example.com": true, "http://localhost:8000": false} {
		rec := httptest.NewRecorder()
		securityHeaders(issuer, ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if got := rec.Header().Values("X-Content-Type-Options"); len(got) == 0 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", issuer, got)
		}
		hsts := rec.Header().Get("Strict-Transport-Security")
		if (hsts == "max-age=31536000; includeSubDomains") != wantHSTS || (hsts != "") != wantHSTS {
			t.Errorf("%s: Strict-Transport-Security %q, want it: %v", issuer, hsts, wantHSTS)
		}
	}
	if len(nosniff) != 1 || nosniff[0] != "nosniff" {
		t.Fatalf("shared header value changed: %q", nosniff)
	}
}

func TestCORSMiddleware(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) })
	h := cors([]string{"https://spa.example.com", " https://other.example.com/ "}, next)
	do := func(method, path, origin string, preflight bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if preflight {
			r.Header.Set("Access-Control-Request-Method", "POST")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	// Preflight from an allowed origin, answered here.
	rec := do("OPTIONS", "/api/v1/oauth/token", "https://spa.example.com", true)
	if rec.Code != http.StatusNoContent ||
		rec.Header().Get("Access-Control-Allow-Origin") != "https://spa.example.com" ||
		rec.Header().Get("Access-Control-Allow-Methods") != "POST" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed preflight: %d %v", rec.Code, rec.Header())
	}
	if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed")
	}
	// The configured origin is normalized (spaces, trailing slash).
	if rec := do("GET", "/.well-known/jwks.json", "https://other.example.com", false); rec.Header().Get("Access-Control-Allow-Origin") != "https://other.example.com" {
		t.Errorf("normalized origin refused: %v", rec.Header())
	}
	// Preflight from another origin: refused without CORS headers.
	rec = do("OPTIONS", "/api/v1/oauth/token", "https://evil.example.com", true)
	if rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %v", rec.Code, rec.Header())
	}
	// Simple request from an allowed origin: passed on with the origin echoed and Vary.
	rec = do("GET", "/oidc/userinfo", "https://spa.example.com", false)
	if rec.Code != 299 || rec.Header().Get("Access-Control-Allow-Origin") != "https://spa.example.com" || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("allowed request: %d %v", rec.Code, rec.Header())
	}
	// From another origin: passed on, no allow header, still Vary.
	rec = do("GET", "/.well-known/openid-configuration", "https://evil.example.com", false)
	if rec.Code != 299 || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("foreign request: %d %v", rec.Code, rec.Header())
	}
	// Not on authorize or admin, whatever the origin.
	for _, p := range []string{"/api/v1/oauth/authorize", "/admin/clients"} {
		rec = do("GET", p, "https://spa.example.com", false)
		if rec.Code != 299 || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Vary") != "" {
			t.Errorf("%s: %d %v", p, rec.Code, rec.Header())
		}
		rec = do("OPTIONS", p, "https://spa.example.com", true)
		if rec.Code != 299 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s preflight answered: %d %v", p, rec.Code, rec.Header())
		}
	}
	// "*" allows any origin, answered with "*".
	rec = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/.well-known/jwks.json", nil)
	r.Header.Set("Origin", "https://anyone.example")
	cors([]string{"*"}, next).ServeHTTP(rec, r)
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %v", rec.Header())
	}
	// No origins configured: the middleware is not there.
	rec = httptest.NewRecorder()
	cors(nil, next).ServeHTTP(rec, r)
	if rec.Header().Get("Vary") != "" || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS without configured origins: %v", rec.Header())
	}
}

// BenchmarkMiddleware measures what every request pays for the middleware: a
// discovery-like handler behind the bare mux, and behind the server's whole chain with
// default limits, CORS origins and a trusted proxy configured.
func BenchmarkMiddleware(b *testing.B) {
	body := []byte(`{"issuer":"https://auth.example.com"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+oauth.PathOIDCMetadata, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	cfg := DefaultConfig()
	cfg.Issuer = "https://auth.example.com"
	cfg.CORSOrigins = []string{"https://spa.example.com"}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	s := &Server{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: metrics.New()}
	s.limiter = ratelimit.New(ratelimit.Config{RateLimits: settings.RateLimits{Replicas: 1, TokenPerIPPerSecond: 100}}, ratelimit.Paths{Token: oauth.PathToken})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"mux", mux}, {"chain", s.middleware(mux)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", oauth.PathOIDCMetadata, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
