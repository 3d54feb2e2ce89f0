/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

// FuzzEndpointsWithStore sends arbitrary query strings, form bodies and Authorization
// headers to the endpoints that read the database, on a server with a real one: clients
// and a user exist, so every grant gets as far as its store calls. The oauth package's
// fuzz targets stop before the store; this one finds what the edge checks let through to
// Postgres. No answer may be a 5xx (the database is up), and nothing may be logged as an
// ERROR.
func FuzzEndpointsWithStore(f *testing.F) {
	e := newTestEnv(f, generousLimits)
	e.user("alice", alicePassword)
	web, webSecret := e.webClient(func(c *store.Client) {
		c.ID, c.FirstParty = "web", true
		c.GrantTypes = append(c.GrantTypes, "password")
	})
	m2m, m2mSecret := e.client(store.Client{ID: "m2m", Name: "m2m", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}})
	webAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(web.ID+":"+url.QueryEscape(webSecret)))
	m2mAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(m2m.ID+":"+url.QueryEscape(m2mSecret)))
	authz := "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&response_type=code&scope=openid" +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
	routes := []struct{ method, path string }{
		{http.MethodPost, pathToken}, {http.MethodPost, pathIntrospect}, {http.MethodPost, pathRevoke},
		{http.MethodPost, pathUserinfo}, {http.MethodGet, pathUserinfo},
		{http.MethodGet, pathAuthorize}, {http.MethodPost, pathAuthorize}, {http.MethodGet, pathLogout},
	}
	for _, s := range []struct {
		endpoint          uint8
		query, body, auth string
	}{
		{0, "", "grant_type=password&username=alice&password=x", webAuth},
		{0, "", "grant_type=password&username=al%00ice&password=x", webAuth},
		{0, "", "grant_type=password&username=%FF%FE&password=x", webAuth},
		{0, "", "grant_type=refresh_token&refresh_token=r%00t", webAuth},
		{0, "", "grant_type=authorization_code&code=c%C3&code_verifier=" + strings.Repeat("v", 43), webAuth},
		{0, "", "grant_type=client_credentials&scope=orders%3Aread%00", m2mAuth},
		{0, "", "grant_type=client_credentials&client_id=m%00&client_secret=x", ""},
		{0, "", "grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("m2m\x00:\xff"))},
		{1, "", "token=a%00b&token_type_hint=refresh_token", m2mAuth},
		{2, "", "token=%ED%A0%80", webAuth},
		{3, "", "access_token=a%01b", ""},
		{4, "", "", "Bearer \xff\xfe"},
		{5, authz + "&state=%00", "", ""},
		{5, "client_id=w%00eb", "", ""},
		{6, "", authz + "&action=login&username=alice%00&password=x&csrf_token=" + strings.Repeat("c", 43), ""},
		{6, "", authz + "&action=login&username=alice&password=x%FF&csrf_token=" + strings.Repeat("c", 43), ""},
		{7, "client_id=web&post_logout_redirect_uri=%FF&state=%0D%0A", "", ""},
	} {
		f.Add(s.endpoint, s.query, s.body, s.auth)
	}
	handler := e.srv.Handler()
	f.Fuzz(func(t *testing.T, endpoint uint8, query, body, auth string) {
		route := routes[int(endpoint)%len(routes)]
		method, path := route.method, route.path
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.URL.RawQuery = query // any bytes, also those a request line could not carry
		if method == http.MethodPost {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q body %q: status %d: %s", method, path, query, body, w.Code, w.Body.String())
		}
		if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
			t.Fatalf("%s %s?%q body %q: logged an error:\n%s", method, path, query, body, logs)
		}
	})
}
