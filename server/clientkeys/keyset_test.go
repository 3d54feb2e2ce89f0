/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package clientkeys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authly-dev/authly-operator/server/clientkeys"
)

// jwkJSON is the public JWK of key as a JSON object, with kid and alg.
func jwkJSON(t *testing.T, key any, kid, alg string) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setJSON(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseAcceptsPublicSignatureKeys(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	set, err := clientkeys.Parse(setJSON(t,
		jwkJSON(t, &p256.PublicKey, "p256", "ES256"),
		jwkJSON(t, &p384.PublicKey, "p384", ""),
		jwkJSON(t, edPub, "ed", "EdDSA"),
		jwkJSON(t, &rsaKey.PublicKey, "rsa", ""),
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kid, alg string
		want     int
	}{
		{"p256", "ES256", 1}, {"p256", "ES384", 0}, {"p384", "ES384", 1}, {"ed", "EdDSA", 1},
		{"rsa", "RS256", 1}, {"rsa", "PS256", 1}, {"rsa", "HS256", 0}, {"", "ES256", 1}, {"", "RS256", 1}, {"nope", "ES256", 0},
	} {
		if got := len(set.Candidates(c.kid, c.alg)); got != c.want {
			t.Errorf("Candidates(%q, %q) = %d keys, want %d", c.kid, c.alg, got, c.want)
		}
	}
}

func TestParseRefusesWhatCannotVerifyAnAssertion(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := jwkJSON(t, &p256.PublicKey, "a", "ES256")
	with := func(k map[string]any, name string, v any) map[string]any {
		out := map[string]any{}
		for n, x := range k {
			out[n] = x
		}
		if v == nil {
			delete(out, name)
		} else {
			out[name] = v
		}
		return out
	}
	private := jwkJSON(t, p256, "priv", "ES256")
	for name, c := range map[string]struct {
		raw  []byte
		want string
	}{
		"not json":        {[]byte(`{"keys":`), "not a JSON object"},
		"no keys":         {[]byte(`{"keys": []}`), "keys is empty"},
		"array":           {[]byte(`[]`), "not a JSON object"},
		"private EC key":  {setJSON(t, private), `private or symmetric member "d"`},
		"symmetric key":   {[]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), `member "k"`},
		"kty":             {setJSON(t, with(good, "kty", "oct")), `kty "oct"`},
		"P-521":           {setJSON(t, jwkJSON(t, &p521.PublicKey, "a", "")), "not P-256 or P-384"},
		"small RSA":       {setJSON(t, jwkJSON(t, &small.PublicKey, "a", "")), "1024 bits"},
		"alg none":        {setJSON(t, with(good, "alg", "none")), `alg "none"`},
		"alg HS256":       {setJSON(t, with(good, "alg", "HS256")), `alg "HS256"`},
		"alg of another":  {setJSON(t, with(good, "alg", "RS256")), `alg "RS256"`},
		"use enc":         {setJSON(t, with(good, "use", "enc")), `use "enc"`},
		"duplicate kid":   {setJSON(t, good, good), `kid "a" is not unique`},
		"point off curve": {setJSON(t, with(good, "y", good["x"])), "key material"},
		"OKP X25519":      {setJSON(t, map[string]any{"kty": "OKP", "crv": "X25519", "x": good["x"]}), "not Ed25519"},
		"kid not string":  {setJSON(t, with(good, "kid", 7)), "must be strings"},
		"kid with NUL":    {setJSON(t, with(good, "kid", "a\x00b")), "printable"},
		"kid too long":    {setJSON(t, with(good, "kid", strings.Repeat("k", 257))), "printable"},
	} {
		_, err := clientkeys.Parse(c.raw)
		if !errors.Is(err, clientkeys.ErrInvalidSet) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse = %v, want ErrInvalidSet saying %q", name, err, c.want)
		}
	}
	var many []map[string]any
	for range clientkeys.MaxKeys + 1 {
		many = append(many, with(good, "kid", nil))
	}
	if _, err := clientkeys.Parse(setJSON(t, many...)); !errors.Is(err, clientkeys.ErrInvalidSet) {
		t.Errorf("%d keys: %v", len(many), err)
	}
}
