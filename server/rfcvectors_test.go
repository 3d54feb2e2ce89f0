/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// RFC 7636 Appendix B: the example verifier and the S256 challenge computed from it.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// The RFC's example runs end to end: the authorization request carries the literal
// challenge, the token request the literal verifier, and the server accepts the pair.
func TestRFC7636AppendixBVector(t *testing.T) {
	if got := credentials.S256Challenge(rfc7636Verifier); got != rfc7636Challenge {
		t.Fatalf("server's S256(%s) = %s, want %s", rfc7636Verifier, got, rfc7636Challenge)
	}
	if got := oauth2.S256ChallengeFromVerifier(rfc7636Verifier); got != rfc7636Challenge {
		t.Fatalf("x/oauth2's S256(%s) = %s, want %s", rfc7636Verifier, got, rfc7636Challenge)
	}
	e := newTestEnv(t)
	user := e.user("pkce", alicePassword)
	client, secret := e.webClient()
	r := e.relyingParty(client, secret, "openid")
	params := e.authorize(newBrowser(t), r, "pkce", alicePassword,
		oauth2.SetAuthURLParam("code_challenge", rfc7636Challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"))
	tok, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(rfc7636Verifier))
	if err != nil {
		t.Fatalf("exchange with the RFC 7636 verifier: %v", err)
	}
	idt, err := r.verifier.Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != user.ID {
		t.Errorf("ID token subject %q, want %q", idt.Subject, user.ID)
	}

	// The same challenge with any other verifier fails.
	params = e.authorize(newBrowser(t), r, "pkce", alicePassword,
		oauth2.SetAuthURLParam("code_challenge", rfc7636Challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"))
	near := rfc7636Verifier[:len(rfc7636Verifier)-1] + "l"
	_, err = r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(near))
	assertOAuthError(t, err, "invalid_grant")
}

// rfc6749Secret needs form-urlencoding in every way that matters for HTTP Basic: a colon
// (the user-pass separator), '+' (a space once decoded), '%', '&', '=', '/', a space, a
// quote and non-ASCII characters.
const rfc6749Secret = `p@ss:w0rd+/=%&é~ "ü`

// RFC 6749 section 2.3.1: the client id and secret are form-urlencoded and then used as
// the user-id and password of HTTP Basic; the server decodes them.
func TestRFC6749ClientSecretBasicEncoding(t *testing.T) {
	e := newTestEnv(t)
	basicClient, _ := e.client(store.Client{
		ID: "my.client~1", Name: "special", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
	})
	postClient, _ := e.client(store.Client{
		ID: "my.post-client_2", Name: "special post", Type: store.Confidential, TokenEndpointAuthMethod: "client_secret_post",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
	})
	for _, id := range []string{basicClient.ID, postClient.ID} {
		if err := e.store.SetClientSecret(e.ctx, id, credentials.HashSecret(rfc6749Secret), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	tokenURL := e.URL + pathToken

	t.Run("x/oauth2 in the header", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: basicClient.ID, ClientSecret: rfc6749Secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		if _, err := cc.Token(e.ctx); err != nil {
			t.Fatalf("client_secret_basic with an encoded secret: %v", err)
		}
	})
	t.Run("x/oauth2 in the body", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: postClient.ID, ClientSecret: rfc6749Secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
		if _, err := cc.Token(e.ctx); err != nil {
			t.Fatalf("client_secret_post with the same secret: %v", err)
		}
	})

	basicRequest := func(t *testing.T, scheme, user, pass string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", scheme+" "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readBody(t, resp)
	}
	// Every byte percent-encoded: a decoder must accept any %XX, not only the ones
	// url.QueryEscape would write.
	percentAll := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}
	ok := []struct{ name, scheme, user, pass string }{
		{"query-escaped", "Basic", url.QueryEscape(basicClient.ID), url.QueryEscape(rfc6749Secret)},
		{"every byte percent-encoded", "Basic", percentAll(basicClient.ID), percentAll(rfc6749Secret)},
		{"space as %20", "Basic", basicClient.ID, strings.ReplaceAll(url.QueryEscape(rfc6749Secret), "+", "%20")},
		{"scheme in lower case (RFC 7617)", "basic", basicClient.ID, url.QueryEscape(rfc6749Secret)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			if resp, body := basicRequest(t, tc.scheme, tc.user, tc.pass); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
	bad := []struct{ name, user, pass string }{
		// Sent raw, '%&' is no escape and '+' would be a space: the client did not encode.
		{"secret not encoded", basicClient.ID, rfc6749Secret},
		// The same characters, but '+' sent raw decodes to a space: a different secret.
		{"plus sign not encoded", basicClient.ID, strings.ReplaceAll(url.QueryEscape(rfc6749Secret), "%2B", "+")},
		{"secret encoded twice", basicClient.ID, url.QueryEscape(url.QueryEscape(rfc6749Secret))},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := basicRequest(t, "Basic", tc.user, tc.pass)
			jsonErr(http.StatusUnauthorized, "invalid_client").withChallenge("Basic").assert(t, resp, body)
		})
	}
}

// RFC 6749 section 4.1.3: redirect_uri is required in the token request only when the
// authorization request included it. A client with one registered URI may leave it out
// of both.
func TestRFC6749RedirectURIOmittedFromBothRequests(t *testing.T) {
	e := newTestEnv(t)
	e.user("omit", alicePassword)
	client, secret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	r := e.relyingParty(client, secret, "openid")
	r.conf.RedirectURL = ""
	v := oauth2.GenerateVerifier()
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v))
	if strings.Contains(authURL, "redirect_uri") {
		t.Fatalf("authorization URL has a redirect_uri: %s", authURL)
	}
	b := newBrowser(t)
	_, page := b.get(authURL)
	resp, _ := b.login(e, page, "omit", alicePassword)
	params := redirectParams(t, resp, client.RedirectURIs[0]+"?")
	if _, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("exchange without redirect_uri, for a code requested without one: %v", err)
	}
}

