/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestAccessTokenContents(t *testing.T) {
	f := newFixture(t)
	c := sampleAccessClaims()
	c.JTI = "fixed-jti"
	issued, err := f.issuer.IssueAccessToken(c, "")
	if err != nil {
		t.Fatal(err)
	}
	header := decodePart(t, issued.Token, 0)
	if diff := cmp.Diff(map[string]any{"alg": "ES256", "kid": f.keys.es.KID, "typ": "at+jwt"}, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	payload := decodePart(t, issued.Token, 1)
	want := map[string]any{
		"iss":       testIssuer,
		"sub":       c.Subject,
		"aud":       "https://api.example.com",
		"exp":       float64(t0.Add(15 * time.Minute).Unix()),
		"iat":       float64(t0.Unix()),
		"jti":       "fixed-jti",
		"client_id": "web",
		"scope":     "openid profile orders:read",
		"auth_time": float64(t0.Add(-time.Minute).Unix()),
	}
	if diff := cmp.Diff(want, payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if issued.JTI != "fixed-jti" || issued.KID != f.keys.es.KID ||
		!issued.IssuedAt.Equal(t0) || !issued.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("Issued = %+v", issued)
	}

	// Several audiences make an array; no auth_time and no scopes leave the claims out;
	// an empty JTI gets a fresh one.
	c = sampleAccessClaims()
	c.Audience = []string{"a", "b"}
	c.AuthTime = time.Time{}
	c.Scopes = nil
	issued, err = f.issuer.IssueAccessToken(c, ES256)
	if err != nil {
		t.Fatal(err)
	}
	payload = decodePart(t, issued.Token, 1)
	if diff := cmp.Diff([]any{"a", "b"}, payload["aud"]); diff != "" {
		t.Errorf("aud (-want +got):\n%s", diff)
	}
	for _, absent := range []string{"auth_time", "scope", "nbf"} {
		if _, ok := payload[absent]; ok {
			t.Errorf("payload has %s: %v", absent, payload)
		}
	}
	if jti, _ := payload["jti"].(string); jti == "" || jti != issued.JTI || len(jti) != 22 {
		t.Errorf("generated jti %q, Issued.JTI %q: want the same 22 characters", jti, issued.JTI)
	}
}

func TestAccessTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t)
			c := sampleAccessClaims()
			issued, err := f.issuer.IssueAccessToken(c, alg)
			if err != nil {
				t.Fatal(err)
			}
			if h := decodePart(t, issued.Token, 0); h["alg"] != alg {
				t.Errorf("alg = %v, want %s", h["alg"], alg)
			}
			got, err := f.verifier.VerifyAccessToken(issued.Token)
			if err != nil {
				t.Fatal(err)
			}
			want := &VerifiedAccess{
				Subject:   c.Subject,
				ClientID:  c.ClientID,
				Scopes:    c.Scopes,
				JTI:       issued.JTI,
				Audience:  c.Audience,
				ExpiresAt: t0.Add(15 * time.Minute),
				IssuedAt:  t0,
				AuthTime:  t0.Add(-time.Minute),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("VerifyAccessToken (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAccessTokenWithGolangJWT checks the tokens with an independent parser that only
// knows the JWKS, as a resource server would.
func TestAccessTokenWithGolangJWT(t *testing.T) {
	f := newFixture(t)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.set.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{ES256, RS256} {
		tok := f.accessToken(t, alg)
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
			keys := set.Key(tk.Header["kid"].(string))
			if len(keys) != 1 {
				return nil, errors.New("kid not in JWKS")
			}
			return keys[0].Key, nil
		}, jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return t0 }),
			jwt.WithIssuer(testIssuer), jwt.WithAudience("https://api.example.com"))
		if err != nil {
			t.Errorf("%s: golang-jwt with the JWKS: %v", alg, err)
		}
	}
}

