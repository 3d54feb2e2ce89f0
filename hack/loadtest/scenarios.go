/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authly-dev/authly-operator/server/credentials"
)

// Endpoint paths of the server (as server/oauth has them).
const (
	tokenPath      = "/api/v1/oauth/token"
	authorizePath  = "/api/v1/oauth/authorize"
	introspectPath = "/api/v1/oauth/introspect"
	userinfoPath   = "/oidc/userinfo"
	jwksPath       = "/.well-known/jwks.json"
	discoveryPath  = "/.well-known/oauth-authorization-server"
	formType       = "application/x-www-form-urlencoded"
)

// helloName is the hello-world scenario's name, and the name of the references measured
// with it.
const helloName = "hello"

// scenario is one kind of request the load tool sends.
type scenario struct {
	Name     string // the --scenarios name
	Title    string // heading in the report
	Endpoint string // what is requested, shown under the heading
	Notes    string // how the requests are made distinct, and what each costs
	// Seed names the performance guide's table with the same operation, if it has one.
	Seed string

	// prepare, when set, stores n single-use credentials in the database before a point;
	// request i then uses credential i, so no two requests share one.
	prepare func(ctx context.Context, r *runner, n int) error
	// initialRate guesses requests per second of the first point, to size what prepare makes.
	initialRate float64
	// request builds request i.
	request func(ctx context.Context, i int) (*http.Request, error)
	// check looks at the body of a 2xx answer cheaply, on every request.
	check func(body []byte) error
	// verify looks at one answer thoroughly, before each point.
	verify func(body []byte) error
	// hello marks the hello-world baseline, served by its own process.
	hello bool
	// relativeTo names what the scenario is compared with: helloName or a ceiling. It is
	// measured again before each point (runner.measureReference), for the scenario's
	// target and for the growth comparison with another run, which it corrects for the
	// machine's drift. Scenarios with no relative target are compared with hello-world.
	relativeTo string
}

// scenarioOrder is the order scenarios run in: those that touch no database first, so
// that background work of Postgres (autovacuum after the bulk inserts of the others)
// cannot fall into their measurement.
var scenarioOrder = []string{
	"hello", "discovery", "jwks", "client_credentials", "introspection", "userinfo", "authorize",
	"refresh", "code", "code_openid_rs256", "code_openid_es256", "password",
}

func scenarioNames() []string { return scenarioOrder }

