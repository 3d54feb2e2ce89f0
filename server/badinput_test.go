/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/store"
)

// badValue is a value no request parameter may hold, and the reason the server gives.
type badValue struct {
	name, value, reason string
}

const (
	reasonControl = "contains a control character"
	reasonUTF8    = "is not valid UTF-8"
	reasonLength  = "is longer than"
	reasonNUL     = "contains a NUL byte"
)

// badValues are refused in every parameter of the OAuth endpoints: Postgres refuses NUL
// and invalid UTF-8 in text (they used to answer 500), and RFC 6749 Appendix A allows no
// control character but tab in any parameter. The longest limit is 16 KiB (tokens).
var badValues = []badValue{
	{"NUL", "a\x00b", reasonControl},
	{"only NUL", "\x00", reasonControl},
	{"invalid UTF-8", "a\xffb", reasonUTF8},
	{"cut UTF-8 sequence", "caf\xc3", reasonUTF8},
	{"UTF-16 surrogate", "\xed\xa0\x80", reasonUTF8},
	{"overlong", strings.Repeat("a", 17<<10), reasonLength},
	{"control character", "a\x01b", reasonControl},
	{"line break", "a\r\nb", reasonControl},
	{"terminal escape", "\x1b[2J", reasonControl},
	{"DEL", "a\x7f", reasonControl},
}

