/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authly-dev/authly-operator/server/clientkeys"
	"github.com/authly-dev/authly-operator/server/store"
)

// rotatingKeys is a client's jwks_uri: an https server on 127.0.0.1 serving the public
// half of its current keys, counting the requests.
type rotatingKeys struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
	hits atomic.Int64
}

func newRotatingKeys(t *testing.T) *rotatingKeys {
	t.Helper()
	rk := &rotatingKeys{keys: map[string]*ecdsa.PrivateKey{}}
	rk.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rk.hits.Add(1)
		rk.mu.Lock()
		defer rk.mu.Unlock()
		set := jose.JSONWebKeySet{}
		for kid, k := range rk.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(rk.srv.Close)
	return rk
}

// rotate replaces the published keys by a new one, kid.
func (rk *rotatingKeys) rotate(t *testing.T, kid string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk.mu.Lock()
	defer rk.mu.Unlock()
	rk.keys = map[string]*ecdsa.PrivateKey{kid: k}
	return k
}

// assertionTest is a Provider with one private_key_jwt client whose keys are at a
// jwks_uri on 127.0.0.1, which the provider's fetcher is allowed to reach only when
// allowLoopback.
func assertionTest(t *testing.T, allowLoopback bool) (*http.ServeMux, *rotatingKeys, *time.Time) {
	t.Helper()
	rk := newRotatingKeys(t)
	roots := x509.NewCertPool()
	roots.AddCert(rk.srv.Certificate())
	now := fuzzNow
	clock := func() time.Time { return now }
	var allowed []string
	if allowLoopback {
		allowed = []string{"127.0.0.1"}
	}
	fetcher, err := clientkeys.New(clientkeys.Config{AllowedHosts: allowed, RootCAs: roots, Clock: clock, RefetchInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := grantKeys()
	if err != nil {
		t.Fatal(err)
	}
	clients := memClients{"svc": {ID: "svc", Type: store.Confidential, GrantTypes: []string{GrantClientCredentials},
		TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKSURI: rk.srv.URL + "/jwks"}}
	p, err := New(Deps{
		Config: Config{Issuer: fuzzIssuer}, Store: newFakeStore(), Clients: clients, Keys: keys, Revocations: noRevocations{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock, ClientKeys: fetcher,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	return mux, rk, &now
}

func signAssertion(t *testing.T, key *ecdsa.PrivateKey, kid string, now time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": "svc", "sub": "svc", "aud": fuzzIssuer + PathToken,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": rand.Text()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func postAssertion(mux *http.ServeMux, assertion string) (int, string, http.Header) {
	form := url.Values{"grant_type": {GrantClientCredentials}, "client_assertion_type": {ClientAssertionTypeJWTBearer},
		"client_assertion": {assertion}}
	r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w.Code, w.Body.String(), w.Header()
}

// A client whose keys are at a jwks_uri rotates them: its first assertion with the new
// kid makes the server fetch the set again, once; assertions naming unknown kids after
// that do not fetch again within the refetch interval.
func TestPrivateKeyJWTFromJWKSURIFollowsRotation(t *testing.T) {
	mux, rk, now := assertionTest(t, true)
	k1 := rk.rotate(t, "k1")
	if code, body, _ := postAssertion(mux, signAssertion(t, k1, "k1", *now)); code != http.StatusOK {
		t.Fatalf("k1: %d %s", code, body)
	}
	*now = now.Add(11 * time.Second)
	k2 := rk.rotate(t, "k2")
	if code, body, _ := postAssertion(mux, signAssertion(t, k2, "k2", *now)); code != http.StatusOK {
		t.Fatalf("k2 after rotation: %d %s", code, body)
	}
	if n := rk.hits.Load(); n != 2 {
		t.Fatalf("%d fetches of the jwks_uri, want 2", n)
	}
	// The retired key is gone once the set was refetched; unknown kids do not refetch.
	for _, kid := range []string{"k1", "k3", "k4"} {
		code, body, h := postAssertion(mux, signAssertion(t, k1, kid, *now))
		if code != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") || h.Get("WWW-Authenticate") == "" {
			t.Errorf("kid %s: %d %s", kid, code, body)
		}
	}
	if n := rk.hits.Load(); n != 2 {
		t.Errorf("%d fetches after unknown kids within the interval, want 2", n)
	}
}

// Without the server allowing it, a jwks_uri on 127.0.0.1 is never fetched, and the
// client's assertion is refused with invalid_client, not a server error.
func TestPrivateKeyJWTLoopbackJWKSURIRefused(t *testing.T) {
	mux, rk, now := assertionTest(t, false)
	k1 := rk.rotate(t, "k1")
	code, body, h := postAssertion(mux, signAssertion(t, k1, "k1", *now))
	if code != http.StatusUnauthorized || !strings.Contains(body, `"invalid_client"`) || h.Get("WWW-Authenticate") == "" {
		t.Errorf("loopback jwks_uri: %d %s", code, body)
	}
	if n := rk.hits.Load(); n != 0 {
		t.Errorf("the loopback jwks_uri was fetched %d times", n)
	}
}
