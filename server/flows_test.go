/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// rp is a relying party configured from discovery, as an application would set one up.
type rp struct {
	provider *oidc.Provider
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (e *testEnv) relyingParty(c *store.Client, secret string, scopes ...string) *rp {
	e.t.Helper()
	provider, err := oidc.NewProvider(e.ctx, e.URL)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	style := oauth2.AuthStyleInHeader
	if c.TokenEndpointAuthMethod == "client_secret_post" || c.Type == store.Public {
		style = oauth2.AuthStyleInParams
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &rp{
		provider: provider,
		conf: &oauth2.Config{
			ClientID: c.ID, ClientSecret: secret, Endpoint: ep,
			RedirectURL: c.RedirectURIs[0], Scopes: scopes,
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// authorize runs the browser part of the code flow: login (if needed), consent (if
// shown), and returns the callback's parameters.
func (e *testEnv) authorize(b *browser, r *rp, username, password string, opts ...oauth2.AuthCodeOption) url.Values {
	e.t.Helper()
	resp, page := b.get(r.conf.AuthCodeURL("state-123", opts...))
	for i := 0; i < 3 && resp.StatusCode == http.StatusOK; i++ {
		switch {
		case strings.Contains(page, `name="password"`):
			resp, page = b.login(e, page, username, password)
		case strings.Contains(page, `name="consent"`):
			resp, page = b.consent(e, page, "approve")
		default:
			e.t.Fatalf("unexpected page:\n%s", page)
		}
	}
	return redirectParams(e.t, resp, r.conf.RedirectURL)
}

func TestDiscoveryAdvertisesWhatIsImplemented(t *testing.T) {
	e := newTestEnv(t)
	var md map[string]any
	resp, body := newBrowser(t).get(e.URL + "/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := json.Unmarshal([]byte(body), &md); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                 e.URL,
		"token_endpoint":         e.URL + "/api/v1/oauth/token",
		"authorization_endpoint": e.URL + "/api/v1/oauth/authorize",
		"jwks_uri":               e.URL + "/.well-known/jwks.json",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %v, want %v", k, md[k], v)
		}
	}
	if got := md["code_challenge_methods_supported"]; !equalJSON(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want only S256", got)
	}
	if got := md["response_types_supported"]; !equalJSON(got, []string{"code"}) {
		t.Errorf("response_types_supported = %v, want only code", got)
	}
	var rfc8414 map[string]any
	_, body = newBrowser(t).get(e.URL + "/.well-known/oauth-authorization-server")
	if err := json.Unmarshal([]byte(body), &rfc8414); err != nil {
		t.Fatal(err)
	}
	if rfc8414["issuer"] != e.URL || rfc8414["userinfo_endpoint"] != nil {
		t.Errorf("RFC 8414 metadata: issuer %v, userinfo %v (want the issuer, and no OIDC-only fields)", rfc8414["issuer"], rfc8414["userinfo_endpoint"])
	}
	var jwks struct {
		Keys []struct{ Kid, Alg, Use, Kty string }
	}
	_, body = newBrowser(t).get(e.URL + "/.well-known/jwks.json")
	if err := json.Unmarshal([]byte(body), &jwks); err != nil {
		t.Fatal(err)
	}
	algs := map[string]int{}
	for _, k := range jwks.Keys {
		if k.Kid == "" || k.Use != "sig" {
			t.Errorf("key %+v lacks kid or use=sig", k)
		}
		algs[k.Alg]++
	}
	// An active and a published next key for each algorithm.
	if algs["ES256"] != 2 || algs["RS256"] != 2 {
		t.Errorf("JWKS algorithms %v, want two ES256 and two RS256 keys", algs)
	}
}

func equalJSON(got any, want []string) bool {
	list, ok := got.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for i := range list {
		if list[i] != want[i] {
			return false
		}
	}
	return true
}

func TestAuthorizationCodeFlowWithOIDC(t *testing.T) {
	e := newTestEnv(t)
	user := e.user("alice", "correct horse battery")
	client, secret := e.webClient()
	r := e.relyingParty(client, secret, "openid", "profile", "email")
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	params := e.authorize(b, r, "alice", "correct horse battery",
		oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-0S6_WzA2Mj"))
	if params.Get("state") != "state-123" || params.Get("iss") != e.URL {
		t.Fatalf("callback state %q iss %q", params.Get("state"), params.Get("iss"))
	}
	tok, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for a client with the refresh_token grant")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(e.ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != user.ID || idt.Nonce != "n-0S6_WzA2Mj" {
		t.Errorf("ID token sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != "alice@example.com" || claims.PreferredUsername != "alice" {
		t.Errorf("ID token claims %+v (%v)", claims, err)
	}
	info, err := r.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != user.ID || info.Email != "alice@example.com" {
		t.Errorf("userinfo %+v", info)
	}

	// The session and the consent are remembered: a second authorization goes straight
	// back to the client.
	resp, _ := b.get(r.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
	if p := redirectParams(t, resp, client.RedirectURIs[0]); p.Get("code") == "" {
		t.Errorf("second authorization did not return a code: %v", p)
	}
	// prompt=none with no session answers login_required at the client.
	resp, _ = newBrowser(t).get(r.conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
	if p := redirectParams(t, resp, client.RedirectURIs[0]); p.Get("error") != "login_required" || p.Get("state") != "s3" {
		t.Errorf("prompt=none without session: %v", p)
	}
}

func TestCodeIsSingleUseAndReuseRevokesTokens(t *testing.T) {
	e := newTestEnv(t)
	e.user("bob", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	r := e.relyingParty(client, secret, "openid", "orders:read")
	verifier := oauth2.GenerateVerifier()
	params := e.authorize(newBrowser(t), r, "bob", "correct horse battery", oauth2.S256ChallengeOption(verifier))
	tok, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, "invalid_grant")
	// The tokens of the first redemption are revoked.
	waitFor(t, "the first redemption's access token to be revoked", func() bool {
		return !e.introspect(client.ID, secret, tok.AccessToken)
	})
	_, err = r.conf.TokenSource(e.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	assertOAuthError(t, err, "invalid_grant")
}

func TestWrongVerifierRedirectOrClientIsRefused(t *testing.T) {
	e := newTestEnv(t)
	e.user("carol", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) {
		c.FirstParty = true
		c.RedirectURIs = append(c.RedirectURIs, "https://app.example.com/other")
	})
	other, otherSecret := e.webClient()
	r := e.relyingParty(client, secret, "openid")
	cases := []struct {
		name     string
		exchange func(code, verifier string) error
	}{
		{"wrong verifier", func(code, _ string) error {
			_, err := r.conf.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}},
		{"no verifier", func(code, _ string) error {
			_, err := r.conf.Exchange(e.ctx, code)
			return err
		}},
		{"other redirect_uri", func(code, v string) error {
			c := *r.conf
			c.RedirectURL = "https://app.example.com/other"
			_, err := c.Exchange(e.ctx, code, oauth2.VerifierOption(v))
			return err
		}},
		{"other client", func(code, v string) error {
			c := *r.conf
			c.ClientID, c.ClientSecret = other.ID, otherSecret
			_, err := c.Exchange(e.ctx, code, oauth2.VerifierOption(v))
			return err
		}},
		{"wrong secret", func(code, v string) error {
			c := *r.conf
			c.ClientSecret = "not-the-secret"
			_, err := c.Exchange(e.ctx, code, oauth2.VerifierOption(v))
			return err
		}},
	}
	want := map[string]string{"no verifier": "invalid_request", "wrong secret": "invalid_client"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			params := e.authorize(newBrowser(t), r, "carol", "correct horse battery", oauth2.S256ChallengeOption(v))
			code := want[tc.name]
			if code == "" {
				code = "invalid_grant"
			}
			assertOAuthError(t, tc.exchange(params.Get("code"), v), code)
		})
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	e := newTestEnv(t)
	e.user("dave", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	r := e.relyingParty(client, secret, "openid", "orders:read", "orders:write")
	v := oauth2.GenerateVerifier()
	params := e.authorize(newBrowser(t), r, "dave", "correct horse battery", oauth2.S256ChallengeOption(v))
	first, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.conf.TokenSource(e.ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}
	// Narrowing the scope works; widening does not.
	narrowed := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "scope": {"orders:read"}})
	if narrowed.Error != "" || narrowed.Scope != "orders:read" {
		t.Fatalf("narrowing refresh: %+v", narrowed)
	}
	wide := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrowed.RefreshToken}, "scope": {"orders:read orders:write"}})
	if wide.Error != "invalid_scope" {
		t.Fatalf("widening refresh: %+v, want invalid_scope", wide)
	}
	// Reusing a rotated token revokes the whole family, including the newest token.
	_, err = r.conf.TokenSource(e.ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	assertOAuthError(t, err, "invalid_grant")
	still := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrowed.RefreshToken}})
	if still.Error != "invalid_grant" {
		t.Fatalf("newest token of a revoked family: %+v, want invalid_grant", still)
	}
}

