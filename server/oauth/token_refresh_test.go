/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/url"
	"testing"
	"time"
)

func refreshForm(token string, scope ...string) url.Values {
	f := url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {token}}
	if len(scope) > 0 {
		f.Set("scope", scope[0])
	}
	return f
}

// startRefresh redeems a code granted scope for web and returns the refresh token.
func (g *grantTest) startRefresh(scope []string) string {
	g.t.Helper()
	code := g.issueTestCode("code-for-refresh", "web", grantRedirect, scope, time.Minute)
	a := g.token("web", codeForm(code, rfc7636Verifier, grantRedirect))
	a.check(g.t, "", "")
	if a.RefreshToken == "" {
		g.t.Fatal("no refresh token")
	}
	return a.RefreshToken
}

func TestGrantRefreshToken(t *testing.T) {
	granted := []string{"openid", "profile", "orders:read", "orders:write"}
	tests := []struct {
		name      string
		client    string
		after     time.Duration // the clock moves on before the refresh
		form      func(rt string) url.Values
		wantErr   string
		wantDesc  string
		wantScope string
		wantID    bool
	}{
		{name: "rotation keeps the scope", client: "web", form: func(rt string) url.Values { return refreshForm(rt) },
			wantScope: "openid profile orders:read orders:write", wantID: true},
		{name: "narrowed scope", client: "web", form: func(rt string) url.Values { return refreshForm(rt, "orders:read") },
			wantScope: "orders:read"},
		{name: "wider scope", client: "web", form: func(rt string) url.Values { return refreshForm(rt, "orders:read email") },
			wantErr: CodeInvalidScope, wantDesc: "only narrow"},
		{name: "empty scope", client: "web", form: func(rt string) url.Values { return refreshForm(rt, " ") },
			wantErr: CodeInvalidScope, wantDesc: "scope is empty"},
		{name: "missing refresh_token", client: "web", form: func(string) url.Values { return url.Values{"grant_type": {GrantRefreshToken}} },
			wantErr: CodeInvalidRequest, wantDesc: "refresh_token is required"},
		{name: "unknown token", client: "web", form: func(string) url.Values { return refreshForm("no-such-token") },
			wantErr: CodeInvalidGrant, wantDesc: "unknown or revoked"},
		{name: "expired token", client: "web", after: 31 * 24 * time.Hour, form: func(rt string) url.Values { return refreshForm(rt) },
			wantErr: CodeInvalidGrant, wantDesc: "expired"},
		{name: "another client's token", client: "cli", form: func(rt string) url.Values { return refreshForm(rt) },
			wantErr: CodeInvalidGrant, wantDesc: "unknown or revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{})
			rt := g.startRefresh(granted)
			g.now = g.now.Add(tt.after)
			a := g.token(tt.client, tt.form(rt))
			a.check(t, tt.wantErr, tt.wantDesc)
			if tt.wantErr != "" {
				return
			}
			if a.Scope != tt.wantScope || (a.IDToken != "") != tt.wantID {
				t.Errorf("scope %q id token %t, want %q %t", a.Scope, a.IDToken != "", tt.wantScope, tt.wantID)
			}
			if at := g.access(a); at.Subject != aliceID || at.ClientID != "web" {
				t.Errorf("access token sub %s client %s", at.Subject, at.ClientID)
			}
			if a.RefreshToken == "" || a.RefreshToken == rt {
				t.Errorf("refresh token not rotated: %q", a.RefreshToken)
			}
			// The new token is the one that works now, with the scope it was given.
			g.token("web", refreshForm(a.RefreshToken)).check(t, "", "")
		})
	}
}

// A rotated refresh token presented again: within the reuse interval, while its child is
// unused, it rotates again and the child is revoked; otherwise its family is revoked.
func TestGrantRefreshTokenReuse(t *testing.T) {
	tests := []struct {
		name       string
		interval   time.Duration
		after      time.Duration // between the first rotation and the reuse
		useChild   bool          // the child of the first rotation is used before the reuse
		wantErr    string
		wantReuse  string
		childAlive bool // the first child still rotates after the reuse
	}{
		{name: "strict: reuse revokes the family", wantErr: CodeInvalidGrant, wantReuse: ReuseRevokedFamily},
		{name: "within the interval: rotated again", interval: time.Minute, after: 10 * time.Second, wantReuse: ReuseGrace},
		{name: "after the interval: family revoked", interval: time.Minute, after: time.Minute, wantErr: CodeInvalidGrant, wantReuse: ReuseRevokedFamily},
		{name: "child used: family revoked", interval: time.Minute, after: 10 * time.Second, useChild: true, wantErr: CodeInvalidGrant, wantReuse: ReuseRevokedFamily},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{RefreshTokenReuseInterval: tt.interval})
			rt := g.startRefresh([]string{"orders:read"})
			first := g.token("web", refreshForm(rt))
			first.check(t, "", "")
			g.now = g.now.Add(tt.after)
			if tt.useChild {
				g.token("web", refreshForm(first.RefreshToken)).check(t, "", "")
			}
			again := g.token("web", refreshForm(rt))
			again.check(t, tt.wantErr, "already used")
			if len(g.reuse) != 1 || g.reuse[0] != tt.wantReuse {
				t.Errorf("reuse outcomes %v, want [%s]", g.reuse, tt.wantReuse)
			}
			// Whatever happened, the first child is dead now: revoked with the family,
			// replaced by the second rotation, or spent.
			g.token("web", refreshForm(first.RefreshToken)).check(t, CodeInvalidGrant, "")
			if tt.wantErr == "" {
				if !g.store.isDenied(g.access(first).JTI) {
					t.Error("the replaced child's access token is not deny-listed")
				}
				g.token("web", refreshForm(again.RefreshToken)).check(t, "", "")
			}
		})
	}
}
