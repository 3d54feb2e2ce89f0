/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzAdminRequestsWithStore sends arbitrary path values, paging parameters and JSON bodies
// to every admin route of an API on a real database, with a token that may do everything:
// whatever the input checks let through reaches Postgres. FuzzAdminDecode stops before the
// store; this target finds values the store refuses. No answer may be a 5xx, every JSON
// answer is valid, and nothing is logged as an ERROR.
func FuzzAdminRequestsWithStore(f *testing.F) {
	e := newEnv(f)
	routes := []struct{ method, prefix, suffix string }{
		{http.MethodGet, "/admin/clients", ""},
		{http.MethodPost, "/admin/clients", ""},
		{http.MethodGet, "/admin/clients/", ""},
		{http.MethodPut, "/admin/clients/", ""},
		{http.MethodDelete, "/admin/clients/", ""},
		{http.MethodPost, "/admin/clients/", "/secret"},
		{http.MethodGet, "/admin/scopes", ""},
		{http.MethodPost, "/admin/scopes", ""},
		{http.MethodGet, "/admin/scopes/", ""},
		{http.MethodPut, "/admin/scopes/", ""},
		{http.MethodDelete, "/admin/scopes/", ""},
		{http.MethodGet, "/admin/users", ""},
		{http.MethodPost, "/admin/users", ""},
		{http.MethodGet, "/admin/users/", ""},
		{http.MethodPut, "/admin/users/", ""},
		{http.MethodDelete, "/admin/users/", ""},
		{http.MethodPost, "/admin/users/", "/password"},
		{http.MethodGet, "/admin/users/", "/sessions"},
		{http.MethodDelete, "/admin/users/", "/sessions"},
	}
	for _, s := range []struct {
		route                       uint8
		segment, limit, after, body string
	}{
		{0, "", "10", "", ""},
		{0, "", "1", "d2Vi", ""},
		{0, "", "", "YQBi", ""}, // "a\x00b"
		{0, "", "", "_-8", ""},  // invalid UTF-8
		{1, "", "", "", `{"client_id":"web","client_name":"W\u0000","grant_types":["client_credentials"]}`},
		{1, "", "", "", `{"client_name":"W` + "\xff" + `","grant_types":["client_credentials"]}`},
		{2, "we\x00b", "", "", ""},
		{3, "web", "", "", `{"client_name":"x","grant_types":["authorization_code"],"redirect_uris":["https://a.example.com/\u0000"]}`},
		{5, "\xff", "", "", `{"grace_period_seconds":60}`},
		{7, "", "", "", `{"name":"orders:read","description":"\u0000"}`},
		{8, "orders\x00", "", "", ""},
		{12, "", "", "", `{"username":"bob","email":"b\u0000@example.com","password":"long enough password"}`},
		{13, "00000000-0000-0000-0000-00000000000\x00", "", "", ""},
		{16, "00000000-0000-0000-0000-000000000000", "", "", `{"password":"long enough \u0000 password"}`},
		{17, strings.Repeat("a", 600), "", "", ""},
	} {
		f.Add(s.route, s.segment, s.limit, s.after, s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, segment, limit, after, body string) {
		rt := routes[int(route)%len(routes)]
		path := rt.prefix
		if strings.HasSuffix(rt.prefix, "/") {
			path += url.PathEscape(segment) + rt.suffix
		}
		q := url.Values{}
		if limit != "" {
			q.Set("limit", limit)
		}
		if after != "" {
			q.Set("after", after)
		}
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r, err := http.NewRequestWithContext(e.ctx, rt.method, e.url+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = q.Encode()
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		r.Header.Set("Authorization", "Bearer "+tokAll)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s?%s %q: status %d: %s", rt.method, path, r.URL.RawQuery, body, resp.StatusCode, b)
		}
		// The API answers JSON; only the router's own 404s and redirects (an empty or
		// dot segment) are text.
		if resp.Header.Get("Content-Type") == "application/json" && !json.Valid(b) {
			t.Fatalf("%s %s: answer is not JSON: %q", rt.method, path, b)
		}
		if strings.Contains(e.log.String(), "level=ERROR") {
			t.Fatalf("%s %s %q: logged an error:\n%s", rt.method, path, body, e.log.String())
		}
	})
}
