/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// badValue is one malformed value the sweep puts in every parameter.
type badValue struct{ name, v string }

var badValues = []badValue{
	{"NUL", "a\x00b"},
	{"invalid UTF-8", "\xff\xfe\xfd"},
	{"overlong UTF-8", "\xc0\xaf\xe0\x80\xaf"},
	{"UTF-16 surrogate", "\xed\xa0\x80"},
	{"control characters", "\x01\x07\x08\x1b[2J\x7f"},
	{"CR LF", "a\r\nX-Injected: 1"},
	{"64 KiB", strings.Repeat("a", 64<<10)},
}

// badTarget is one place a value goes: a parameter of an endpoint.
type badTarget struct {
	name string
	send func(ctx context.Context, hc *http.Client, v string) answer
}

// badInput sends every bad value in every parameter of every endpoint to replica 0.
func (e *serverEnv) badInput(ctx context.Context) *result {
	res := newResult("bad-input")
	r := e.replicas[0]
	hc := newHTTPClient(4)
	adminToken := ""
	a := postForm(ctx, hc, 0, r.url, tokenPath, e.fx.admin, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin:clients:read admin:clients:write admin:scopes:read admin:users:read"}})
	if t, err := parseToken(a); err == nil && a.ok() {
		adminToken = t.AccessToken
	} else {
		res.note("no admin token (%s): the admin API is swept without one", a.kind())
	}
	targets := e.badTargets(r, adminToken)
	statuses := map[string]int{}
	// failing: the bad values each failing parameter got a 5xx or a dropped connection for.
	failing := map[string][]string{}
	for _, t := range targets {
		for _, bv := range badValues {
			a := t.send(ctx, hc, bv.v)
			res.requests++
			if a.err != nil {
				statuses[transportKind(a.err)]++
			} else {
				statuses[fmt.Sprintf("HTTP %d", a.status)]++
			}
			if a.err != nil || a.status >= 500 {
				res.errors[a.kind()]++
				failing[t.name] = append(failing[t.name], bv.name+": "+a.kind())
			}
		}
	}
	if len(res.errors) > 0 {
		res.problem("%d malformed requests got a 5xx or a dropped connection, want a 4xx", sum(res.errors))
		for _, name := range slices.Sorted(maps.Keys(failing)) {
			res.problem("%s: %s", name, strings.Join(failing[name], ", "))
		}
	}
	keys := slices.Sorted(maps.Keys(statuses))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, statuses[k])
	}
	res.note("%d parameters × %d values (%s): %s", len(targets), len(badValues), badValueNames(), strings.Join(parts, ", "))
	return res
}