// RFC 9207: every authorization response, success or error, carries iss, the issuer
// exactly as discovery states it, once; the registered redirect URI's own query is kept
// (RFC 6749 section 3.1.2).
func TestRFC9207IssuerInAuthorizationResponses(t *testing.T) {
	e := newTestEnv(t)
	e.user("iss", alicePassword)
	const redirect = "https://app.example.com/cb?tenant=blue"
	client, secret := e.webClient(func(c *store.Client) { c.RedirectURIs = []string{redirect} })
	r := e.relyingParty(client, secret, "openid", "profile")
	if got := r.provider.Endpoint().AuthURL; got != e.URL+pathAuthorize {
		t.Fatalf("discovered authorization endpoint %q", got)
	}
	var md struct {
		Issuer   string `json:"issuer"`
		ISSParam bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := r.provider.Claims(&md); err != nil {
		t.Fatal(err)
	}
	if !md.ISSParam || md.Issuer != e.URL {
		t.Fatalf("discovery: issuer %q, authorization_response_iss_parameter_supported %v", md.Issuer, md.ISSParam)
	}
	checkIss := func(t *testing.T, q url.Values, state string) {
		t.Helper()
		if len(q["iss"]) != 1 || q.Get("iss") != md.Issuer {
			t.Errorf("iss %q, want exactly one, equal to the issuer %q", q["iss"], md.Issuer)
		}
		if q.Get("state") != state {
			t.Errorf("state %q, want %q", q.Get("state"), state)
		}
		if len(q["tenant"]) != 1 || q.Get("tenant") != "blue" {
			t.Errorf("the registered redirect URI's query was not kept: %v", q)
		}
	}
	v := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(v)

	t.Run("success", func(t *testing.T) {
		b := newBrowser(t)
		_, page := b.get(r.conf.AuthCodeURL("state-123", pkce))
		_, page = b.login(e, page, "iss", alicePassword)
		resp, _ := b.consent(e, page, "approve")
		// The server adds its parameters to the registered query, in any order.
		q := redirectParams(t, resp, "https://app.example.com/cb?")
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		checkIss(t, q, "state-123")
		if _, err := r.conf.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("exchange: %v", err)
		}
	})
	t.Run("access_denied", func(t *testing.T) {
		b := newBrowser(t)
		_, page := b.get(r.conf.AuthCodeURL("deny-state", pkce, oauth2.SetAuthURLParam("prompt", "consent")))
		resp, page := b.login(e, page, "iss", alicePassword)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("expected the consent page, got %d", resp.StatusCode)
		}
		resp, _ = b.consent(e, page, "deny")
		q := redirectParams(t, resp, "https://app.example.com/cb?")
		if q.Get("error") != "access_denied" {
			t.Fatalf("error %q, want access_denied", q.Get("error"))
		}
		checkIss(t, q, "deny-state")
	})
	t.Run("invalid_scope", func(t *testing.T) {
		resp, _ := newBrowser(t).get(r.conf.AuthCodeURL("scope-state", pkce, oauth2.SetAuthURLParam("scope", "openid orders:delete")))
		q := redirectParams(t, resp, "https://app.example.com/cb?")
		if q.Get("error") != "invalid_scope" {
			t.Fatalf("error %q, want invalid_scope", q.Get("error"))
		}
		checkIss(t, q, "scope-state")
	})
	t.Run("login_required", func(t *testing.T) {
		resp, _ := newBrowser(t).get(r.conf.AuthCodeURL("none-state", pkce, oauth2.SetAuthURLParam("prompt", "none")))
		q := redirectParams(t, resp, "https://app.example.com/cb?")
		if q.Get("error") != "login_required" {
			t.Fatalf("error %q, want login_required", q.Get("error"))
		}
		checkIss(t, q, "none-state")
	})
	t.Run("plain PKCE", func(t *testing.T) {
		resp, _ := newBrowser(t).get(r.conf.AuthCodeURL("plain-state",
			oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		q := redirectParams(t, resp, "https://app.example.com/cb?")
		if q.Get("error") != "invalid_request" {
			t.Fatalf("error %q, want invalid_request", q.Get("error"))
		}
		checkIss(t, q, "plain-state")
	})
}
