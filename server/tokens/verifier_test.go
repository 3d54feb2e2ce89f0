/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// b64 encodes a JSON value as a JWS segment.
func b64(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAccessTokenRefuses(t *testing.T) {
	f := newFixture(t)
	good := f.accessToken(t, ES256)
	parts := strings.Split(good, ".")
	es, _ := f.set.lookupEntry(f.keys.es.KID)
	rs, _ := f.set.lookupEntry(f.keys.rs.KID)
	atHeader := func(alg, kid string) map[string]any {
		return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
	}
	without := func(claim string) map[string]any {
		p := validPayload()
		delete(p, claim)
		return p
	}
	with := func(claim string, v any) map[string]any {
		p := validPayload()
		p[claim] = v
		return p
	}

	// Payload changed after signing: more scopes.
	payload := decodePart(t, good, 1)
	payload["scope"] = "openid admin:all"
	tamperedPayload := parts[0] + "." + b64(t, payload) + "." + parts[2]

	// Signature changed: flip one bit of its first byte.
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// Header changed after signing: another kid that exists.
	header := decodePart(t, good, 0)
	header["kid"] = f.keys.esNext.KID
	swappedKID := b64(t, header) + "." + parts[1] + "." + parts[2]

	// alg "none" with an empty signature, as jwt libraries write it.
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(validPayload()))
	none.Header["kid"] = f.keys.es.KID
	none.Header["typ"] = "at+jwt"
	noneToken, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	// Algorithm confusion: HS256 with the public key (as published, as PEM, as DER) as the
	// HMAC secret, naming a real kid.
	var confusion []string
	pubDER, err := x509.MarshalPKIXPublicKey(f.keys.rs.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	for _, kid := range []string{f.keys.rs.KID, f.keys.es.KID} {
		for _, secret := range [][]byte{pubDER, pubPEM, f.set.JWKS()} {
			for _, method := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
				tok := jwt.NewWithClaims(method, jwt.MapClaims(validPayload()))
				tok.Header["kid"] = kid
				tok.Header["typ"] = "at+jwt"
				s, err := tok.SignedString(secret)
				if err != nil {
					t.Fatal(err)
				}
				confusion = append(confusion, s)
			}
		}
	}

	idToken, err := f.issuer.IDToken(IDClaims{Subject: "user-1", ClientID: "web", TTL: time.Hour}, ES256)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]string{
		"empty":                "",
		"garbage":              "not a token",
		"two parts":            parts[0] + "." + parts[1],
		"four parts":           good + ".x",
		"truncated":            good[:len(good)-10],
		"tampered payload":     tamperedPayload,
		"tampered signature":   tamperedSig,
		"no signature":         parts[0] + "." + parts[1] + ".",
		"swapped kid":          swappedKID,
		"padded base64":        parts[0] + "." + parts[1] + "==." + parts[2],
		"alg none":             noneToken,
		"alg none by hand":     b64(t, map[string]any{"alg": "none", "kid": f.keys.es.KID, "typ": "at+jwt"}) + "." + b64(t, validPayload()) + ".",
		"ID token as access":   idToken,
		"typ JWT":              signCustom(t, es, map[string]any{"alg": ES256, "kid": es.key.KID, "typ": "JWT"}, validPayload()),
		"no typ":               signCustom(t, es, map[string]any{"alg": ES256, "kid": es.key.KID}, validPayload()),
		"typ number":           signCustom(t, es, map[string]any{"alg": ES256, "kid": es.key.KID, "typ": 1}, validPayload()),
		"unknown kid":          signCustom(t, es, atHeader(ES256, "unknown"), validPayload()),
		"no kid":               signCustom(t, es, map[string]any{"alg": ES256, "typ": "at+jwt"}, validPayload()),
		"RS256 header ES key":  signCustom(t, es, atHeader(RS256, es.key.KID), validPayload()),
		"ES256 header RS key":  signCustom(t, rs, atHeader(ES256, rs.key.KID), validPayload()),
		"kid of another key":   signCustom(t, es, atHeader(ES256, f.keys.esNext.KID), validPayload()),
		"crit header":          signCustom(t, es, map[string]any{"alg": ES256, "kid": es.key.KID, "typ": "at+jwt", "crit": []string{"exp"}}, validPayload()),
		"wrong issuer":         signCustom(t, es, atHeader(ES256, es.key.KID), with("iss", "https://evil.example.com")),
		"issuer with slash":    signCustom(t, es, atHeader(ES256, es.key.KID), with("iss", testIssuer+"/")),
		"no issuer":            signCustom(t, es, atHeader(ES256, es.key.KID), without("iss")),
		"expired":              signCustom(t, es, atHeader(ES256, es.key.KID), with("exp", t0.Add(-time.Minute).Unix())),
		"no exp":               signCustom(t, es, atHeader(ES256, es.key.KID), without("exp")),
		"exp as string":        signCustom(t, es, atHeader(ES256, es.key.KID), with("exp", "never")),
		"issued in the future": signCustom(t, es, atHeader(ES256, es.key.KID), with("iat", t0.Add(time.Hour).Unix())),
		"not yet valid":        signCustom(t, es, atHeader(ES256, es.key.KID), with("nbf", t0.Add(time.Hour).Unix())),
		"no sub":               signCustom(t, es, atHeader(ES256, es.key.KID), without("sub")),
		"no client_id":         signCustom(t, es, atHeader(ES256, es.key.KID), without("client_id")),
		"no jti":               signCustom(t, es, atHeader(ES256, es.key.KID), without("jti")),
		"no iat":               signCustom(t, es, atHeader(ES256, es.key.KID), without("iat")),
		"no aud":               signCustom(t, es, atHeader(ES256, es.key.KID), without("aud")),
		"scope as array":       signCustom(t, es, atHeader(ES256, es.key.KID), with("scope", []string{"openid"})),
		"too long":             parts[0] + "." + strings.Repeat("A", maxTokenLen) + "." + parts[2],
	}
	for i, tok := range confusion {
		tests["HMAC with public key "+string(rune('a'+i))] = tok
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := f.verifier.VerifyAccessToken(tok)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if got != nil {
				t.Errorf("returned claims with an error: %+v", got)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
		})
	}

	// The control: the same construction with nothing wrong is accepted, so the
	// refusals above are for the reason their names give.
	for name, tok := range map[string]string{
		"good":                good,
		"signCustom baseline": signCustom(t, es, atHeader(ES256, es.key.KID), validPayload()),
		"RS256 baseline":      signCustom(t, rs, atHeader(RS256, rs.key.KID), validPayload()),
		"application/at+jwt":  signCustom(t, es, map[string]any{"alg": ES256, "kid": es.key.KID, "typ": "application/at+JWT"}, validPayload()),
		"audience array":      signCustom(t, es, atHeader(ES256, es.key.KID), with("aud", []string{"a", "b"})),
		"next key signs":      signCustom(t, mustEntry(t, f.set, f.keys.esNext.KID), atHeader(ES256, f.keys.esNext.KID), validPayload()),
	} {
		if _, err := f.verifier.VerifyAccessToken(tok); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

func mustEntry(t *testing.T, set *KeySet, kid string) *keyEntry {
	t.Helper()
	e, ok := set.lookupEntry(kid)
	if !ok {
		t.Fatalf("kid %s not in set", kid)
	}
	return e
}

func TestVerifyAccessTokenExpiryAndLeeway(t *testing.T) {
	f := newFixture(t) // leeway 30s, TTL 15m
	tok := f.accessToken(t, ES256)
	for _, tt := range []struct {
		at time.Duration
		ok bool
	}{
		{-20 * time.Second, true}, // clock behind the issuer's, within leeway
		{-time.Minute, false},     // issued in the future beyond leeway
		{0, true},
		{15*time.Minute - time.Second, true},
		{15*time.Minute + 20*time.Second, true}, // within leeway
		{15*time.Minute + 31*time.Second, false},
		{24 * time.Hour, false},
	} {
		f.now = t0.Add(tt.at)
		_, err := f.verifier.VerifyAccessToken(tok)
		if (err == nil) != tt.ok {
			t.Errorf("at t0%+v: err = %v, want ok=%v", tt.at, err, tt.ok)
		}
		if !tt.ok && tt.at > 0 && !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("at t0%+v: error %v does not wrap jwt.ErrTokenExpired", tt.at, err)
		}
	}
}