// Refresh tokens carry their issue time, so that they are stored under keys in time
// order (credentials.StorageKey). Tokens issued before they did, stored under their plain
// SHA-256, still rotate, into tokens of the new form in the same family.
func TestRefreshTokenOfTheOlderForm(t *testing.T) {
	e := newTestEnv(t)
	u := e.user("gina", "correct horse battery")
	client, secret := e.webClient()
	older, err := credentials.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = e.store.CreateRefreshToken(e.ctx, &store.RefreshToken{
		Hash: credentials.HashToken(older), FamilyID: "family-of-the-older-form", ClientID: client.ID, UserID: u.ID,
		Scopes: []string{"openid", "orders:read"}, AuthTime: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {older}})
	if got.Error != "" || got.RefreshToken == "" {
		t.Fatalf("refreshing a token of the older form: %+v", got)
	}
	key := credentials.StorageKey(got.RefreshToken)
	if len(key) != 38 {
		t.Fatalf("new refresh token %q has a %d-byte key, want 38 (its issue time, then its SHA-256)", got.RefreshToken, len(key))
	}
	issued := time.UnixMilli(int64(binary.BigEndian.Uint64(append([]byte{0, 0}, key[:6]...))))
	if issued.Sub(now).Abs() > time.Minute {
		t.Errorf("new refresh token says it was issued at %v, want about %v", issued, now)
	}
	rt, err := e.store.GetRefreshToken(e.ctx, key)
	if err != nil {
		t.Fatalf("new refresh token under its key: %v", err)
	}
	if rt.FamilyID != "family-of-the-older-form" || !bytes.Equal(rt.ParentHash, credentials.HashToken(older)) {
		t.Errorf("new refresh token: family %q, parent %x; want the older token's family and hash", rt.FamilyID, rt.ParentHash)
	}
	// The older token is spent: using it again revokes the family.
	again := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {older}})
	if again.Error != "invalid_grant" {
		t.Fatalf("older token used twice: %+v, want invalid_grant", again)
	}
	if still := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.RefreshToken}}); still.Error != "invalid_grant" {
		t.Errorf("newest token of a revoked family: %+v, want invalid_grant", still)
	}
}

