/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	for _, alg := range []string{ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			k, err := GenerateKey(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm != alg || k.State != StateNext {
				t.Errorf("Algorithm, State = %q, %q; want %q, %q", k.Algorithm, k.State, alg, StateNext)
			}
			switch p := k.Private.(type) {
			case *ecdsa.PrivateKey:
				if alg != ES256 || p.Curve != elliptic.P256() {
					t.Errorf("%s key is ECDSA on %s", alg, p.Curve.Params().Name)
				}
			case *rsa.PrivateKey:
				if alg != RS256 || p.N.BitLen() != 2048 {
					t.Errorf("%s key is RSA with %d bits", alg, p.N.BitLen())
				}
			default:
				t.Fatalf("%s key is a %T", alg, p)
			}
			der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(der)
			if want := base64.RawURLEncoding.EncodeToString(sum[:16]); k.KID != want {
				t.Errorf("KID = %q, want %q", k.KID, want)
			}
			if len(k.KID) != 22 {
				t.Errorf("KID %q has %d characters, want 22", k.KID, len(k.KID))
			}
			if err := checkSigner(alg, k.Private); err != nil {
				t.Errorf("checkSigner(generated key) = %v", err)
			}
		})
	}
	if _, err := GenerateKey("HS256", nil); err == nil {
		t.Error("GenerateKey(HS256) succeeded")
	}
	if _, err := GenerateKey("", nil); err == nil {
		t.Error(`GenerateKey("") succeeded`)
	}
}

func TestKeyIDIsStable(t *testing.T) {
	a := loadKey(t, "testkey-es256.pem", ES256, StateActive, t0)
	b := loadKey(t, "testkey-es256.pem", ES256, StateActive, t0)
	c := loadKey(t, "testkey-es256-next.pem", ES256, StateActive, t0)
	if a.KID != b.KID {
		t.Errorf("same key, two kids: %q, %q", a.KID, b.KID)
	}
	if a.KID == c.KID {
		t.Errorf("two keys, one kid %q", a.KID)
	}
	if _, err := KeyID("not a key"); err == nil {
		t.Error("KeyID(string) succeeded")
	}
}

func TestCheckSigner(t *testing.T) {
	keys := newTestKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ok   bool
		err  error
	}{
		{"ES256 with P-256", true, checkSigner(ES256, keys.es.Private)},
		{"RS256 with RSA 2048", true, checkSigner(RS256, keys.rs.Private)},
		{"ES256 with RSA", false, checkSigner(ES256, keys.rs.Private)},
		{"RS256 with ECDSA", false, checkSigner(RS256, keys.es.Private)},
		{"ES256 with P-384", false, checkSigner(ES256, p384)},
		{"RS256 with RSA 1024", false, checkSigner(RS256, rsa1024)},
		{"HS256", false, checkSigner("HS256", keys.es.Private)},
		{"none", false, checkSigner("none", keys.es.Private)},
	} {
		if (tt.err == nil) != tt.ok {
			t.Errorf("%s: checkSigner error = %v, want ok=%v", tt.name, tt.err, tt.ok)
		}
	}
}
