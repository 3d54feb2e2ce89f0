/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authly-dev/authly-operator/server/store"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// signingKey is a client's private key with the kid and alg it signs with.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

// jwksOf is the public JWK Set of keys, as a client registers it.
func jwksOf(t *testing.T, keys ...signingKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: k.method.Alg(), Use: "sig"})
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// assertion is what a private_key_jwt client sends: a JWT with iss = sub = client_id, aud
// the token endpoint, a short exp and a fresh jti, signed by k. mutate changes the claims
// or header to make a bad one.
func assertion(t *testing.T, k signingKey, clientID, aud string, mutate func(jwt.MapClaims, map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": clientID, "sub": clientID, "aud": aud, "iat": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text()}
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	if mutate != nil {
		mutate(claims, tok.Header)
	}
	var key any = k.key
	switch tok.Method {
	case jwt.SigningMethodHS256:
		key = []byte("a shared secret that is no private key")
	case jwt.SigningMethodNone:
		key = jwt.UnsafeAllowNoneSignatureType
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func newECKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jwt.SigningMethodES256, k}
}

// assertionParams are the token request parameters of a client assertion.
func assertionParams(a string) url.Values {
	return url.Values{"client_assertion_type": {jwtBearer}, "client_assertion": {a}}
}

// Issue 15 item 1, as a client sees it: a client registered with an inline JWK Set gets a
// client_credentials token with golang.org/x/oauth2 by sending an assertion signed with
// its key (x/oauth2 has no private_key_jwt helper; the assertion goes in
// EndpointParams). Every key type the server supports works; the assertion is single
// use across two replicas of one database; introspection and revocation accept it too.
func TestPrivateKeyJWTClientCredentials(t *testing.T) {
	a, b := newReplicaPair(t)
	es256 := newECKey(t, "es256")
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []signingKey{
		es256, {"es384", jwt.SigningMethodES384, p384}, {"ed", jwt.SigningMethodEdDSA, edKey},
		{"rs256", jwt.SigningMethodRS256, rsaKey}, {"ps256", jwt.SigningMethodPS256, rsaKey},
	}
	client, secret := a.client(store.Client{Name: "signed service", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwksOf(t, keys...)})
	if secret != "" {
		t.Fatalf("a private_key_jwt client was given a secret")
	}
	tokenURL := a.URL + "/api/v1/oauth/token"

	for _, k := range keys {
		for _, aud := range []string{tokenURL, a.URL} {
			cc := clientcredentials.Config{ClientID: client.ID, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams,
				EndpointParams: assertionParams(assertion(t, k, client.ID, aud, nil))}
			tok, err := cc.Token(a.ctx)
			if err != nil {
				t.Fatalf("%s, aud %s: %v", k.kid, aud, err)
			}
			if got := accessTokenScope(t, tok.AccessToken); got != "orders:read" {
				t.Errorf("%s: scope %v", k.kid, got)
			}
		}
	}

	// Without client_id in the form, the client is the assertion's sub.
	once := assertion(t, es256, client.ID, tokenURL, nil)
	form := assertionParams(once)
	form.Set("grant_type", "client_credentials")
	res := a.tokenRequest("", "", form)
	if res.status != http.StatusOK || res.AccessToken == "" {
		t.Fatalf("assertion without client_id: %d %s %s", res.status, res.Error, res.ErrorDescription)
	}
	// A replay is refused, on the other replica too.
	for _, e := range []*testEnv{a, b} {
		res := e.tokenRequest("", "", form)
		assertInvalidClient(t, "replayed assertion", res)
		if !strings.Contains(res.ErrorDescription, "jti was used before") {
			t.Errorf("replay: %q", res.ErrorDescription)
		}
	}

	// Introspection and revocation authenticate the client the same way.
	tok := res.AccessToken
	at := assertion(t, es256, client.ID, a.URL, nil)
	intro := assertionParams(at)
	intro.Set("token", tok)
	ir := b.postForm("/api/v1/oauth/introspect", "", "", intro)
	if ir.status != http.StatusOK {
		t.Fatalf("introspection with an assertion: %d %s %s", ir.status, ir.Error, ir.ErrorDescription)
	}
	rev := assertionParams(assertion(t, es256, client.ID, a.URL, nil))
	rev.Set("token", tok)
	if rr := a.postForm("/api/v1/oauth/revoke", "", "", rev); rr.status != http.StatusOK {
		t.Fatalf("revocation with an assertion: %d %s %s", rr.status, rr.Error, rr.ErrorDescription)
	}
	assertInvalidClient(t, "introspection replay", b.postForm("/api/v1/oauth/introspect", "", "", intro))
}

// assertInvalidClient checks an answer is invalid_client: 401 with a challenge.
func assertInvalidClient(t *testing.T, what string, res tokenResult) {
	t.Helper()
	if res.status != http.StatusUnauthorized || res.Error != "invalid_client" || res.header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: %d %q (%s), WWW-Authenticate %q; want 401 invalid_client with a challenge",
			what, res.status, res.Error, res.ErrorDescription, res.header.Get("WWW-Authenticate"))
	}
}