// headerSafe reports whether v can be sent in an HTTP header at all: Go's client refuses
// control characters there (and servers must), so those only travel in forms.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// TestBadInputIsRefusedAtTheEdge sends each bad value in every parameter of every
// endpoint (form fields, query parameters, HTTP Basic, bearer tokens, admin API paths,
// queries and JSON bodies) and checks the exact answer: invalid_client with 401 where the
// client authenticates, invalid_request otherwise, naming the parameter; never a 5xx,
// and nothing logged as an ERROR.
func TestBadInputIsRefusedAtTheEdge(t *testing.T) {
	f := newBadFixture(t)
	e := f.e
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	webAuth := basicAuth(f.web.ID, f.webSecret)
	m2mAuth := basicAuth(f.m2m.ID, f.m2mSecret)
	legacyAuth := basicAuth(f.legacy.ID, f.legacySecret)

	var cases []badRequest
	add := func(name string, req func(*testing.T) *http.Request, want outcome) {
		cases = append(cases, badRequest{name: name, req: req, want: want})
	}

	// A plausible request of each kind; every parameter in turn is spoiled, and so are
	// client credentials in the body and a parameter the server does not know.
	type formRequest struct {
		name, path string
		form       url.Values
		auth       reqOpt
		// clientAuth: the endpoint authenticates the client, so bad credentials are
		// invalid_client; otherwise client_id is a plain parameter.
		clientAuth bool
		page       bool // the endpoint answers with an HTML page
		get        bool
		challenge  string
	}
	authz := authzParams(f.web, challenge, set("nonce", "n-1"), set("prompt", "login"), set("max_age", "0"),
		set("login_hint", "alice"), set("response_mode", "query"))
	withAll := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = slices.Clone(vs)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	requests := []formRequest{
		{name: "token/authorization_code", path: pathToken, form: withAll(codeForm("some-code", webRedirect, verifier), "scope", "openid"),
			auth: webAuth, clientAuth: true},
		{name: "token/refresh_token", path: pathToken, form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"some-refresh-token"}, "scope": {"openid"}},
			auth: webAuth, clientAuth: true},
		{name: "token/client_credentials", path: pathToken, form: url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}},
			auth: m2mAuth, clientAuth: true},
		{name: "token/password", path: pathToken, form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {"openid"}},
			auth: legacyAuth, clientAuth: true},
		// A ServiceAccount token as client assertion (issue 15): credentials in the body.
		{name: "token/client_credentials (ServiceAccount token)", path: pathToken, clientAuth: true,
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {f.m2m.ID},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"}}},
		{name: "introspect", path: pathIntrospect, form: url.Values{"token": {"some-token"}, "token_type_hint": {"refresh_token"}},
			auth: m2mAuth, clientAuth: true},
		{name: "revoke", path: pathRevoke, form: url.Values{"token": {"some-token"}, "token_type_hint": {"refresh_token"}},
			auth: webAuth, clientAuth: true},
		{name: "userinfo/POST", path: pathUserinfo, form: url.Values{"access_token": {"some-token"}}, challenge: `error="invalid_request"`},
		{name: "authorize/GET", path: pathAuthorize, form: authz, page: true, get: true},
		{name: "authorize/login form", path: pathAuthorize, page: true,
			form: withAll(authz, "action", "login", "username", "alice", "password", alicePassword, "csrf_token", strings.Repeat("c", 43))},
		{name: "authorize/consent form", path: pathAuthorize, page: true,
			form: withAll(authz, "action", "consent", "consent", "approve", "csrf_token", strings.Repeat("c", 43))},
		{name: "device_authorization", path: pathDeviceAuth, form: url.Values{"scope": {"openid"}},
			auth: webAuth, clientAuth: true},
		{name: "token/device_code", path: pathToken, form: url.Values{"grant_type": {deviceGrant}, "device_code": {"some-device-code"}},
			auth: webAuth, clientAuth: true},
		{name: "device/GET", path: pathDevice, form: url.Values{"user_code": {"WDJB-MJHT"}}, page: true, get: true},
		{name: "device/code form", path: pathDevice, page: true,
			form: url.Values{"action": {"code"}, "user_code": {"wdjbmjht"}, "csrf_token": {strings.Repeat("c", 43)}}},
		{name: "device/login form", path: pathDevice, page: true,
			form: url.Values{"action": {"login"}, "user_code": {"WDJB-MJHT"}, "username": {"alice"}, "password": {alicePassword}, "csrf_token": {strings.Repeat("c", 43)}}},
		{name: "device/consent form", path: pathDevice, page: true,
			form: url.Values{"action": {"consent"}, "consent": {"approve"}, "user_code": {"WDJB-MJHT"}, "csrf_token": {strings.Repeat("c", 43)}}},
		{name: "logout", path: pathLogout, page: true, get: true,
			form: url.Values{"client_id": {f.other.ID}, "post_logout_redirect_uri": {"https://other.example.com/bye"}, "id_token_hint": {"a.b.c"}, "state": {"s"}}},
	}
	for _, fr := range requests {
		params := make([]string, 0, len(fr.form)+3)
		for k := range fr.form {
			params = append(params, k)
		}
		if fr.clientAuth {
			params = append(params, "client_id", "client_secret", "client_assertion", "client_assertion_type")
		}
		params = append(params, "extension")
		slices.Sort(params)
		params = slices.Compact(params)
		for _, p := range params {
			for _, bv := range badValues {
				form := withAll(fr.form, p, bv.value)
				var opts []reqOpt
				want := jsonErr(http.StatusBadRequest, "invalid_request")
				switch {
				case fr.clientAuth && (p == "client_id" || p == "client_secret"):
					// Credentials in the body instead of Basic, one of them bad.
					if p == "client_id" {
						form.Set("client_secret", "some-secret")
					} else {
						form.Set("client_id", f.web.ID)
					}
					want = jsonErr(http.StatusUnauthorized, "invalid_client")
				case fr.clientAuth && (p == "client_assertion" || p == "client_assertion_type"):
					// A client assertion (RFC 7521 section 4.2) instead of Basic, one of its
					// two parameters bad: a failed client authentication.
					if p == "client_assertion" {
						form.Set("client_assertion_type", jwtBearer)
					} else {
						form.Set("client_assertion", "a.b.c")
					}
					want = jsonErr(http.StatusUnauthorized, "invalid_client")
				case fr.auth != nil:
					opts = append(opts, fr.auth)
				}
				if fr.page {
					want = errPage(http.StatusBadRequest, "invalid_request")
				}
				want = want.withDescription(p + " " + bv.reason)
				if fr.challenge != "" {
					want = want.withChallenge(fr.challenge)
				}
				req := f.post(fr.path, form, opts...)
				if fr.get {
					req = f.call(http.MethodGet, fr.path, form.Encode(), opts...)
				}
				add(fr.name+"/"+p+"/"+bv.name, req, want)
			}
		}
	}

	// HTTP Basic credentials, each part form-urlencoded as RFC 6749 section 2.3.1 says.
	for _, path := range []string{pathToken, pathIntrospect, pathRevoke} {
		form := url.Values{"grant_type": {"client_credentials"}, "token": {"some-token"}}
		for _, bv := range badValues {
			add(path+"/Basic client_id/"+bv.name, f.post(path, form, basicAuth(bv.value, f.m2mSecret)),
				jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("client_id "+bv.reason))
			add(path+"/Basic secret/"+bv.name, f.post(path, form, basicAuth(f.m2m.ID, bv.value)),
				jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("client_secret "+bv.reason))
		}
	}

	// Client assertions that are well-formed parameters but no assertion the server
	// accepts: invalid_client (RFC 7521 section 4.2.1), or invalid_request when the
	// request uses two authentication methods (RFC 6749 section 2.3).
	for _, path := range []string{pathToken, pathIntrospect, pathRevoke} {
		base := url.Values{"grant_type": {"client_credentials"}, "token": {"some-token"}}
		for _, c := range []struct {
			name      string
			assertion string
			typ       string
			extra     []string
			auth      reqOpt
			want      outcome
		}{
			{"not a JWT", "not-a-jwt", jwtBearer, nil, nil, jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("not a JWT")},
			{"three dots", "a.b.c", jwtBearer, nil, nil, jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("not a JWT")},
			{"unknown type", "a.b.c", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", nil, nil,
				jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("client_assertion_type must be")},
			{"type only", "", jwtBearer, nil, nil, jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("client_assertion is required")},
			{"secret client", "a.b.c", jwtBearer, []string{"client_id", f.m2m.ID}, nil,
				jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("must authenticate with client_secret_basic")},
			{"unknown client", "a.b.c", jwtBearer, []string{"client_id", "no-such-client"}, nil,
				jsonErr(http.StatusUnauthorized, "invalid_client").withDescription("client authentication failed")},
			{"with Basic", "a.b.c", jwtBearer, nil, m2mAuth, jsonErr(http.StatusBadRequest, "invalid_request").withDescription("only one client authentication method")},
			{"with client_secret", "a.b.c", jwtBearer, []string{"client_id", f.m2m.ID, "client_secret", f.m2mSecret}, nil,
				jsonErr(http.StatusBadRequest, "invalid_request").withDescription("only one client authentication method")},
		} {
			form := withAll(base, c.extra...)
			if c.assertion != "" {
				form.Set("client_assertion", c.assertion)
			}
			form.Set("client_assertion_type", c.typ)
			var opts []reqOpt
			if c.auth != nil {
				opts = append(opts, c.auth)
			}
			add(path+"/client assertion/"+c.name, f.post(path, form, opts...), c.want)
		}
	}

	// Bearer tokens in the Authorization header (only what a header can carry).
	for _, bv := range badValues {
		if !headerSafe(bv.value) {
			continue
		}
		add("userinfo/header token/"+bv.name, f.call(http.MethodGet, pathUserinfo, "", bearer(bv.value)),
			jsonErr(http.StatusBadRequest, "invalid_request").withDescription("access token "+bv.reason).withChallenge(`error="invalid_request"`))
	}

	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.send(t, f.plain, tc.req(t))
			tc.want.assert(t, resp, body)
		})
	}

	t.Run("admin API", func(t *testing.T) { testBadAdminInput(t, f) })

	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("bad input was logged as an error:\n%s", logs)
	}
}

