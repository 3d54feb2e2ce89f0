/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// While Postgres is down, what needs it answers 503 temporarily_unavailable with
// Retry-After, so that clients and load balancers retry: the refresh, code and password
// grants, userinfo, the admin API, the login page (a page, not a JSON error), and an authorization
// of a signed-in user (redirected to the client with that error). What the caches
// serve goes on: client_credentials for a known client, introspection of an access token,
// discovery and JWKS. Each 503 is counted, and none is logged as an ERROR.
func TestDatabaseDownIs503(t *testing.T) {
	// A cluster of its own, stopped for real half-way.
	cluster, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	e := newTestEnv(t, generousLimits, func(c *server.Config) { c.DatabaseURL = cluster.URL("postgres") })
	e.user("alice", alicePassword)
	web, webSecret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	legacy, legacySecret := e.webClient(func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "password") })
	m2m, m2mSecret := e.m2mClient()
	ops, opsSecret := e.client(store.Client{Name: "ops", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: admin.ScopeNames()})

	// The change listener empties the caches when it (re)connects: wait until it has, so
	// that it does not empty them after they are filled below. A client deleted behind the
	// cache's back is refused once the listener is up (its notification, or the reset,
	// drops the cached entry).
	probe, probeSecret := e.client(store.Client{Name: "probe", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}})
	if res := e.tokenRequest(probe.ID, probeSecret, url.Values{"grant_type": {"client_credentials"}}); res.status != http.StatusOK {
		t.Fatalf("probe: %d %s", res.status, res.Error)
	}
	if err := e.store.DeleteClient(e.ctx, probe.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change listener to drop the deleted client", func() bool {
		return e.tokenRequest(probe.ID, probeSecret, url.Values{"grant_type": {"client_credentials"}}).status == http.StatusUnauthorized
	})

	// Before the outage: a refresh token, an unredeemed code, an access token, an admin
	// token, a login page in a fresh browser; every client is used once, so it is cached.
	password := e.tokenRequest(legacy.ID, legacySecret, url.Values{"grant_type": {"password"},
		"username": {"alice"}, "password": {alicePassword}, "scope": {"openid offline_access"}})
	if password.status != http.StatusOK || password.RefreshToken == "" {
		t.Fatalf("password grant: %d %s", password.status, password.ErrorDescription)
	}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	_, page := b.get(e.URL + pathAuthorize + "?" + authzParams(web, oauth2.S256ChallengeFromVerifier(verifier)).Encode())
	resp, _ := b.login(e, page, "alice", alicePassword)
	code := redirectParams(t, resp, webRedirect).Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	access := e.tokenRequest(m2m.ID, m2mSecret, url.Values{"grant_type": {"client_credentials"}})
	adminToken := e.tokenRequest(ops.ID, opsSecret, url.Values{"grant_type": {"client_credentials"}})
	if access.status != http.StatusOK || adminToken.status != http.StatusOK {
		t.Fatalf("client_credentials: %d, %d", access.status, adminToken.status)
	}
	if !e.introspect(m2m.ID, m2mSecret, access.AccessToken) {
		t.Fatal("introspection before the outage: inactive")
	}
	loginBrowser := newBrowser(t)
	_, loginPage := loginBrowser.get(e.URL + pathAuthorize + "?" + authzParams(web, oauth2.S256ChallengeFromVerifier(verifier)).Encode())

	cluster.Stop()

	unavailable := func(t *testing.T, res tokenResult) {
		t.Helper()
		if res.status != http.StatusServiceUnavailable || res.Error != "temporarily_unavailable" {
			t.Fatalf("status %d, error %q (%s), want 503 temporarily_unavailable", res.status, res.Error, res.ErrorDescription)
		}
		if ra := res.header.Get("Retry-After"); ra != "5" {
			t.Errorf("Retry-After %q, want 5", ra)
		}
		if cc := res.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
	t.Run("refresh grant", func(t *testing.T) {
		unavailable(t, e.tokenRequest(legacy.ID, legacySecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {password.RefreshToken}}))
	})
	t.Run("code exchange", func(t *testing.T) {
		unavailable(t, e.tokenRequest(web.ID, webSecret, codeForm(code, webRedirect, verifier)))
	})
	t.Run("password grant", func(t *testing.T) {
		unavailable(t, e.tokenRequest(legacy.ID, legacySecret, url.Values{"grant_type": {"password"},
			"username": {"alice"}, "password": {alicePassword}}))
	})
	t.Run("refresh token introspection", func(t *testing.T) {
		// Its state is in the database: "inactive" would be a guess a resource server
		// acts on.
		unavailable(t, e.postForm(pathIntrospect, legacy.ID, legacySecret, url.Values{"token": {password.RefreshToken}}))
	})
	t.Run("userinfo", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.URL+pathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+password.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res tokenResult
		if err := json.Unmarshal([]byte(readBody(t, resp)), &res); err != nil {
			t.Fatal(err)
		}
		res.status, res.header = resp.StatusCode, resp.Header
		unavailable(t, res)
	})
	t.Run("admin API", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.URL+"/admin/clients", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res tokenResult // the admin API's errors have the same error field
		if err := json.Unmarshal([]byte(readBody(t, resp)), &res); err != nil {
			t.Fatal(err)
		}
		res.status, res.header = resp.StatusCode, resp.Header
		unavailable(t, res)
	})
	t.Run("login page", func(t *testing.T) {
		resp, body := loginBrowser.login(e, loginPage, "alice", alicePassword)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("login: %d, Retry-After %q, want 503 and 5", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/html" {
			t.Errorf("login: Content-Type %q, want a page", resp.Header.Get("Content-Type"))
		}
		// The form again, saying to retry; no internal error text.
		if !strings.Contains(body, `name="password"`) || !strings.Contains(body, "temporarily unavailable") ||
			strings.Contains(body, "internal error") || strings.Contains(body, "SQLSTATE") {
			t.Errorf("login page:\n%s", body)
		}
	})

	t.Run("signed-in browser", func(t *testing.T) {
		// A silent renewal (prompt=none) of a signed-in user is not login_required, which
		// would sign the user out of the client: the server cannot tell now.
		q := authzParams(web, oauth2.S256ChallengeFromVerifier(verifier), set("prompt", "none"))
		resp, _ := b.get(e.URL + pathAuthorize + "?" + q.Encode())
		params := redirectParams(t, resp, webRedirect)
		if params.Get("error") != "temporarily_unavailable" || params.Get("state") != q.Get("state") {
			t.Errorf("redirect %v, want error temporarily_unavailable with the state", params)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "5" {
			t.Errorf("Retry-After %q, want 5", ra)
		}
	})

	t.Run("logout", func(t *testing.T) {
		// Whether this browser is signed in is in the database: a page that says so, not a
		// confirmation for a session that may not exist or a "signed out" that is untrue.
		resp, body := b.get(e.URL + "/oidc/logout")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("logout: %d, Retry-After %q, want 503 and 5", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, "temporarily_unavailable") || strings.Contains(body, "signed out") {
			t.Errorf("logout page:\n%s", body)
		}
	})

	// What the caches serve.
	t.Run("client_credentials", func(t *testing.T) {
		if res := e.tokenRequest(m2m.ID, m2mSecret, url.Values{"grant_type": {"client_credentials"}}); res.status != http.StatusOK || res.AccessToken == "" {
			t.Errorf("client_credentials: %d %s", res.status, res.Error)
		}
	})
	t.Run("access token introspection", func(t *testing.T) {
		if !e.introspect(m2m.ID, m2mSecret, access.AccessToken) {
			t.Error("introspection during the outage: inactive")
		}
	})
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		resp, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !json.Valid([]byte(body)) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}

	exposition := e.scrape()
	for series, want := range map[string]float64{
		`authly_db_unavailable_responses_total{endpoint="/api/v1/oauth/token"}`:      3,
		`authly_db_unavailable_responses_total{endpoint="/api/v1/oauth/introspect"}`: 1,
		`authly_db_unavailable_responses_total{endpoint="/oidc/userinfo"}`:           1,
		`authly_db_unavailable_responses_total{endpoint="/api/v1/oauth/authorize"}`:  2,
		`authly_db_unavailable_responses_total{endpoint="/admin/clients"}`:           1,
		`authly_db_unavailable_responses_total{endpoint="/oidc/logout"}`:             1,
	} {
		if got := metricValue(t, exposition, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("the outage was logged as errors:\n%s", logs)
	}
}