func TestAccessTokenRefuses(t *testing.T) {
	f := newFixture(t)
	for name, mutate := range map[string]func(*AccessClaims){
		"no subject":      func(c *AccessClaims) { c.Subject = "" },
		"no client":       func(c *AccessClaims) { c.ClientID = "" },
		"no audience":     func(c *AccessClaims) { c.Audience = nil },
		"empty aud":       func(c *AccessClaims) { c.Audience = []string{""} },
		"no ttl":          func(c *AccessClaims) { c.TTL = 0 },
		"sub-second":      func(c *AccessClaims) { c.TTL = time.Millisecond },
		"scope space":     func(c *AccessClaims) { c.Scopes = []string{"a b"} },
		"scope empty":     func(c *AccessClaims) { c.Scopes = []string{""} },
		"scope quote":     func(c *AccessClaims) { c.Scopes = []string{`a"b`} },
		"scope non-ascii": func(c *AccessClaims) { c.Scopes = []string{"café"} },
	} {
		c := sampleAccessClaims()
		mutate(&c)
		if tok, err := f.issuer.AccessToken(c, ES256); err == nil {
			t.Errorf("%s: AccessToken succeeded: %s", name, tok)
		}
	}
	if _, err := f.issuer.AccessToken(sampleAccessClaims(), "HS256"); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("AccessToken(HS256) error = %v, want ErrNoActiveKey", err)
	}
	noIss := *f.issuer
	noIss.Issuer = ""
	if _, err := noIss.AccessToken(sampleAccessClaims(), ES256); err == nil {
		t.Error("AccessToken without Issuer succeeded")
	}
}

func TestNewJTI(t *testing.T) {
	i := &Issuer{Rand: &counter{}}
	if got, want := i.NewJTI(), "AAECAwQFBgcICQoLDA0ODw"; got != want {
		t.Errorf("NewJTI = %q, want %q", got, want)
	}
	if a, b := i.NewJTI(), i.NewJTI(); a == b {
		t.Errorf("two JTIs are equal: %q", a)
	}
	broken := &Issuer{Rand: strings.NewReader("short")}
	a, b := broken.NewJTI(), broken.NewJTI()
	if a == b || len(a) != 22 || len(b) != 22 {
		t.Errorf("with a failing reader: %q, %q; want two distinct 22-character ids", a, b)
	}
	if got := (&Issuer{}).NewJTI(); len(got) != 22 {
		t.Errorf("NewJTI with crypto/rand = %q", got)
	}
}

func sampleIDClaims(accessToken string) IDClaims {
	return IDClaims{
		Subject:           "0b9e4d6a-7c1f-4d5e-9a3b-2f8c6e1d0a47",
		ClientID:          "web",
		Nonce:             "n-0S6_WzA2Mj",
		AuthTime:          t0.Add(-time.Minute),
		AccessToken:       accessToken,
		TTL:               time.Hour,
		Name:              "Jane Doe",
		GivenName:         "Jane",
		FamilyName:        "Doe",
		PreferredUsername: "jane",
		Email:             "jane@example.com",
		EmailVerified:     true,
		Extra:             map[string]any{"locale": "en-GB", "groups": []string{"admins", "dev"}},
	}
}

// TestIDTokenWithGoOIDC verifies ID tokens as a relying party does, with coreos/go-oidc
// and the public keys taken from the JWKS.
func TestIDTokenWithGoOIDC(t *testing.T) {
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t)
			access := f.accessToken(t, ES256)
			raw, err := f.issuer.IDToken(sampleIDClaims(access), alg)
			if err != nil {
				t.Fatal(err)
			}
			if h := decodePart(t, raw, 0); h["alg"] != alg || h["typ"] != "JWT" || h["kid"] == "" {
				t.Errorf("header = %v", h)
			}

			var set jose.JSONWebKeySet
			if err := json.Unmarshal(f.set.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			var pubs []crypto.PublicKey
			for _, k := range set.Keys {
				pubs = append(pubs, k.Key)
			}
			verifier := oidc.NewVerifier(testIssuer, &oidc.StaticKeySet{PublicKeys: pubs}, &oidc.Config{
				ClientID:             "web",
				SupportedSigningAlgs: []string{alg},
				Now:                  func() time.Time { return t0.Add(time.Minute) },
			})
			idt, err := verifier.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("go-oidc: %v", err)
			}
			if idt.Subject != "0b9e4d6a-7c1f-4d5e-9a3b-2f8c6e1d0a47" || idt.Nonce != "n-0S6_WzA2Mj" {
				t.Errorf("sub %q nonce %q", idt.Subject, idt.Nonce)
			}
			if idt.AccessTokenHash == "" {
				t.Error("no at_hash")
			}
			if err := idt.VerifyAccessToken(access); err != nil {
				t.Errorf("go-oidc at_hash check: %v", err)
			}
			if err := idt.VerifyAccessToken(access + "x"); err == nil {
				t.Error("go-oidc accepted another access token for at_hash")
			}
			var claims map[string]any
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"iss":                testIssuer,
				"sub":                "0b9e4d6a-7c1f-4d5e-9a3b-2f8c6e1d0a47",
				"aud":                "web",
				"azp":                "web",
				"exp":                float64(t0.Add(time.Hour).Unix()),
				"iat":                float64(t0.Unix()),
				"auth_time":          float64(t0.Add(-time.Minute).Unix()),
				"nonce":              "n-0S6_WzA2Mj",
				"at_hash":            AccessTokenHash(access),
				"name":               "Jane Doe",
				"given_name":         "Jane",
				"family_name":        "Doe",
				"preferred_username": "jane",
				"email":              "jane@example.com",
				"email_verified":     true,
				"locale":             "en-GB",
				"groups":             []any{"admins", "dev"},
			}
			if diff := cmp.Diff(want, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}

			other := oidc.NewVerifier(testIssuer, &oidc.StaticKeySet{PublicKeys: pubs}, &oidc.Config{
				ClientID: "another-client", SupportedSigningAlgs: []string{alg},
				Now: func() time.Time { return t0 },
			})
			if _, err := other.Verify(t.Context(), raw); err == nil {
				t.Error("go-oidc accepted the ID token for another client")
			}
		})
	}
}

