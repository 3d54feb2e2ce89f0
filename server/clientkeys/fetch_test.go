/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package clientkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/clientkeys"
)

// jwksServer is an https server on 127.0.0.1 that serves a JWK Set which the test may
// replace, and counts the requests it got.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	hits atomic.Int64
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(s.body)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	s.Server = httptest.NewTLSServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *jwksServer) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// port is the server's port on 127.0.0.1.
func (s *jwksServer) port() string { return s.URL[strings.LastIndex(s.URL, ":")+1:] }

func newKeySet(t *testing.T, kid string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return setJSON(t, jwkJSON(t, &k.PublicKey, kid, "ES256"))
}

// resolver makes names resolve to the given addresses, as a DNS answer would; nothing
// else resolves.
func resolver(names map[string]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		a, ok := names[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
}

func newFetcher(t *testing.T, cfg clientkeys.Config) *clientkeys.Fetcher {
	t.Helper()
	f, err := clientkeys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The three cases: a jwks_uri at 127.0.0.1, at the cloud metadata address
// 169.254.169.254, and at a name that resolves to a private address. Each is refused
// without a connection: the loopback server counts no request, and the other two
// addresses are refused before a socket is made (nothing routes off the machine).
func TestFetcherRefusesInternalAddresses(t *testing.T) {
	srv := newJWKSServer(t, newKeySet(t, "a"))
	f := newFetcher(t, clientkeys.Config{
		RootCAs:  srv.roots(),
		LookupIP: resolver(map[string]string{"keys.internal.example": "10.96.0.10", "mapped.example": "::ffff:127.0.0.1"}),
	})
	for _, uri := range []string{
		"https://127.0.0.1:" + srv.port() + "/jwks",
		"https://169.254.169.254/latest/meta-data/jwks",
		"https://keys.internal.example/jwks",
		"https://mapped.example:" + srv.port() + "/jwks",
		"https://[::1]:" + srv.port() + "/jwks",
		"https://100.64.0.1/jwks",
		"https://0.0.0.0:" + srv.port() + "/jwks",
	} {
		_, err := f.Keys(context.Background(), uri, "a")
		if !errors.Is(err, clientkeys.ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", uri, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests", n)
	}
}

func TestFetcherAllowsHostsTheServerAllows(t *testing.T) {
	srv := newJWKSServer(t, newKeySet(t, "a"))
	// httptest's certificate names example.com and 127.0.0.1.
	for name, c := range map[string]struct {
		allowed []string
		uri     string
	}{
		"by CIDR":    {[]string{"127.0.0.0/8"}, "https://127.0.0.1:" + srv.port() + "/jwks"},
		"by address": {[]string{"127.0.0.1"}, "https://127.0.0.1:" + srv.port() + "/jwks"},
		"by name":    {[]string{"EXAMPLE.com"}, "https://example.com:" + srv.port() + "/jwks"},
	} {
		f := newFetcher(t, clientkeys.Config{AllowedHosts: c.allowed, RootCAs: srv.roots(),
			LookupIP: resolver(map[string]string{"example.com": "127.0.0.1"})})
		set, err := f.Keys(context.Background(), c.uri, "a")
		if err != nil || !set.HasKID("a") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Allowing one name does not allow another that resolves to the same address.
	f := newFetcher(t, clientkeys.Config{AllowedHosts: []string{"example.com"}, RootCAs: srv.roots(),
		LookupIP: resolver(map[string]string{"other.example": "127.0.0.1"})})
	if _, err := f.Keys(context.Background(), "https://other.example:"+srv.port()+"/jwks", "a"); !errors.Is(err, clientkeys.ErrForbiddenAddress) {
		t.Errorf("other name: %v", err)
	}
	if _, err := clientkeys.New(clientkeys.Config{AllowedHosts: []string{"not a host!"}}); err == nil {
		t.Error("a malformed allowed host was accepted")
	}
}

func TestFetcherRefusesRedirectsElsewhereHTTPAndOversizedAnswers(t *testing.T) {
	srv := newJWKSServer(t, newKeySet(t, "a"))
	base := "https://127.0.0.1:" + srv.port()
	f := newFetcher(t, clientkeys.Config{AllowedHosts: []string{"127.0.0.1", "localhost"}, RootCAs: srv.roots(), MaxBytes: 2048,
		LookupIP: resolver(map[string]string{"localhost": "127.0.0.1"})})
	ctx := context.Background()
	if _, err := f.Keys(ctx, base+"/elsewhere?to=/jwks", "a"); err != nil {
		t.Errorf("redirect on the same host: %v", err)
	}
	for _, to := range []string{"https://localhost:" + srv.port() + "/jwks", "http://127.0.0.1:" + srv.port() + "/jwks"} {
		if _, err := f.Keys(ctx, base+"/elsewhere?to="+to, "a"); !errors.Is(err, clientkeys.ErrRedirect) {
			t.Errorf("redirect to %s: %v, want ErrRedirect", to, err)
		}
	}
	if _, err := f.Keys(ctx, "http://127.0.0.1:"+srv.port()+"/jwks", "a"); !errors.Is(err, clientkeys.ErrBadURI) {
		t.Errorf("http: %v, want ErrBadURI", err)
	}
	big := newFetcher(t, clientkeys.Config{AllowedHosts: []string{"127.0.0.1"}, RootCAs: srv.roots(), MaxBytes: 100})
	if _, err := big.Keys(ctx, base+"/jwks", "a"); !errors.Is(err, clientkeys.ErrFetch) || !strings.Contains(err.Error(), "more than 100 bytes") {
		t.Errorf("oversized: %v", err)
	}
}

// Rotation: an assertion with a new kid refetches the set once; another unknown kid
// right after is not worth a request; after RefetchInterval it is.
func TestFetcherFollowsRotationAndRateLimitsRefetches(t *testing.T) {
	srv := newJWKSServer(t, newKeySet(t, "a"))
	now := time.Unix(1_800_000_000, 0)
	f := newFetcher(t, clientkeys.Config{AllowedHosts: []string{"127.0.0.1"}, RootCAs: srv.roots(),
		RefetchInterval: 10 * time.Second, CacheTTL: time.Hour, Clock: func() time.Time { return now }})
	uri := "https://127.0.0.1:" + srv.port() + "/jwks"
	ctx := context.Background()
	keys := func(kid string) *clientkeys.Set {
		t.Helper()
		set, err := f.Keys(ctx, uri, kid)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	keys("a")
	keys("a")
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for a known kid, want 1", n)
	}
	srv.set(newKeySet(t, "b"))
	now = now.Add(11 * time.Second)
	if !keys("b").HasKID("b") {
		t.Fatal("the rotated key is not seen")
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}
	keys("unknown")
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches for an unknown kid right after a fetch, want still 2", n)
	}
	now = now.Add(11 * time.Second)
	for range 5 {
		if keys("unknown").HasKID("unknown") {
			t.Fatal("unknown kid found")
		}
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("%d fetches after unknown kids, want 3 (one refetch, then rate-limited)", n)
	}
	now = now.Add(11 * time.Second)
	keys("unknown")
	if n := srv.hits.Load(); n != 4 {
		t.Fatalf("%d fetches after the interval, want 4", n)
	}
}
