/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGrantClientCredentials(t *testing.T) {
	tests := []struct {
		name      string
		client    string
		form      url.Values
		secret    string // a wrong secret when set
		wantErr   string
		wantDesc  string
		wantScope string
	}{
		{name: "default scopes leave out the user's", client: "m2m", form: url.Values{},
			wantScope: "orders:read orders:write admin:clients:read"},
		{name: "requested scopes", client: "m2m", form: url.Values{"scope": {"orders:write orders:read"}},
			wantScope: "orders:write orders:read"},
		{name: "openid needs a user", client: "m2m", form: url.Values{"scope": {"openid orders:read"}},
			wantErr: CodeInvalidScope, wantDesc: "need a user"},
		{name: "scope not registered", client: "m2m", form: url.Values{"scope": {"orders:delete"}},
			wantErr: CodeInvalidScope, wantDesc: "not allowed for this client"},
		{name: "malformed scope", client: "m2m", form: url.Values{"scope": {"orders\\read"}},
			wantErr: CodeInvalidScope, wantDesc: "malformed"},
		{name: "public client", client: "public-m2m", form: url.Values{},
			wantErr: CodeUnauthorizedClient, wantDesc: "confidential clients"},
		{name: "client without the grant", client: "web", form: url.Values{},
			wantErr: CodeUnauthorizedClient, wantDesc: "client_credentials"},
		{name: "wrong secret", client: "m2m", form: url.Values{}, secret: "wrong",
			wantErr: CodeInvalidClient, wantDesc: "authentication failed"},
		{name: "unknown client", client: "nobody", form: url.Values{},
			wantErr: CodeInvalidClient, wantDesc: "authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{})
			tt.form.Set("grant_type", GrantClientCredentials)
			var a tokenAnswer
			if tt.secret != "" {
				a = g.tokenWithSecret(tt.client, tt.secret, tt.form)
			} else {
				a = g.token(tt.client, tt.form)
			}
			a.check(t, tt.wantErr, tt.wantDesc)
			if tt.wantErr == CodeInvalidClient && a.status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", a.status)
			}
			if tt.wantErr != "" {
				return
			}
			if a.Scope != tt.wantScope || a.RefreshToken != "" || a.IDToken != "" {
				t.Errorf("scope %q refresh %t id token %t, want %q and neither", a.Scope, a.RefreshToken != "", a.IDToken != "", tt.wantScope)
			}
			if at := g.access(a); at.Subject != tt.client || strings.Join(at.Scopes, " ") != tt.wantScope {
				t.Errorf("access token sub %s scopes %v", at.Subject, at.Scopes)
			}
		})
	}
}