func TestAccessTokenHash(t *testing.T) {
	// OpenID Connect Core 1.0 appendix A.4 (id_token token response, RS256).
	const accessToken = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	if got, want := AccessTokenHash(accessToken), "77QmUPtjPfzWtF2AnpK9RQ"; got != want {
		t.Errorf("AccessTokenHash = %q, want %q", got, want)
	}
}

func TestIDTokenMinimal(t *testing.T) {
	f := newFixture(t)
	raw, err := f.issuer.IDToken(IDClaims{Subject: "u", ClientID: "c", TTL: time.Minute, EmailVerified: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := decodePart(t, raw, 0); h["alg"] != RS256 || h["kid"] != f.keys.rs.KID {
		t.Errorf("default ID token header = %v, want RS256 with kid %s", h, f.keys.rs.KID)
	}
	want := map[string]any{
		"iss": testIssuer, "sub": "u", "aud": "c", "azp": "c",
		"exp": float64(t0.Add(time.Minute).Unix()), "iat": float64(t0.Unix()),
	}
	if diff := cmp.Diff(want, decodePart(t, raw, 1)); diff != "" {
		t.Errorf("minimal payload (-want +got), email_verified must not appear without email:\n%s", diff)
	}
}

func TestIDTokenRefuses(t *testing.T) {
	f := newFixture(t)
	for name, mutate := range map[string]func(*IDClaims){
		"no subject":      func(c *IDClaims) { c.Subject = "" },
		"no client":       func(c *IDClaims) { c.ClientID = "" },
		"no ttl":          func(c *IDClaims) { c.TTL = 0 },
		"extra sub":       func(c *IDClaims) { c.Extra = map[string]any{"sub": "admin"} },
		"extra iss":       func(c *IDClaims) { c.Extra = map[string]any{"iss": "https://evil"} },
		"extra exp":       func(c *IDClaims) { c.Extra = map[string]any{"exp": 1 << 40} },
		"extra nonce":     func(c *IDClaims) { c.Extra = map[string]any{"nonce": "x"} },
		"extra empty":     func(c *IDClaims) { c.Extra = map[string]any{"": "x"} },
		"extra unmarshal": func(c *IDClaims) { c.Extra = map[string]any{"f": func() {}} },
	} {
		c := sampleIDClaims("")
		mutate(&c)
		if tok, err := f.issuer.IDToken(c, RS256); err == nil {
			t.Errorf("%s: IDToken succeeded: %s", name, tok)
		}
	}
	if _, err := f.issuer.IDToken(sampleIDClaims(""), "PS256"); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("IDToken(PS256) error = %v, want ErrNoActiveKey", err)
	}
}

func BenchmarkAccessTokenES256(b *testing.B) {
	f := newFixture(b)
	c := sampleAccessClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.AccessToken(c, ES256); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkIDToken(b *testing.B, alg string) {
	f := newFixture(b)
	c := sampleIDClaims(f.accessToken(b, ES256))
	c.Extra = nil
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.IDToken(c, alg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIDTokenRS256(b *testing.B) { benchmarkIDToken(b, RS256) }
func BenchmarkIDTokenES256(b *testing.B) { benchmarkIDToken(b, ES256) }