// Every assertion the server must refuse is refused with invalid_client, as x/oauth2
// reports it, and never with a 500.
func TestPrivateKeyJWTRefusals(t *testing.T) {
	e := newTestEnv(t)
	key := newECKey(t, "k1")
	client, _ := e.client(store.Client{Name: "signed", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwksOf(t, key)})
	secretClient, secret := e.m2mClient()
	tokenURL := e.URL + "/api/v1/oauth/token"
	other := newECKey(t, "k1")
	unknownKid := key
	unknownKid.kid = "k2"
	set := func(name string, v any) func(jwt.MapClaims, map[string]any) {
		return func(c jwt.MapClaims, _ map[string]any) {
			if v == nil {
				delete(c, name)
			} else {
				c[name] = v
			}
		}
	}
	now := time.Now()
	for _, c := range []struct {
		name   string
		key    signingKey
		mutate func(jwt.MapClaims, map[string]any)
		want   string // in the description
	}{
		{"HS256", signingKey{"k1", jwt.SigningMethodHS256, key.key}, nil, "alg must be one of"},
		{"alg none", signingKey{"k1", jwt.SigningMethodNone, key.key}, nil, "alg must be one of"},
		{"wrong aud", key, set("aud", "https://elsewhere.example.com/token"), "aud must be"},
		{"exp too far ahead", key, set("exp", now.Add(10*time.Minute).Unix()), "more than 5m0s ahead"},
		{"expired", key, func(c jwt.MapClaims, _ map[string]any) {
			c["exp"], c["iat"] = now.Add(-2*time.Minute).Unix(), now.Add(-4*time.Minute).Unix()
		}, "expired"},
		{"no exp", key, set("exp", nil), "exp is required"},
		{"no jti", key, set("jti", nil), "jti is required"},
		{"iat in the future", key, set("iat", now.Add(time.Hour).Unix()), "not valid yet"},
		{"unknown kid", unknownKid, nil, `kid "k2"`},
		{"wrong key", other, nil, "signature does not verify"},
		{"iss is not sub", key, set("iss", secretClient.ID), "iss and sub"},
		{"sub is another client", key, set("sub", secretClient.ID), "iss and sub"},
	} {
		cc := clientcredentials.Config{ClientID: client.ID, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: assertionParams(assertion(t, c.key, client.ID, tokenURL, c.mutate))}
		_, err := cc.Token(e.ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(re.ErrorDescription, c.want) {
			t.Errorf("%s: %v, want 401 invalid_client saying %q", c.name, err, c.want)
		}
	}

	good := func() url.Values {
		f := assertionParams(assertion(t, key, client.ID, tokenURL, nil))
		f.Set("grant_type", "client_credentials")
		return f
	}
	// An assertion for a client that authenticates with a secret.
	f := assertionParams(assertion(t, key, secretClient.ID, tokenURL, nil))
	f.Set("grant_type", "client_credentials")
	assertInvalidClient(t, "assertion of a secret client", e.tokenRequest("", "", f))
	// client_id naming another client than the assertion's.
	f = good()
	f.Set("client_id", secretClient.ID)
	assertInvalidClient(t, "client_id of another client", e.tokenRequest("", "", f))
	// The private_key_jwt client may not use a secret (it has none) or nothing.
	assertInvalidClient(t, "private_key_jwt client with Basic", e.tokenRequest(client.ID, "guess", url.Values{"grant_type": {"client_credentials"}}))
	assertInvalidClient(t, "private_key_jwt client without credentials",
		e.tokenRequest("", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}}))
	// Another assertion type, or the type without an assertion, or an assertion that is
	// not a JWT.
	f = good()
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
	assertInvalidClient(t, "other assertion type", e.tokenRequest("", "", f))
	f = good()
	f.Del("client_assertion")
	assertInvalidClient(t, "type without assertion", e.tokenRequest("", "", f))
	f = good()
	f.Set("client_assertion", "not.a.jwt")
	assertInvalidClient(t, "not a JWT", e.tokenRequest("", "", f))
	// Two methods at once is a malformed request (RFC 6749 section 2.3).
	if res := e.tokenRequest(secretClient.ID, secret, good()); res.status != http.StatusBadRequest || res.Error != "invalid_request" {
		t.Errorf("assertion with Basic: %d %s", res.status, res.Error)
	}
	// After all of that, a good assertion still works: no refusal burnt anything.
	if res := e.tokenRequest("", "", good()); res.status != http.StatusOK {
		t.Errorf("good assertion: %d %s %s", res.status, res.Error, res.ErrorDescription)
	}
}

// Discovery advertises private_key_jwt wherever the client authenticates, with exactly
// the algorithms an assertion may use (RFC 8414 section 2).
func TestDiscoveryAdvertisesPrivateKeyJWT(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"token", "revocation", "introspection"} {
			var methods, algs []string
			_ = json.Unmarshal(raw[name+"_endpoint_auth_methods_supported"], &methods)
			_ = json.Unmarshal(raw[name+"_endpoint_auth_signing_alg_values_supported"], &algs)
			if !slices.Contains(methods, "private_key_jwt") {
				t.Errorf("%s: %s_endpoint_auth_methods_supported %q lacks private_key_jwt", path, name, methods)
			}
			if want := []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}; !slices.Equal(algs, want) {
				t.Errorf("%s: %s_endpoint_auth_signing_alg_values_supported %q, want %q", path, name, algs, want)
			}
		}
	}
}
