/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// The fuzz targets run the request parsers and the handlers in front of them against
// in-memory clients. The clients are chosen so that no input can reach the database: the
// token fixture's clients have only the client_credentials grant, and the authorize
// handler without a session cookie stops at the login page. A nil store would panic, so
// any input that got further would be found.

type memClients map[string]*store.Client

func (m memClients) Client(_ context.Context, id string) (*store.Client, error) {
	if c, ok := m[id]; ok {
		return c, nil
	}
	return nil, store.ErrNotFound
}

type noRevocations struct{}

func (noRevocations) Revoked(string, string, string, time.Time) bool { return false }

const (
	fuzzIssuer    = "https://auth.example.com"
	fuzzM2MSecret = "m2m-secret-0123456789abcdef0123456789abcdef"
	fuzzPostSecrt = "post-secret-0123456789abcdef0123456789abcdef"
)

var fuzzNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newFuzzProvider(tb testing.TB, clients memClients) *Provider {
	tb.Helper()
	key, err := tokens.GenerateKey(tokens.ES256, nil)
	if err != nil {
		tb.Fatal(err)
	}
	key.State, key.CreatedAt = tokens.StateActive, fuzzNow.Add(-time.Hour)
	keys, err := tokens.NewKeySet([]*tokens.Key{key})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(Deps{
		Config:      Config{Issuer: fuzzIssuer},
		Store:       &store.Store{},
		Clients:     clients,
		Keys:        keys,
		Revocations: noRevocations{},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:       func() time.Time { return fuzzNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func tokenFuzzClients() memClients {
	return memClients{
		"m2m": {ID: "m2m", Type: store.Confidential, SecretHash: credentials.HashSecret(fuzzM2MSecret),
			GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"orders:read", "orders:write", "admin:clients:read"}},
		"post": {ID: "post", Type: store.Confidential, SecretHash: credentials.HashSecret(fuzzPostSecrt),
			TokenEndpointAuthMethod: AuthSecretPost, GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"orders:read"}},
		"spa": {ID: "spa", Type: store.Public, GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"openid"}},
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// FuzzTokenRequest sends arbitrary bodies, content types and Authorization headers to the
// token endpoint. It must answer every one with a JSON error of status below 500 or a
// token for the client that authenticated, never panic.
func FuzzTokenRequest(f *testing.F) {
	m2m := basic("m2m", fuzzM2MSecret)
	seeds := []struct{ body, auth, ctype string }{
		{"grant_type=client_credentials", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&scope=orders%3Aread", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&scope=openid", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&scope=", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&scope=%22bad%22", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&grant_type=client_credentials", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&client_id=post&client_secret=" + fuzzPostSecrt, "", "application/x-www-form-urlencoded; charset=utf-8"},
		{"grant_type=client_credentials&client_id=post&client_secret=x", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials&client_id=spa", "", "application/x-www-form-urlencoded"},
		{"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa&code_verifier=x", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=password&username=a&password=b", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=refresh_token&refresh_token=r", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=urn:ietf:params:oauth:grant-type:device_code", m2m, "application/x-www-form-urlencoded"},
		{"", "", "application/x-www-form-urlencoded"},
		{`{"grant_type":"client_credentials"}`, m2m, "application/json"},
		{"grant_type=client_credentials", "Basic %%%", "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%zz")), "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials", "Bearer abc", "application/x-www-form-urlencoded"},
		{"grant_type=%zz&a=%", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials;scope=x", m2m, "application/x-www-form-urlencoded"},
		{"grant_type=client_credentials", m2m, "multipart/form-data; boundary=x"},
		{"grant_type=client_credentials", m2m, ""},
	}
	for _, s := range seeds {
		f.Add(s.body, s.auth, s.ctype)
	}
	p := newFuzzProvider(f, tokenFuzzClients())
	verifier := &tokens.Verifier{Issuer: fuzzIssuer, Keys: p.keys, Clock: func() time.Time { return fuzzNow }}
	f.Fuzz(func(t *testing.T, body, auth, ctype string) {
		r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
		r.Header = http.Header{}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		p.token(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
		}
		var res struct {
			AccessToken string `json:"access_token"`
			Error       string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
		}
		if w.Code != http.StatusOK {
			if res.Error == "" || res.AccessToken != "" {
				t.Fatalf("status %d without an error code: %s", w.Code, w.Body.String())
			}
			return
		}
		va, err := verifier.VerifyAccessToken(res.AccessToken)
		if err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
		if va.ClientID != "m2m" && va.ClientID != "post" {
			t.Fatalf("token issued to %q, which cannot authenticate", va.ClientID)
		}
	})
}

func authorizeFuzzClients() memClients {
	return memClients{
		"web": {ID: "web", Name: "Web", Type: store.Confidential, SecretHash: credentials.HashSecret(fuzzM2MSecret),
			GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
			RedirectURIs: []string{"https://app.example.com/cb", "https://app.example.com/cb?x=1"},
			Scopes:       []string{"openid", "profile", "orders:read", "admin:users:read"}},
		"one": {ID: "one", Type: store.Public, GrantTypes: []string{GrantAuthorizationCode},
			RedirectURIs: []string{"http://127.0.0.1:8765/callback"}, Scopes: []string{"openid"}},
		"m2m": {ID: "m2m", Type: store.Confidential, GrantTypes: []string{GrantClientCredentials},
			RedirectURIs: []string{"https://m2m.example.com/cb"}},
	}
}

// FuzzAuthorizeRequest sends arbitrary query strings and form bodies to the authorization
// endpoint (GET and POST, without a session). It must never panic, never answer 5xx, and
// never redirect anywhere but to a redirect URI registered for the request's client; a
// request the validator accepts must be within what the client registered.
func FuzzAuthorizeRequest(f *testing.F) {
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	valid := url.Values{
		"client_id": {"web"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"s1"}, "nonce": {"n1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode()
	for _, s := range []struct {
		query, body string
		post        bool
	}{
		{valid, "", false},
		{valid + "&prompt=none", "", false},
		{valid + "&prompt=login+consent&max_age=0", "", false},
		{valid + "&prompt=none+login", "", false},
		{valid + "&max_age=-1", "", false},
		{valid + "&response_mode=fragment", "", false},
		{valid + "&request=eyJ", "", false},
		{valid + "&scope=admin%3Ausers%3Aread", "", false},
		{"client_id=one&response_type=code&code_challenge=" + challenge + "&code_challenge_method=S256", "", false},
		{"client_id=web&redirect_uri=https%3A%2F%2Fevil.example.com%2Fcb&response_type=code", "", false},
		{"client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F..%2Fx&response_type=code", "", false},
		{"client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1&response_type=token", "", false},
		{"client_id=m2m&redirect_uri=https%3A%2F%2Fm2m.example.com%2Fcb&response_type=code", "", false},
		{"client_id=nobody&response_type=code", "", false},
		{"client_id=web&client_id=one", "", false},
		{"%zz", "", false},
		{"", valid, true},
		{"", valid + "&action=login&username=a&password=b", true},
		{"", valid + "&action=consent&consent=approve&csrf_token=x", true},
		{"client_id=web", "client_id=web", true},
		{"", "%%%", true},
	} {
		f.Add(s.query, s.body, s.post)
	}
	clients := authorizeFuzzClients()
	p := newFuzzProvider(f, clients)
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		newRequest := func() *http.Request {
			var r *http.Request
			if post {
				r = httptest.NewRequest(http.MethodPost, PathAuthorize, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(http.MethodGet, PathAuthorize, nil)
			}
			// Set directly: any bytes, also those a request line could not carry.
			r.URL.RawQuery = query
			return r
		}
		w := httptest.NewRecorder()
		p.authorize(w, newRequest())
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		if loc := w.Header().Get("Location"); loc != "" {
			if !redirectsToRegistered(clients, loc) {
				t.Fatalf("redirect to %q, which no client registered", loc)
			}
		}

		// The validator alone, for what it promises about accepted requests.
		fm, err := parseForm(httptest.NewRecorder(), newRequest(), !post)
		if err != nil {
			if e := asError(err); e.HTTPStatus() >= 500 || e.Code != CodeInvalidRequest {
				t.Fatalf("parse error %v with status %d", e, e.HTTPStatus())
			}
			return
		}
		req, pageErr, redirectErr := p.validateAuthorize(context.Background(), fm)
		switch {
		case pageErr != nil:
			if req != nil || redirectErr != nil || pageErr.HTTPStatus() >= 500 {
				t.Fatalf("page error %v with req %v, redirect error %v", pageErr, req, redirectErr)
			}
			return
		case req == nil || req.client == nil:
			t.Fatal("no request and no page error")
		case !contains(req.client.RedirectURIs, req.redirectURI):
			t.Fatalf("redirect URI %q not registered for %s", req.redirectURI, req.client.ID)
		case redirectErr != nil:
			return
		}
		if !req.client.HasGrantType(GrantAuthorizationCode) {
			t.Fatalf("accepted for %s, which lacks the authorization_code grant", req.client.ID)
		}
		for _, s := range req.scopes {
			if !contains(req.client.Scopes, s) || !validScopeToken(s) {
				t.Fatalf("accepted scope %q", s)
			}
		}
		if fm.get("code_challenge_method") != "S256" || !credentials.ValidChallenge(fm.get("code_challenge")) {
			t.Fatalf("accepted without a valid S256 challenge: %v", fm)
		}
		if req.maxAge < -1 || (req.prompt["none"] && len(req.prompt) > 1) {
			t.Fatalf("accepted max_age %v, prompt %v", req.maxAge, req.prompt)
		}
	})
}

// redirectsToRegistered reports whether loc is a registered redirect URI of some client
// with response parameters added.
func redirectsToRegistered(clients memClients, loc string) bool {
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	for _, c := range clients {
		for _, ru := range c.RedirectURIs {
			r, err := url.Parse(ru)
			if err != nil {
				continue
			}
			if u.Scheme == r.Scheme && u.Host == r.Host && u.Path == r.Path {
				q := u.Query()
				for k, vs := range r.Query() {
					if !contains(q[k], vs[0]) {
						return false
					}
				}
				return true
			}
		}
	}
	return false
}

// TestFuzzFixturesReachTheirPaths guards the fuzz targets' fixtures: the valid seeds must
// get a token and the login page, or the targets would only ever see refusals.
func TestFuzzFixturesReachTheirPaths(t *testing.T) {
	p := newFuzzProvider(t, tokenFuzzClients())
	r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", basic("m2m", fuzzM2MSecret))
	w := httptest.NewRecorder()
	p.token(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"access_token"`) {
		t.Fatalf("token: %d %s", w.Code, w.Body.String())
	}

	p = newFuzzProvider(t, authorizeFuzzClients())
	q := url.Values{
		"client_id": {"web"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	w = httptest.NewRecorder()
	p.authorize(w, httptest.NewRequest(http.MethodGet, PathAuthorize+"?"+q.Encode(), nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="password"`) {
		t.Fatalf("authorize: %d %s", w.Code, w.Body.String())
	}
	q.Set("prompt", "none")
	w = httptest.NewRecorder()
	p.authorize(w, httptest.NewRequest(http.MethodGet, PathAuthorize+"?"+q.Encode(), nil))
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || !strings.Contains(loc, "error=login_required") || !redirectsToRegistered(authorizeFuzzClients(), loc) {
		t.Fatalf("prompt=none: %d %q", w.Code, loc)
	}
}