// testBadAdminInput spoils the admin API's path values, query parameters, bearer token and
// JSON bodies.
func testBadAdminInput(t *testing.T, f *badFixture) {
	e := f.e
	ops, secret := e.client(store.Client{Name: "ops", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: admin.ScopeNames()})
	tok := e.tokenRequest(ops.ID, secret, url.Values{"grant_type": {"client_credentials"}})
	if tok.status != http.StatusOK {
		t.Fatalf("admin token: %d %s", tok.status, tok.ErrorDescription)
	}

	grace := e.user("grace", "long enough password")

	type adminCase struct {
		name, method, path, body, token string
		field, description              string
	}
	var cases []adminCase
	for _, bv := range badValues {
		reason := bv.reason
		if strings.Contains(bv.value, "\x00") {
			reason = reasonNUL
		}
		for _, p := range []string{"/admin/clients/", "/admin/users/", "/admin/scopes/"} {
			field := "id"
			if p == "/admin/scopes/" {
				field = "name"
			}
			cases = append(cases, adminCase{name: "path " + p + "/" + bv.name, method: http.MethodGet,
				path: p + url.PathEscape(bv.value), field: field, description: reason})
		}
		for _, q := range []string{"limit", "after", "extension"} {
			cases = append(cases, adminCase{name: "query " + q + "/" + bv.name, method: http.MethodGet,
				path: "/admin/clients?" + url.Values{q: {bv.value}}.Encode(), field: q, description: q + " " + reason})
		}
		if headerSafe(bv.value) {
			cases = append(cases, adminCase{name: "bearer token/" + bv.name, method: http.MethodGet,
				path: "/admin/clients", token: bv.value, description: "access token " + reason})
		}
		// JSON bodies: a NUL travels escaped (\u0000); invalid UTF-8 raw, refused as a
		// whole (the decoder would replace it); a control character is JSON-escaped too
		// and refused by the field's own rule, for identifiers only.
		bodies := []struct{ path, field, template string }{
			{"/admin/clients", "client_id", `{"client_id":@,"grant_types":["client_credentials"]}`},
			{"/admin/clients", "client_name", `{"client_name":@,"grant_types":["client_credentials"]}`},
			{"/admin/clients", "redirect_uris[0]", `{"grant_types":["authorization_code"],"redirect_uris":[@]}`},
			{"/admin/clients", "scopes[0]", `{"grant_types":["client_credentials"],"scopes":[@]}`},
			{"/admin/users", "username", `{"username":@,"password":"long enough password"}`},
			{"/admin/users", "email", `{"username":"bob","email":@,"password":"long enough password"}`},
			{"/admin/users", "name", `{"username":"bob","name":@,"password":"long enough password"}`},
			{"/admin/users", "password", `{"username":"bob","password":@}`},
			{"/admin/users", "groups[1]", `{"username":"bob","password":"long enough password","groups":["dev",@]}`},
			{"/admin/users/" + grace.ID + "/groups", "groups[0]", `{"groups":[@]}`},
			{"/admin/scopes", "name", `{"name":@}`},
			{"/admin/clients", "federated_subject", `{"grant_types":["client_credentials"],"federated_issuer":"https://k8s.example.com","federated_subject":@}`},
			{"/admin/federated-issuers", "issuer", `{"issuer":@,"jwks":{"keys":[]}}`},
			{"/admin/scopes", "description", `{"name":"orders:x","description":@}`},
		}
		for _, b := range bodies {
			method := http.MethodPost
			if strings.HasSuffix(b.path, "/groups") {
				method = http.MethodPut
			}
			c := adminCase{name: "body " + strings.Replace(b.path, grace.ID, "{id}", 1) + " " + b.field + "/" + bv.name, method: method, path: b.path,
				body: strings.Replace(b.template, "@", jsonString(bv.value), 1), field: b.field, description: b.field + " " + reason}
			switch reason {
			case reasonUTF8:
				c.field, c.description = "", "not valid UTF-8"
			case reasonControl:
				if b.field == "client_name" || b.field == "name" || b.field == "description" || b.field == "password" || b.field == "email" {
					continue // free text may hold line breaks; tested below
				}
				c.description = "" // the field's own validation refuses it
			}
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.request(t, c.method, c.path, "")
			if c.body != "" {
				r = f.request(t, c.method, c.path, c.body, contentType("application/json"))
			}
			token := tok.AccessToken
			if c.token != "" {
				token = c.token
			}
			r.Header.Set("Authorization", "Bearer "+token)
			resp, body := f.send(t, f.plain, r)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			var ae admin.Error
			if err := json.Unmarshal([]byte(body), &ae); err != nil {
				t.Fatalf("not JSON: %s", body)
			}
			if ae.Code != admin.ErrInvalidRequest || ae.Field != c.field || !strings.Contains(ae.Description, c.description) {
				t.Errorf("error %q field %q (%s), want invalid_request, field %q, description with %q",
					ae.Code, ae.Field, ae.Description, c.field, c.description)
			}
		})
	}

	// Free text may hold line breaks and tabs: a description is stored as it was sent.
	r := f.request(t, http.MethodPost, "/admin/scopes", `{"name":"orders:notes","description":"line one\nline\ttwo"}`,
		contentType("application/json"), bearer(tok.AccessToken))
	if resp, body := f.send(t, f.plain, r); resp.StatusCode != http.StatusCreated {
		t.Errorf("description with a line break: %d %s", resp.StatusCode, body)
	}
	if sc, err := e.store.GetScope(e.ctx, "orders:notes"); err != nil || sc.Description != "line one\nline\ttwo" {
		t.Errorf("stored description %v, %v", sc, err)
	}
}

// jsonString encodes s as a JSON string, keeping invalid UTF-8 bytes as they are (the
// encoder would replace them).
func jsonString(s string) string {
	if utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return `"` + s + `"`
}