func TestVerifierMisconfigured(t *testing.T) {
	f := newFixture(t)
	tok := f.accessToken(t, ES256)
	for name, v := range map[string]*Verifier{
		"no issuer": {Keys: f.set, Clock: f.verifier.Clock},
		"no keys":   {Issuer: testIssuer, Clock: f.verifier.Clock},
		"other iss": {Issuer: "https://other.example.com", Keys: f.set, Clock: f.verifier.Clock},
	} {
		if _, err := v.VerifyAccessToken(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
}

// TestKeyRotation walks a key through next, active and retired, as the rotation job does,
// and checks which tokens verify at each step.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	oldKey, newKey := *f.keys.es, *f.keys.esNext
	if err := f.set.Replace([]*Key{&oldKey, &newKey}); err != nil {
		t.Fatal(err)
	}
	before := f.accessToken(t, ES256)
	if h := decodePart(t, before, 0); h["kid"] != oldKey.KID {
		t.Fatalf("signed with %v before rotation, want %s", h["kid"], oldKey.KID)
	}

	// Promote: the next key signs, the old one is retired but still published.
	promoted, retired := newKey, oldKey
	promoted.State, retired.State = StateActive, StateRetired
	if err := f.set.Replace([]*Key{&retired, &promoted}); err != nil {
		t.Fatal(err)
	}
	after := f.accessToken(t, ES256)
	if h := decodePart(t, after, 0); h["kid"] != newKey.KID {
		t.Errorf("signed with %v after rotation, want %s", h["kid"], newKey.KID)
	}
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := f.verifier.VerifyAccessToken(tok); err != nil {
			t.Errorf("token from %s rotation refused while the retired key is in the set: %v", name, err)
		}
	}
	if !strings.Contains(string(f.set.JWKS()), oldKey.KID) {
		t.Error("retired key missing from the JWKS")
	}

	// Drop the retired key: its tokens stop verifying, new ones still do.
	if err := f.set.Replace([]*Key{&promoted}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.VerifyAccessToken(before); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of a removed key: err = %v, want ErrInvalidToken", err)
	}
	if _, err := f.verifier.VerifyAccessToken(after); err != nil {
		t.Errorf("token of the active key refused: %v", err)
	}
	if strings.Contains(string(f.set.JWKS()), oldKey.KID) {
		t.Error("removed key still in the JWKS")
	}
}

func BenchmarkVerifyAccessTokenES256(b *testing.B) {
	f := newFixture(b)
	tok := f.accessToken(b, ES256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.verifier.VerifyAccessToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAccessTokenRS256(b *testing.B) {
	f := newFixture(b)
	tok := f.accessToken(b, RS256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.verifier.VerifyAccessToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}