func TestClientCredentialsAndPasswordGrants(t *testing.T) {
	e := newTestEnv(t)
	e.user("erin", "correct horse battery")
	m2m, m2mSecret := e.client(store.Client{
		Name: "batch", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"orders:read", "orders:write"},
	})
	cc := clientcredentials.Config{ClientID: m2m.ID, ClientSecret: m2mSecret, TokenURL: e.URL + "/api/v1/oauth/token", Scopes: []string{"orders:read"}}
	tok, err := cc.Token(e.ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.RefreshToken != "" {
		t.Error("client_credentials must not issue a refresh token")
	}
	if got := tok.Extra("scope"); got != "orders:read" {
		t.Errorf("scope %v", got)
	}
	cc.Scopes = []string{"admin:clients:write"}
	_, err = cc.Token(e.ctx)
	assertOAuthError(t, err, "invalid_scope")

	// The password grant is off unless the client has it.
	web, webSecret := e.webClient()
	r := e.relyingParty(web, webSecret, "openid")
	_, err = r.conf.PasswordCredentialsToken(e.ctx, "erin", "correct horse battery")
	assertOAuthError(t, err, "unauthorized_client")
	legacy, legacySecret := e.webClient(func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "password") })
	r = e.relyingParty(legacy, legacySecret, "openid", "profile")
	tok, err = r.conf.PasswordCredentialsToken(e.ctx, "erin", "correct horse battery")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("password grant: refresh %q id_token %v", tok.RefreshToken, tok.Extra("id_token"))
	}
	_, err = r.conf.PasswordCredentialsToken(e.ctx, "erin", "wrong password")
	assertOAuthError(t, err, "invalid_grant")
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	e := newTestEnv(t)
	e.user("frank", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "password") })
	r := e.relyingParty(client, secret)
	for i := 0; i < 5; i++ {
		_, err := r.conf.PasswordCredentialsToken(e.ctx, "frank", "wrong password")
		assertOAuthError(t, err, "invalid_grant")
	}
	_, err := r.conf.PasswordCredentialsToken(e.ctx, "frank", "correct horse battery")
	assertOAuthError(t, err, "invalid_grant")
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || !strings.Contains(re.ErrorDescription, "too many") {
		t.Errorf("locked account answered %v, want a lockout message", err)
	}
	// A user that does not exist is locked the same way, so lockouts reveal nothing.
	for i := 0; i < 6; i++ {
		_, err = r.conf.PasswordCredentialsToken(e.ctx, "nobody", "wrong password")
	}
	if !errors.As(err, &re) || !strings.Contains(re.ErrorDescription, "too many") {
		t.Errorf("unknown user after 6 failures answered %v, want the same lockout message", err)
	}
}

