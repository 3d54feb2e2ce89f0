/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The userinfo endpoint (OIDC Core 5.3) with access tokens of the password grant: the
// claims of the granted scopes for a valid token with openid, RFC 6750 errors otherwise.
func TestUserinfo(t *testing.T) {
	tests := []struct {
		name    string
		scope   string // of the access token; "" sends none
		request func(token string) *http.Request
		prepare func(g *grantTest)
		// wantStatus and wantErr: the answer and its error code; wantClaims for a 200.
		wantStatus int
		wantErr    string
		wantClaims map[string]any
	}{
		{name: "openid and profile", scope: "openid profile", request: bearerGet,
			wantStatus: http.StatusOK, wantClaims: map[string]any{"sub": aliceID, "name": "Alice Liddell", "preferred_username": "alice"}},
		{name: "openid only: the subject", scope: "openid", request: bearerGet,
			wantStatus: http.StatusOK, wantClaims: map[string]any{"sub": aliceID}},
		{name: "token in a form post", scope: "openid", wantStatus: http.StatusOK, wantClaims: map[string]any{"sub": aliceID},
			request: func(tok string) *http.Request {
				r := httptest.NewRequest(http.MethodPost, PathUserinfo, strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			}},
		{name: "no openid scope", scope: "orders:read", request: bearerGet,
			wantStatus: http.StatusForbidden, wantErr: CodeInsufficientScope},
		{name: "no token", request: func(string) *http.Request { return httptest.NewRequest(http.MethodGet, PathUserinfo, nil) },
			wantStatus: http.StatusUnauthorized, wantErr: CodeInvalidToken},
		{name: "not a token", request: func(string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, PathUserinfo, nil)
			r.Header.Set("Authorization", "Bearer not-a-jwt")
			return r
		}, wantStatus: http.StatusUnauthorized, wantErr: CodeInvalidToken},
		{name: "Basic instead of Bearer", scope: "openid", wantStatus: http.StatusBadRequest, wantErr: CodeInvalidRequest,
			request: func(tok string) *http.Request {
				r := httptest.NewRequest(http.MethodGet, PathUserinfo, nil)
				r.Header.Set("Authorization", "Basic "+tok)
				return r
			}},
		{name: "token in the header and the form", scope: "openid", wantStatus: http.StatusBadRequest, wantErr: CodeInvalidRequest,
			request: func(tok string) *http.Request {
				r := httptest.NewRequest(http.MethodPost, PathUserinfo, strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", "Bearer "+tok)
				return r
			}},
		{name: "user deleted", scope: "openid", request: bearerGet,
			prepare:    func(g *grantTest) { delete(g.store.users, aliceID) },
			wantStatus: http.StatusUnauthorized, wantErr: CodeInvalidToken},
		{name: "user disabled", scope: "openid", request: bearerGet,
			prepare:    func(g *grantTest) { g.store.users[aliceID].Disabled = true },
			wantStatus: http.StatusUnauthorized, wantErr: CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			tok := ""
			if tt.scope != "" {
				a := g.token("cli", url.Values{"grant_type": {GrantPassword}, "username": {"alice"}, "password": {alicePassword}, "scope": {tt.scope}})
				a.check(t, "", "")
				tok = a.AccessToken
			}
			if tt.prepare != nil {
				tt.prepare(g)
			}
			w := httptest.NewRecorder()
			g.mux.ServeHTTP(w, tt.request(tok))
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("status %d, body %q: %v", w.Code, w.Body.String(), err)
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d %v, want %d", w.Code, got, tt.wantStatus)
			}
			if tt.wantErr != "" {
				if got["error"] != tt.wantErr {
					t.Errorf("error %v, want %s", got["error"], tt.wantErr)
				}
				// RFC 6750 section 3: a 401 carries the Bearer challenge.
				if ch := w.Header().Get("WWW-Authenticate"); w.Code == http.StatusUnauthorized && !strings.HasPrefix(ch, "Bearer ") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", ch)
				}
				return
			}
			for k, v := range tt.wantClaims {
				if got[k] != v {
					t.Errorf("claim %s = %v, want %v", k, got[k], v)
				}
			}
			if len(got) != len(tt.wantClaims) {
				t.Errorf("claims %v, want exactly %v", got, tt.wantClaims)
			}
		})
	}
}

func bearerGet(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, PathUserinfo, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
