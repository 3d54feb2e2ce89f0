/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const issuer = "https://kubernetes.default.svc"

func jwks(t *testing.T, keys ...jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

// Keys are read from the store once and kept until invalidated (the server does it on
// the store's notification) or their TTL passes; an unknown kid asks for a refresh at most
// once per interval.
func TestIssuersCacheAndRefreshRequests(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.URL(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	is := &federation.Issuers{Store: st, Clock: func() time.Time { return now }, TTL: time.Minute, RefreshInterval: 10 * time.Second}

	if _, err := is.Key(ctx, issuer, "k1"); !errors.Is(err, federation.ErrUnknownIssuer) {
		t.Fatalf("Key of an issuer not stored: %v, want ErrUnknownIssuer", err)
	}
	if _, err := is.RequestRefresh(ctx, issuer); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RequestRefresh of an issuer not stored: %v, want ErrNotFound", err)
	}
	if err := st.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{Issuer: issuer, JWKS: jwks(t, rsaKey(t, "k1")), FetchedAt: now}); err != nil {
		t.Fatal(err)
	}
	// The missing issuer is remembered until invalidated.
	if _, err := is.Key(ctx, issuer, "k1"); !errors.Is(err, federation.ErrUnknownIssuer) {
		t.Errorf("before invalidation: %v, want the cached ErrUnknownIssuer", err)
	}
	is.Invalidate(issuer)
	k, err := is.Key(ctx, issuer, "k1")
	if err != nil || !k.Allows("RS256") || k.Allows("ES256") || k.Allows("HS256") {
		t.Fatalf("Key after invalidation: %+v %v", k, err)
	}
	if _, err := is.Key(ctx, issuer, "k2"); !errors.Is(err, federation.ErrUnknownKey) {
		t.Errorf("unknown kid: %v, want ErrUnknownKey", err)
	}
	// The failed request above counts against the interval too (a database that fails is
	// not asked again at once).
	if asked, _ := is.RequestRefresh(ctx, issuer); asked {
		t.Error("a request within the interval of a failed one was written")
	}
	now = now.Add(11 * time.Second)
	asked, err := is.RequestRefresh(ctx, issuer)
	if err != nil || !asked {
		t.Fatalf("first RequestRefresh: %v %v", asked, err)
	}
	if asked, _ = is.RequestRefresh(ctx, issuer); asked {
		t.Error("a second request within the interval was written")
	}
	now = now.Add(11 * time.Second)
	if asked, _ = is.RequestRefresh(ctx, issuer); !asked {
		t.Error("a request after the interval was not written")
	}

	// New keys stored: without a notification they are read after the TTL.
	if err := st.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{Issuer: issuer, JWKS: jwks(t, rsaKey(t, "k2")), FetchedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := is.Key(ctx, issuer, "k2"); !errors.Is(err, federation.ErrUnknownKey) {
		t.Errorf("within the TTL: %v, want the cached keys", err)
	}
	now = now.Add(time.Minute)
	if _, err := is.Key(ctx, issuer, "k2"); err != nil {
		t.Errorf("after the TTL: %v", err)
	}
	is.Reset()
	if _, err := is.Key(ctx, issuer, "k1"); !errors.Is(err, federation.ErrUnknownKey) {
		t.Errorf("k1 after it left the set: %v", err)
	}
}

// ParseJWKS keeps public signing keys with a kid and refuses a set without one.
func TestParseJWKS(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	private := rsaKey(t, "private")
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	private.Key = rk
	set := jwks(t, rsaKey(t, "r1"), jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "e1"},
		jose.JSONWebKey{Key: &ec.PublicKey}, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "enc", Use: "enc"}, private)
	keys, err := federation.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !keys["e1"].Allows("ES384") || keys["e1"].Allows("ES256") || !keys["r1"].Allows("RS256") {
		t.Errorf("keys %v: want r1 (RS256) and e1 (ES384) only", keys)
	}
	for _, bad := range []string{`{`, `{"keys":[]}`, `[]`, `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`} {
		if _, err := federation.ParseJWKS(json.RawMessage(bad)); err == nil {
			t.Errorf("ParseJWKS(%s) accepted", bad)
		}
	}
}
