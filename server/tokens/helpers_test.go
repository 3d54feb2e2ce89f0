/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testIssuer = "https://auth.example.com"

// counter is a deterministic io.Reader: 0, 1, 2, ... 255, 0, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// loadKey reads a PKCS#8 PEM test key from testdata. The keys are fixed so that tests do
// not pay for RSA key generation and fuzz seeds stay valid.
func loadKey(tb testing.TB, file, alg, state string, created time.Time) *Key {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		tb.Fatalf("%s: no PEM block", file)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	signer := priv.(crypto.Signer)
	kid, err := KeyID(signer.Public())
	if err != nil {
		tb.Fatal(err)
	}
	return &Key{KID: kid, Algorithm: alg, Private: signer, State: state, CreatedAt: created}
}

// testKeys are an active ES256 key, an active RS256 key and a next ES256 key.
type testKeys struct {
	es, rs, esNext *Key
}

func newTestKeys(tb testing.TB) testKeys {
	tb.Helper()
	return testKeys{
		es:     loadKey(tb, "testkey-es256.pem", ES256, StateActive, t0.Add(-48*time.Hour)),
		rs:     loadKey(tb, "testkey-rs256.pem", RS256, StateActive, t0.Add(-48*time.Hour)),
		esNext: loadKey(tb, "testkey-es256-next.pem", ES256, StateNext, t0.Add(-time.Hour)),
	}
}

func (k testKeys) all() []*Key { return []*Key{k.es, k.rs, k.esNext} }

// fixture is an issuer and a verifier sharing a key set and a clock the test can move.
type fixture struct {
	keys     testKeys
	set      *KeySet
	now      time.Time
	issuer   *Issuer
	verifier *Verifier
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{keys: newTestKeys(tb), now: t0}
	set, err := NewKeySet(f.keys.all())
	if err != nil {
		tb.Fatal(err)
	}
	f.set = set
	clock := func() time.Time { return f.now }
	f.issuer = &Issuer{Issuer: testIssuer, Keys: set, Clock: clock, Rand: &counter{}}
	f.verifier = &Verifier{Issuer: testIssuer, Keys: set, Clock: clock, Leeway: 30 * time.Second}
	return f
}

func sampleAccessClaims() AccessClaims {
	return AccessClaims{
		Subject:  "0b9e4d6a-7c1f-4d5e-9a3b-2f8c6e1d0a47",
		ClientID: "web",
		Audience: []string{"https://api.example.com"},
		Scopes:   []string{"openid", "profile", "orders:read"},
		TTL:      15 * time.Minute,
		AuthTime: t0.Add(-time.Minute),
	}
}

func (f *fixture) accessToken(tb testing.TB, alg string) string {
	tb.Helper()
	tok, err := f.issuer.AccessToken(sampleAccessClaims(), alg)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// decodePart decodes one part (0 header, 1 payload) of a compact JWS into a map.
func decodePart(tb testing.TB, token string, part int) map[string]any {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[part])
	if err != nil {
		tb.Fatalf("part %d: %v", part, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("part %d: %v", part, err)
	}
	return m
}

// signCustom signs an arbitrary header and payload with e, for tokens the Issuer would
// never make (missing claims, odd headers) but that carry a valid signature.
func signCustom(tb testing.TB, e *keyEntry, header, payload map[string]any) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := signJWS(e, base64.RawURLEncoding.EncodeToString(h), p)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// validPayload is the payload of a good access token at t0, for signCustom.
func validPayload() map[string]any {
	return map[string]any{
		"iss":       testIssuer,
		"sub":       "user-1",
		"aud":       "https://api.example.com",
		"exp":       t0.Add(time.Hour).Unix(),
		"iat":       t0.Unix(),
		"jti":       "jti-1",
		"client_id": "web",
		"scope":     "openid",
	}
}