func badValueNames() string {
	names := make([]string, len(badValues))
	for i, b := range badValues {
		names[i] = b.name
	}
	return strings.Join(names, ", ")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// badTargets lists every parameter of every endpoint, each with the other parameters of a
// plausible request around it.
func (e *serverEnv) badTargets(r *replica, adminToken string) []badTarget {
	f := e.fx
	var ts []badTarget
	form := func(name, path string, c oauthClient, base url.Values) {
		for _, p := range slices.Sorted(maps.Keys(base)) {
			ts = append(ts, badTarget{name: fmt.Sprintf("POST %s (%s) %s", path, name, p), send: func(ctx context.Context, hc *http.Client, v string) answer {
				vals := url.Values{}
				for k, vv := range base {
					vals[k] = slices.Clone(vv)
				}
				vals.Set(p, v)
				return postForm(ctx, hc, 0, r.url, path, c, vals)
			}})
		}
	}
	query := func(path string, base url.Values) {
		for _, p := range slices.Sorted(maps.Keys(base)) {
			ts = append(ts, badTarget{name: fmt.Sprintf("GET %s %s", path, p), send: func(ctx context.Context, hc *http.Client, v string) answer {
				vals := url.Values{}
				for k, vv := range base {
					vals[k] = slices.Clone(vv)
				}
				vals.Set(p, v)
				return exchange(ctx, hc, 0, http.MethodGet, r.url+path+"?"+vals.Encode(), nil, "")
			}})
		}
	}
	form("code", tokenPath, f.web, codeBody("some-code-value"))
	form("refresh", tokenPath, f.web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"some-refresh-token"}, "scope": {"profile"}})
	form("cc", tokenPath, f.service, url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}})
	form("password", tokenPath, f.password, url.Values{"grant_type": {"password"}, "username": {f.users[0].Username}, "password": {"wrong-password"}, "scope": {"profile"}})
	form("post auth", tokenPath, oauthClient{}, url.Values{"grant_type": {"client_credentials"}, "client_id": {f.service.ID}, "client_secret": {"not-the-secret"}})
	form("revoke", revokePath, f.service, url.Values{"token": {"some-token"}, "token_type_hint": {"access_token"}})
	form("introspect", introspectPath, f.resource, url.Values{"token": {"some-token"}, "token_type_hint": {"refresh_token"}})
	authz := url.Values{"response_type": {"code"}, "client_id": {f.web.ID}, "redirect_uri": {redirectURI}, "scope": {"openid profile"},
		"state": {"xyz"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "nonce": {"n"}, "prompt": {"login"}}
	query(authorizePath, authz)
	login := maps.Clone(authz)
	login["username"] = []string{f.users[0].Username}
	login["password"] = []string{"wrong-password"}
	login["csrf_token"] = []string{"not-a-token"}
	login["action"] = []string{"login"}
	login["consent"] = []string{"allow"}
	form("login", authorizePath, oauthClient{}, login)
	query(logoutPath, url.Values{"id_token_hint": {"a.b.c"}, "post_logout_redirect_uri": {"https://app.example.com/"}, "state": {"s"}, "client_id": {f.web.ID}})
	query(oidcPath, url.Values{"x": {"1"}})
	query(jwksPath, url.Values{"x": {"1"}})
	form("userinfo", userinfoPath, oauthClient{}, url.Values{"access_token": {"some-token"}})
	// Headers go out as they are, on a connection of their own: net/http would refuse them.
	for _, h := range []struct{ method, path, header, prefix string }{
		{"GET", userinfoPath, "Authorization", "Bearer "},
		{"POST", tokenPath, "Authorization", "Basic "},
		{"POST", tokenPath, "Content-Type", ""},
		{"GET", "/admin/clients", "Authorization", "Bearer "},
	} {
		ts = append(ts, badTarget{name: fmt.Sprintf("%s %s header %s", h.method, h.path, h.header), send: func(ctx context.Context, _ *http.Client, v string) answer {
			body := "grant_type=client_credentials"
			if h.method == "GET" {
				body = ""
			}
			return rawRequest(ctx, r.addr, h.method, h.path, map[string]string{h.header: h.prefix + v, "Content-Type": formType}, body)
		}})
	}
	if adminToken != "" {
		auth := http.Header{"Authorization": {"Bearer " + adminToken}}
		for _, p := range []string{"/admin/clients/", "/admin/scopes/", "/admin/users/", "/admin/users/%s/sessions"} {
			ts = append(ts, badTarget{name: "GET " + p + " path", send: func(ctx context.Context, hc *http.Client, v string) answer {
				path := p + url.PathEscape(v)
				if strings.Contains(p, "%s") {
					path = fmt.Sprintf(p, url.PathEscape(v))
				}
				return exchange(ctx, hc, 0, http.MethodGet, r.url+path, auth, "")
			}})
		}
		for _, q := range []string{"limit", "after"} {
			ts = append(ts, badTarget{name: "GET /admin/clients " + q, send: func(ctx context.Context, hc *http.Client, v string) answer {
				return exchange(ctx, hc, 0, http.MethodGet, r.url+"/admin/clients?"+url.Values{q: {v}}.Encode(), auth, "")
			}})
		}
		jsonAuth := http.Header{"Authorization": {"Bearer " + adminToken}, "Content-Type": {"application/json"}}
		for _, field := range []string{"client_id", "client_name", "redirect_uris", "scopes"} {
			ts = append(ts, badTarget{name: "POST /admin/clients " + field, send: func(ctx context.Context, hc *http.Client, v string) answer {
				// Raw bytes inside the JSON string: json.Marshal would replace them.
				s := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
				if field == "redirect_uris" || field == "scopes" {
					s = "[" + s + "]"
				}
				body := `{"client_name":"bad-input","grant_types":["client_credentials"],"scopes":["api:read"],` + fmt.Sprintf("%q", field) + ":" + s + "}"
				if field == "client_name" || field == "scopes" {
					body = `{"grant_types":["client_credentials"],` + fmt.Sprintf("%q", field) + ":" + s + "}"
				}
				return exchange(ctx, hc, 0, http.MethodPost, r.url+"/admin/clients", jsonAuth, body)
			}})
		}
	}
	return ts
}

// rawRequest writes one HTTP/1.1 request byte for byte and reads the status of the answer.
func rawRequest(ctx context.Context, addr, method, path string, header map[string]string, body string) answer {
	a := answer{start: time.Now()}
	defer func() { a.end = time.Now() }()
	d := net.Dialer{Timeout: requestTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		a.err = err
		return a
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, addr)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		a.err = err
		return a
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		a.err = err
		return a
	}
	defer func() { _ = resp.Body.Close() }()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	a.status, a.body = resp.StatusCode, buf[:n]
	return a
}
