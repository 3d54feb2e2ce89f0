/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// Every bad request is a 400 (or 409) that names the field at fault, or says what is wrong
// with the body as a whole.
func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.store.CreateScope(e.ctx, &store.Scope{Name: "taken"}); err != nil {
		t.Fatal(err)
	}
	user := &store.User{Username: "victor"}
	if err := e.reg.CreateUser(e.ctx, user, "long enough password"); err != nil {
		t.Fatal(err)
	}
	cc := &store.Client{ID: "cc-client", GrantTypes: []string{"client_credentials"}}
	if _, err := e.reg.CreateClient(e.ctx, cc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		status  int
		field   string   // "" when the body as a whole is at fault
		fields  []string // every field, when there are several
		descHas string
	}{
		{"redirect URI over http", "POST", "/admin/clients", `{"grant_types":["authorization_code"],"redirect_uris":["https://ok.example.com/cb","http://evil.example.com/cb"]}`,
			400, "redirect_uris[1]", nil, "loopback"},
		{"redirect URI with fragment", "POST", "/admin/clients", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example.com/cb#x"]}`,
			400, "redirect_uris[0]", nil, "fragment"},
		{"code grant without redirect URIs", "POST", "/admin/clients", `{"grant_types":["authorization_code"]}`, 400, "redirect_uris", nil, "required"},
		{"unknown grant type", "POST", "/admin/clients", `{"grant_types":["client_credentials","implicit"]}`, 400, "grant_types[1]", nil, "implicit"},
		{"no grant type", "POST", "/admin/clients", `{"client_name":"x"}`, 400, "grant_types", nil, ""},
		{"bad client type", "POST", "/admin/clients", `{"client_type":"secretive","grant_types":["client_credentials"]}`, 400, "client_type", nil, ""},
		{"bad client id", "POST", "/admin/clients", `{"client_id":"a b","grant_types":["client_credentials"]}`, 400, "client_id", nil, ""},
		{"bad scope token", "POST", "/admin/clients", `{"grant_types":["client_credentials"],"scopes":["ok","bad\"quote"]}`, 400, "scopes[1]", nil, ""},
		{"several problems", "POST", "/admin/clients", `{"grant_types":["nope"],"redirect_uris":["ftp:x#y"],"id_token_signed_response_alg":"HS256"}`,
			400, "grant_types[0]", []string{"grant_types[0]", "redirect_uris[0]", "id_token_signed_response_alg"}, ""},
		{"duplicate client", "POST", "/admin/clients", `{"client_id":"cc-client","grant_types":["client_credentials"]}`, 409, "client_id", nil, "exists"},
		{"typo'd field", "POST", "/admin/clients", `{"grant_types":["client_credentials"],"redirect_uri":["https://a.example.com"]}`, 400, "redirect_uri", nil, "unknown field"},
		{"RFC 7591 scope string", "POST", "/admin/clients", `{"grant_types":["client_credentials"],"scope":"a b"}`, 400, "scope", nil, "scopes"},
		{"read-only field", "POST", "/admin/clients", `{"grant_types":["client_credentials"],"created_at":"2020-01-01T00:00:00Z"}`, 400, "created_at", nil, ""},
		{"wrong type", "POST", "/admin/clients", `{"grant_types":"client_credentials"}`, 400, "grant_types", nil, "array"},
		{"wrong type in bool", "POST", "/admin/clients", `{"grant_types":["client_credentials"],"first_party":"yes"}`, 400, "first_party", nil, "true or false"},
		{"two JSON values", "POST", "/admin/clients", `{"grant_types":["client_credentials"]} {}`, 400, "", nil, "exactly one"},
		{"trailing brace", "POST", "/admin/clients", `{"grant_types":["client_credentials"]}}`, 400, "", nil, ""},
		{"array body", "POST", "/admin/clients", `[{"grant_types":["client_credentials"]}]`, 400, "", nil, "object"},
		{"null body", "POST", "/admin/clients", `null`, 400, "", nil, "object"},
		{"malformed JSON", "POST", "/admin/clients", `{"grant_types":[client_credentials]}`, 400, "", nil, "malformed"},
		{"truncated JSON", "POST", "/admin/clients", `{"grant_types":["client_cre`, 400, "", nil, ""},
		{"whitespace only", "POST", "/admin/clients", "  \n ", 400, "", nil, "empty"},
		{"negative grace", "POST", "/admin/clients/cc-client/secret", `{"grace_period_seconds":-1}`, 400, "grace_period_seconds", nil, ""},
		{"grace too long", "POST", "/admin/clients/cc-client/secret", `{"grace_period_seconds":99999999}`, 400, "grace_period_seconds", nil, ""},
		{"grace not a number", "POST", "/admin/clients/cc-client/secret", `{"grace_period_seconds":"1h"}`, 400, "grace_period_seconds", nil, "integer"},
		{"grace overflows", "POST", "/admin/clients/cc-client/secret", `{"grace_period_seconds":1e400}`, 400, "grace_period_seconds", nil, "integer"},
		{"bad scope name", "POST", "/admin/scopes", `{"name":"has space"}`, 400, "name", nil, ""},
		{"empty scope name", "POST", "/admin/scopes", `{"description":"x"}`, 400, "name", nil, ""},
		{"duplicate scope", "POST", "/admin/scopes", `{"name":"taken"}`, 409, "name", nil, "exists"},
		{"scope renamed by PUT", "PUT", "/admin/scopes/taken", `{"name":"other"}`, 400, "name", nil, ""},
		{"bad username", "POST", "/admin/users", `{"username":"no spaces allowed","password":"long enough password"}`, 400, "username", nil, ""},
		{"short password", "POST", "/admin/users", `{"username":"pat","password":"short"}`, 400, "password", nil, "8 to 1024"},
		{"bad username and email and password", "POST", "/admin/users", `{"username":"","email":"nope","password":""}`,
			400, "username", []string{"username", "email", "password"}, ""},
		{"duplicate username", "POST", "/admin/users", `{"username":"VICTOR","password":"long enough password"}`, 409, "username", nil, "exists"},
		{"password through PUT", "PUT", "/admin/users/" + user.ID, `{"username":"victor","password":"long enough password"}`, 400, "password", nil, "/password"},
		{"user id field", "PUT", "/admin/users/" + user.ID, `{"id":"x","username":"victor"}`, 400, "id", nil, "path"},
		{"short reset password", "POST", "/admin/users/" + user.ID + "/password", `{"password":"1234567"}`, 400, "password", nil, ""},
		{"group with a space", "POST", "/admin/users", `{"username":"pat","password":"long enough password","groups":["dev","ops team"]}`,
			400, "groups[1]", nil, "A-Za-z0-9"},
		{"group with a control character", "PUT", "/admin/users/" + user.ID, `{"username":"victor","groups":["dev\u0007"]}`, 400, "groups[0]", nil, ""},
		{"group too long", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":["` + strings.Repeat("g", 129) + `"]}`, 400, "groups[0]", nil, "128"},
		{"empty group", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":[""]}`, 400, "groups[0]", nil, ""},
		{"group starting with punctuation", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":["-dev"]}`, 400, "groups[0]", nil, "starting"},
		{"group listed twice", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":["dev","ops","dev"]}`, 400, "groups[2]", nil, "twice"},
		{"too many groups", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":[` + manyGroups(65) + `]}`, 400, "groups", nil, "at most 64"},
		{"groups not a list", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":"dev"}`, 400, "groups", nil, "array"},
		{"groups of strings", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":[1]}`, 400, "groups", nil, ""},
		{"groups typo", "PUT", "/admin/users/" + user.ID + "/groups", `{"group":["dev"]}`, 400, "group", nil, "unknown field"},
		{"several bad groups", "PUT", "/admin/users/" + user.ID + "/groups", `{"groups":["a b","ok","c\td"]}`,
			400, "groups[0]", []string{"groups[0]", "groups[2]"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tokAll, tt.body)
			want(t, tt.name, r, tt.status)
			ae := r.apiError(t)
			if ae.Field != tt.field {
				t.Errorf("field %q, want %q (%+v)", ae.Field, tt.field, ae)
			}
			var fields []string
			for _, f := range ae.Fields {
				fields = append(fields, f.Field)
				if f.Reason == "" {
					t.Errorf("field %s without a reason", f.Field)
				}
			}
			slices.Sort(fields)
			wantFields := slices.Clone(tt.fields)
			slices.Sort(wantFields)
			if !slices.Equal(fields, wantFields) {
				t.Errorf("fields %v, want %v", fields, wantFields)
			}
			if !strings.Contains(ae.Description, tt.descHas) || ae.Description == "" {
				t.Errorf("error_description %q should mention %q", ae.Description, tt.descHas)
			}
			wantCode := admin.ErrInvalidRequest
			if tt.status == http.StatusConflict {
				wantCode = admin.ErrConflict
			}
			if ae.Code != wantCode {
				t.Errorf("error %q, want %q", ae.Code, wantCode)
			}
		})
	}
	// None of the refused requests left anything behind.
	counts, err := e.store.Count(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts != (store.Counts{Clients: 1, Users: 1, Scopes: 1}) {
		t.Errorf("after refused requests: %+v", counts)
	}
}

func TestContentTypeAndSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{"name":"orders:read"}`
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{"form", "application/x-www-form-urlencoded", "name=orders:read", 415},
		{"text", "text/plain", body, 415},
		{"no content type", "", body, 415},
		{"JSON in Latin-1", "application/json; charset=iso-8859-1", body, 415},
		{"garbled content type", "application/json; ===", body, 415},
		{"over 1 MiB", "application/json", `{"name":"a","description":"` + strings.Repeat("x", admin.MaxBodyBytes) + `"}`, 413},
		{"JSON with charset", "application/json; charset=UTF-8", body, 201},
	}
	for _, tt := range tests {
		r := e.doCT("POST", "/admin/scopes", tokAll, tt.contentType, tt.body)
		want(t, tt.name, r, tt.status)
		if tt.status >= 400 {
			ae := r.apiError(t)
			if (tt.status == 415 && ae.Code != admin.ErrUnsupportedMediaType) || (tt.status == 413 && ae.Code != admin.ErrRequestTooLarge) {
				t.Errorf("%s: error %q", tt.name, ae.Code)
			}
		}
	}
	// An optional body may be left out, but not sent untyped.
	if _, err := e.reg.CreateClient(e.ctx, &store.Client{ID: "cc-client", GrantTypes: []string{"client_credentials"}}); err != nil {
		t.Fatal(err)
	}
	want(t, "untyped optional body", e.doCT("POST", "/admin/clients/cc-client/secret", tokAll, "", `{"grace_period_seconds":5}`), 415)
	want(t, "no optional body", e.doCT("POST", "/admin/clients/cc-client/secret", tokAll, "", ""), 200)
}

// manyGroups is n distinct group names as JSON strings, comma-separated.
func manyGroups(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = `"g` + strings.Repeat("x", i) + `"`
	}
	return strings.Join(names, ",")
}

func TestScopeEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin1 := &store.User{Username: "ada", Admin: true}
	plain := &store.User{Username: "bob"}
	gone := &store.User{Username: "gone", Admin: true}
	for _, u := range []*store.User{admin1, plain, gone} {
		if err := e.reg.CreateUser(e.ctx, u, "long enough password"); err != nil {
			t.Fatal(err)
		}
	}
	userToken := func(u *store.User) *tokens.VerifiedAccess {
		return &tokens.VerifiedAccess{Subject: u.ID, ClientID: admin.CLIClientID, Scopes: admin.ScopeNames()}
	}
	e.tokens.add("ada", userToken(admin1))
	e.tokens.add("bob", userToken(plain))
	e.tokens.add("gone", userToken(gone))
	if err := e.store.DeleteUser(e.ctx, gone.ID, e.now); err != nil {
		t.Fatal(err)
	}

	routes := []struct{ method, path, scope string }{
		{"GET", "/admin/clients", admin.ScopeClientsRead},
		{"POST", "/admin/clients", admin.ScopeClientsWrite},
		{"GET", "/admin/clients/x", admin.ScopeClientsRead},
		{"PUT", "/admin/clients/x", admin.ScopeClientsWrite},
		{"DELETE", "/admin/clients/x", admin.ScopeClientsWrite},
		{"POST", "/admin/clients/x/secret", admin.ScopeClientsWrite},
		{"GET", "/admin/scopes", admin.ScopeScopesRead},
		{"POST", "/admin/scopes", admin.ScopeScopesWrite},
		{"GET", "/admin/scopes/a:b", admin.ScopeScopesRead},
		{"PUT", "/admin/scopes/a:b", admin.ScopeScopesWrite},
		{"DELETE", "/admin/scopes/a:b", admin.ScopeScopesWrite},
		{"GET", "/admin/users", admin.ScopeUsersRead},
		{"POST", "/admin/users", admin.ScopeUsersWrite},
		{"GET", "/admin/users/x", admin.ScopeUsersRead},
		{"PUT", "/admin/users/x", admin.ScopeUsersWrite},
		{"DELETE", "/admin/users/x", admin.ScopeUsersWrite},
		{"POST", "/admin/users/x/password", admin.ScopeUsersWrite},
		{"PUT", "/admin/users/x/groups", admin.ScopeUsersWrite},
		{"GET", "/admin/users/x/sessions", admin.ScopeUsersRead},
		{"DELETE", "/admin/users/x/sessions", admin.ScopeUsersWrite},
		{"GET", "/admin/status", admin.ScopeSystemRead},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		// No token, a token the checker refuses, a token of a user that no longer exists.
		for _, tok := range []string{"", "forged", "gone"} {
			r := e.do(rt.method, rt.path, tok, "")
			want(t, name+" with token "+tok, r, http.StatusUnauthorized)
			if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
				t.Errorf("%s: WWW-Authenticate %q", name, h)
			}
			if ae := r.apiError(t); ae.Code != admin.ErrInvalidToken {
				t.Errorf("%s: error %q", name, ae.Code)
			}
		}
		// A token without admin scopes, and a read-only token on a write.
		denied := []string{tokNone}
		if strings.HasSuffix(rt.scope, ":write") {
			denied = append(denied, tokRead)
		}
		for _, tok := range denied {
			r := e.do(rt.method, rt.path, tok, "")
			want(t, name+" with "+tok, r, http.StatusForbidden)
			ae := r.apiError(t)
			if ae.Code != admin.ErrInsufficientScope || ae.Scope != rt.scope || !strings.Contains(ae.Description, rt.scope) {
				t.Errorf("%s with %s: %+v, want insufficient_scope naming %s", name, tok, ae, rt.scope)
			}
			if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, rt.scope) {
				t.Errorf("%s: WWW-Authenticate %q", name, h)
			}
		}
		// A user token carrying every admin scope opens nothing once the user is no admin.
		r := e.do(rt.method, rt.path, "bob", "")
		want(t, name+" as a non-admin user", r, http.StatusForbidden)
		if ae := r.apiError(t); ae.Code != admin.ErrAccessDenied {
			t.Errorf("%s as a non-admin user: %+v", name, ae)
		}
		// The admin user's token passes the guard (whatever the handler then says).
		if r := e.do(rt.method, rt.path, "ada", ""); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
			t.Errorf("%s as admin: status %d: %s", name, r.status, r.body)
		}
	}
	// Basic credentials are no bearer token.
	r := e.doCT("GET", "/admin/status", "", "", "")
	want(t, "no token", r, http.StatusUnauthorized)
	req, _ := http.NewRequest("GET", e.url+"/admin/status", nil)
	req.SetBasicAuth("ops", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic auth: status %d", resp.StatusCode)
	}

	// A disabled admin's token stops working.
	admin1.Disabled = true
	if err := e.store.UpdateUser(e.ctx, admin1); err != nil {
		t.Fatal(err)
	}
	want(t, "disabled admin", e.do("GET", "/admin/status", "ada", ""), http.StatusUnauthorized)
}
