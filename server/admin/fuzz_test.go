/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/registry"
)

// FuzzAdminDecode feeds arbitrary bodies and content types through what every write
// endpoint does before it reaches the database: read and strictly decode the body, then
// validate it. Nothing may panic, every refusal is a 4xx *Error that names a code, and
// the error document is valid JSON.
func FuzzAdminDecode(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{"application/json", `{"client_id":"web","client_name":"Web","grant_types":["authorization_code"],"redirect_uris":["https://a.example.com/cb"],"scopes":["openid"]}`},
		{"application/json", `{"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1:8080/cb"]}`},
		{"application/json", `{"grant_types":["client_credentials"],"scope":"a b"}`},
		{"application/json", `{"grant_types":"client_credentials"}`},
		{"application/json", `{"grant_types":["nope"],"redirect_uris":["ftp:x#y"],"id_token_signed_response_alg":"HS256"}`},
		{"application/json", `{"username":"alice","email":"alice@example.com","password":"long enough password","admin":true}`},
		{"application/json", `{"username":"","email":"x","password":""}`},
		{"application/json", `{"name":"orders:read","description":"Read orders","default":true}`},
		{"application/json", `{"grace_period_seconds":3600}`},
		{"application/json", `{"grace_period_seconds":1e400}`},
		{"application/json", `{"a":1} {"b":2}`},
		{"application/json", `{"a":1}}`},
		{"application/json", `[1,2,3]`},
		{"application/json", `null`},
		{"application/json", `{"client_name":"\ud800\udc00\u0000"}`},
		{"application/json", `{"redirect_uris":[null,1,{"x":[]}]}`},
		{"application/json", `{"client_name":"` + strings.Repeat("x", 100) + `"`},
		{"application/json; charset=utf-8", `{"password":"x"}`},
		{"application/json; charset=latin1", `{}`},
		{"text/plain", `{}`},
		{"", ``},
		{"", `{}`},
		{"application/json;;;=", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		targets := []struct {
			v        any
			optional bool
			validate func(v any) error
		}{
			{&ClientRequest{}, false, func(v any) error { return registry.NormalizeClient(v.(*ClientRequest).StoreClient()) }},
			{&UserRequest{}, false, func(v any) error {
				req := v.(*UserRequest)
				return errors.Join(registry.CheckUser(req.StoreUser("")), registry.CheckPassword(req.Password))
			}},
			{&ScopeRequest{}, false, func(v any) error {
				if !registry.ValidScopeName(v.(*ScopeRequest).Name) {
					return &registry.FieldError{Field: "name", Reason: "invalid"}
				}
				return nil
			}},
			{&PasswordRequest{}, false, func(v any) error { return registry.CheckPassword(v.(*PasswordRequest).Password) }},
			{&SecretRequest{}, true, func(any) error { return nil }},
		}
		for _, tt := range targets {
			r := httptest.NewRequest(http.MethodPost, "/admin/x", bytes.NewReader(body))
			r.Header.Set("Content-Type", contentType)
			w := httptest.NewRecorder()
			e := readJSON(w, r, tt.v, tt.optional)
			if e == nil {
				err := tt.validate(tt.v)
				if err == nil {
					continue
				}
				var internal bool
				e, internal = asError(err)
				if internal {
					t.Fatalf("validation error %v maps to a 5xx", err)
				}
			}
			if e.Status < 400 || e.Status >= 500 || e.Code == "" {
				t.Fatalf("refusal %+v: want a 4xx with a code", e)
			}
			out := httptest.NewRecorder()
			writeError(out, e)
			if out.Code != e.Status || !json.Valid(out.Body.Bytes()) {
				t.Fatalf("error document %d %q", out.Code, out.Body.String())
			}
		}
	})
}