func TestRevocationAndIntrospection(t *testing.T) {
	e := newTestEnv(t)
	client, secret := e.client(store.Client{Type: store.Confidential, GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}})
	rs, rsSecret := e.client(store.Client{Type: store.Confidential, GrantTypes: []string{"client_credentials"}})
	cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: secret, TokenURL: e.URL + "/api/v1/oauth/token"}
	tok, err := cc.Token(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !e.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("fresh access token is inactive")
	}
	for _, garbage := range []string{"garbage", "a.b.c", tok.AccessToken + "x"} {
		if e.introspect(rs.ID, rsSecret, garbage) {
			t.Errorf("introspection of %q: active", garbage)
		}
	}
	// Another client cannot revoke it (and is told nothing).
	if status := e.revoke(rs.ID, rsSecret, tok.AccessToken); status != http.StatusOK {
		t.Errorf("revocation by another client: status %d, want 200", status)
	}
	if !e.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("another client revoked the token")
	}
	if status := e.revoke(client.ID, secret, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("revocation: status %d", status)
	}
	waitFor(t, "revoked token to be inactive", func() bool { return !e.introspect(rs.ID, rsSecret, tok.AccessToken) })
	if status := e.revoke(client.ID, secret, "never-issued"); status != http.StatusOK {
		t.Errorf("revocation of an unknown token: status %d, want 200", status)
	}
}

// waitFor polls cond until it holds or a deadline passes; changes that travel through
// Postgres NOTIFY arrive asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type tokenResult struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	status           int
	header           http.Header
}