// buildScenarios makes the scenarios for a running environment.
func buildScenarios(r *runner) map[string]*scenario {
	base, f := r.env.serverURL, r.fix
	var prepared []string // the credentials of the current point (one scenario runs at a time)
	get := func(u string, header ...string) func(ctx context.Context, i int) (*http.Request, error) {
		return func(ctx context.Context, _ int) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err == nil && len(header) == 2 {
				req.Header.Set(header[0], header[1])
			}
			return req, err
		}
	}
	post := func(path string, c benchClient, body func(i int) string) func(ctx context.Context, i int) (*http.Request, error) {
		return func(ctx context.Context, i int) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body(i)))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", formType)
			req.Header.Set("Authorization", c.Basic)
			return req, nil
		}
	}
	codeScenario := func(c benchClient, scopes []string) func(ctx context.Context, r *runner, n int) error {
		return func(ctx context.Context, r *runner, n int) (err error) {
			prepared, err = prepareCodes(ctx, r.env.store, c, f.users, scopes, n)
			return err
		}
	}
	codeBody := func(i int) string { return codeExchangeBody(prepared[i]) }
	challenge := credentials.S256Challenge(codeVerifier)
	userScopes := []string{"profile", "email", "offline_access"}
	openidScopes := []string{"openid", "profile", "email", "offline_access"}

	list := []*scenario{
		{
			Name: helloName, Title: "Hello world (physical limit)", Endpoint: "GET / on a plain net/http server (separate process)",
			Notes: "A handler that writes 14 fixed bytes: what HTTP over loopback costs on this machine.",
			request: func(ctx context.Context, _ int) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, r.env.helloURL, nil)
			},
			check: wantContains("Hello"), hello: true,
		},
		{
			Name: "discovery", Title: "Discovery Endpoint Performance", Endpoint: "GET " + discoveryPath, Seed: "discovery",
			Notes:   "Static metadata.",
			request: get(base + discoveryPath), check: wantContains(`"issuer"`),
			relativeTo: helloName,
		},
		{
			Name: "jwks", Title: "JWKS", Endpoint: "GET " + jwksPath,
			Notes:   "The published public keys.",
			request: get(base + jwksPath), check: wantContains(`"keys"`),
			relativeTo: helloName,
		},
		{
			Name: "client_credentials", Title: "Client Credentials Grant", Endpoint: "POST " + tokenPath + " (client_credentials, client_secret_basic)",
			Notes:      "One confidential client, scope " + apiScope + "; an ES256 access token per request.",
			request:    post(tokenPath, f.service, func(int) string { return "grant_type=client_credentials&scope=" + url.QueryEscape(apiScope) }),
			check:      wantContains(`"access_token"`),
			relativeTo: helloName,
		},
		{
			Name: "introspection", Title: "Token Introspection", Endpoint: "POST " + introspectPath + " (access tokens)",
			Notes: fmt.Sprintf("A resource-server client introspects %d distinct client_credentials access tokens in turn.", len(f.serviceTokens)),
			request: post(introspectPath, f.resource, func(i int) string {
				return "token=" + f.serviceTokens[i%len(f.serviceTokens)] + "&token_type_hint=access_token"
			}),
			check:      wantContains(`"active":true`),
			relativeTo: helloName,
		},
		{
			Name: "userinfo", Title: "UserInfo", Endpoint: "GET " + userinfoPath + " (Bearer)",
			Notes: fmt.Sprintf("%d distinct users' access tokens (scope openid profile email) in turn.", len(f.accessTokens)),
			request: func(ctx context.Context, i int) (*http.Request, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+userinfoPath, nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+f.accessTokens[i%len(f.accessTokens)])
				}
				return req, err
			},
			check:      wantContains(`"sub"`),
			relativeTo: helloName,
		},
		{
			Name: "authorize", Title: "Authorization Endpoint Performance", Endpoint: "GET " + authorizePath + " (to the rendered login page)", Seed: "authorize",
			Notes: "A new visitor (no session cookie) with a distinct state and nonce per request: client and redirect " +
				"URI validation, PKCE and scope checks, the login page rendered.",
			request: func(ctx context.Context, i int) (*http.Request, error) {
				q := "response_type=code&client_id=" + f.web.ID + "&redirect_uri=" + url.QueryEscape(redirectURI) +
					"&scope=openid+profile&state=s" + strconv.Itoa(i) + "&nonce=n" + strconv.Itoa(i) +
					"&code_challenge=" + challenge + "&code_challenge_method=S256"
				return http.NewRequestWithContext(ctx, http.MethodGet, base+authorizePath+"?"+q, nil)
			},
			check:      wantContains(`name="password"`),
			relativeTo: helloName,
		},
		{
			Name: "refresh", Title: "Token Refresh Performance", Endpoint: "POST " + tokenPath + " (refresh_token)", Seed: "refresh",
			Notes: "A distinct refresh token per request, stored before the point (scope profile email offline_access, " +
				"no openid): rotation to a new refresh token and an ES256 access token.",
			prepare: func(ctx context.Context, r *runner, n int) (err error) {
				prepared, err = prepareRefreshTokens(ctx, r.env.store, f.web, f.users, n)
				return err
			},
			initialRate: 8000,
			request:     post(tokenPath, f.web, func(i int) string { return "grant_type=refresh_token&refresh_token=" + prepared[i] }),
			check:       wantContains(`"refresh_token"`),
			relativeTo:  helloName,
		},
		{
			Name: "code", Title: "Token Exchange Performance", Endpoint: "POST " + tokenPath + " (authorization_code + PKCE, no openid)", Seed: "code",
			Notes: "A distinct code per request, stored before the point with a known S256 challenge (scope profile email " +
				"offline_access): redemption, a refresh token and an ES256 access token.",
			prepare: codeScenario(f.web, userScopes), initialRate: 8000,
			request: post(tokenPath, f.web, codeBody), check: wantContains(`"refresh_token"`),
			relativeTo: helloName,
		},
		{
			Name: "code_openid_rs256", Title: "Token Exchange with an RS256 ID Token", Endpoint: "POST " + tokenPath + " (authorization_code + PKCE, openid)",
			Notes:   "As the code exchange, with openid: an RS256 ID token besides (the default ID token algorithm).",
			prepare: codeScenario(f.web, openidScopes), initialRate: 2000,
			request: post(tokenPath, f.web, codeBody), check: wantContains(`"id_token"`), verify: wantIDTokenAlg("RS256"),
			relativeTo: ceilRS256,
		},
		{
			Name: "code_openid_es256", Title: "Token Exchange with an ES256 ID Token", Endpoint: "POST " + tokenPath + " (authorization_code + PKCE, openid)",
			Notes:   "As the code exchange with openid, for a client registered with id_token_signed_response_alg ES256.",
			prepare: codeScenario(f.webES256, openidScopes), initialRate: 6000,
			request: post(tokenPath, f.webES256, codeBody), check: wantContains(`"id_token"`), verify: wantIDTokenAlg("ES256"),
			relativeTo: helloName,
		},
		{
			Name: "password", Title: "Password Grant Performance", Endpoint: "POST " + tokenPath + " (password)", Seed: "password",
			Notes: fmt.Sprintf("%d users in turn (no lockout, no rate limit), scope profile offline_access: an argon2id "+
				"verification, a refresh token stored and an ES256 access token.", len(f.users)),
			request: post(tokenPath, f.password, func(i int) string {
				return "grant_type=password&username=" + f.users[i%len(f.users)].Username + "&password=" + userPassword +
					"&scope=profile+offline_access"
			}),
			check:      wantContains(`"refresh_token"`),
			relativeTo: ceilArgon2,
		},
	}
	m := make(map[string]*scenario, len(list))
	for _, s := range list {
		m[s.Name] = s
	}
	return m
}

func wantContains(s string) func([]byte) error {
	b := []byte(s)
	return func(body []byte) error {
		if !bytes.Contains(body, b) {
			return fmt.Errorf("answer lacks %s", s)
		}
		return nil
	}
}

// wantIDTokenAlg checks that a token response carries an ID token signed with alg.
func wantIDTokenAlg(alg string) func([]byte) error {
	return func(body []byte) error {
		var tr struct {
			IDToken string `json:"id_token"`
		}
		if err := json.Unmarshal(body, &tr); err != nil {
			return err
		}
		head, _, ok := strings.Cut(tr.IDToken, ".")
		if !ok {
			return fmt.Errorf("no ID token in %s", snippet(body))
		}
		raw, err := base64.RawURLEncoding.DecodeString(head)
		if err != nil {
			return err
		}
		var h struct {
			Alg string `json:"alg"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return err
		}
		if h.Alg != alg {
			return fmt.Errorf("ID token signed with %s, want %s", h.Alg, alg)
		}
		return nil
	}
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