func (e *testEnv) tokenRequest(clientID, secret string, form url.Values) tokenResult {
	e.t.Helper()
	return e.postForm("/api/v1/oauth/token", clientID, secret, form)
}

func (e *testEnv) postForm(path, clientID, secret string, form url.Values) tokenResult {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	var res tokenResult
	if body != "" {
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			e.t.Fatalf("%s: not JSON (%d): %s", path, resp.StatusCode, body)
		}
	}
	res.status, res.header = resp.StatusCode, resp.Header
	return res
}

func (e *testEnv) introspect(clientID, secret, token string) bool {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.URL+"/api/v1/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var out struct {
		Active bool `json:"active"`
	}
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		e.t.Fatalf("introspection: %d %s", resp.StatusCode, body)
	}
	return out.Active
}

func (e *testEnv) revoke(clientID, secret, token string) int {
	e.t.Helper()
	return e.postForm("/api/v1/oauth/revoke", clientID, secret, url.Values{"token": {token}}).status
}

func assertOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want OAuth error %s", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error %q (%s), want %s", re.ErrorCode, re.ErrorDescription, code)
	}
}

// Exactly one of many concurrent redemptions of a code wins.
func TestConcurrentCodeRedemption(t *testing.T) {
	e := newTestEnv(t)
	e.user("gina", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	r := e.relyingParty(client, secret, "orders:read")
	v := oauth2.GenerateVerifier()
	code := e.authorize(newBrowser(t), r, "gina", "correct horse battery", oauth2.S256ChallengeOption(v)).Get("code")
	const n = 16
	var wg sync.WaitGroup
	results := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
			results <- err
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		if err == nil {
			wins++
			continue
		}
		assertOAuthError(t, err, "invalid_grant")
	}
	if wins != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", wins)
	}
}

// Discovery advertises the password grant (which OAuth 2.1 drops) only while some client
// may use it, following changes made anywhere through the store's notifications.
func TestDiscoveryAdvertisesPasswordGrantOnlyInUse(t *testing.T) {
	e := newTestEnv(t)
	grants := func(path string) []string {
		t.Helper()
		var md struct {
			GrantTypes []string `json:"grant_types_supported"`
		}
		_, body := newBrowser(t).get(e.URL + path)
		if err := json.Unmarshal([]byte(body), &md); err != nil {
			t.Fatal(err)
		}
		return md.GrantTypes
	}
	// advertised reports whether both documents advertise the password grant, and
	// notAdvertised whether neither does (a change may arrive between the two requests).
	inDocs := func() (oidcDoc, oauthDoc bool) {
		return slices.Contains(grants("/.well-known/openid-configuration"), "password"),
			slices.Contains(grants("/.well-known/oauth-authorization-server"), "password")
	}
	advertised := func() bool { a, b := inDocs(); return a && b }
	notAdvertised := func() bool { a, b := inDocs(); return !a && !b }
	if got := grants("/.well-known/openid-configuration"); !equalJSON(toAny(got), []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"}) {
		t.Errorf("grant_types_supported %v with no password client, want the three OAuth 2.1 grants and the device grant", got)
	}
	web, _ := e.webClient()
	if !notAdvertised() {
		t.Fatal("password grant advertised with no client allowed it")
	}
	legacy, _ := e.webClient(func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "password") })
	waitFor(t, "discovery to advertise the password grant", advertised)
	// Another client gains it, then both lose it (as another replica or the operator
	// would change them in the database).
	web.GrantTypes = append(web.GrantTypes, "password")
	if err := e.store.UpdateClient(e.ctx, web); err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteClient(e.ctx, legacy.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !advertised() {
		t.Fatal("password grant no longer advertised while a client still has it")
	}
	web.GrantTypes = slices.DeleteFunc(web.GrantTypes, func(g string) bool { return g == "password" })
	if err := e.store.UpdateClient(e.ctx, web); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "discovery to stop advertising the password grant", notAdvertised)
}

func toAny(list []string) any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
