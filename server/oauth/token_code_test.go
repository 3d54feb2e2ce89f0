/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// RFC 7636 appendix B: the verifier and its S256 challenge.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// issueTestCode stores a code for client as the authorization endpoint would, and
// returns its value.
func (g *grantTest) issueTestCode(value, client, redirectURI string, scopes []string, ttl time.Duration) string {
	g.t.Helper()
	err := g.store.CreateAuthorizationCode(g.t.Context(), &store.AuthorizationCode{
		Hash: credentials.HashToken(value), ClientID: client, UserID: aliceID, RedirectURI: redirectURI,
		Scopes: scopes, Nonce: "n-0S6_WzA2Mj", CodeChallenge: rfc7636Challenge,
		AuthTime: g.now.Add(-time.Minute), ExpiresAt: g.now.Add(ttl), CreatedAt: g.now,
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return value
}

func codeForm(code, verifier, redirectURI string) url.Values {
	f := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "code_verifier": {verifier}}
	if redirectURI != "" {
		f.Set("redirect_uri", redirectURI)
	}
	return f
}

func TestGrantAuthorizationCode(t *testing.T) {
	openid := []string{"openid", "profile", "orders:read"}
	tests := []struct {
		name        string
		client      string // redeeming client; the code is web's unless codeClient says
		codeClient  string
		codeURI     string // the authorization request's redirect_uri ("" when omitted)
		scopes      []string
		ttl         time.Duration
		form        func(code string) url.Values
		wantErr     string
		wantDesc    string
		wantRefresh bool
		wantIDToken bool
	}{
		{name: "RFC 7636 appendix B verifier", client: "web", codeURI: grantRedirect, scopes: openid,
			form:        func(c string) url.Values { return codeForm(c, rfc7636Verifier, grantRedirect) },
			wantRefresh: true, wantIDToken: true},
		{name: "redirect_uri omitted in both", client: "web", scopes: []string{"orders:read"},
			form:        func(c string) url.Values { return codeForm(c, rfc7636Verifier, "") },
			wantRefresh: true},
		{name: "public client without the refresh grant", client: "spa", codeClient: "spa", scopes: openid[:1],
			form:        func(c string) url.Values { return codeForm(c, rfc7636Verifier, "") },
			wantIDToken: true},
		{name: "wrong verifier", client: "web", codeURI: grantRedirect, scopes: openid,
			form:    func(c string) url.Values { return codeForm(c, strings.Repeat("a", 43), grantRedirect) },
			wantErr: CodeInvalidGrant, wantDesc: "code_verifier does not match"},
		{name: "malformed verifier", client: "web", codeURI: grantRedirect, scopes: openid,
			form:    func(c string) url.Values { return codeForm(c, "short", grantRedirect) },
			wantErr: CodeInvalidRequest, wantDesc: "RFC 7636"},
		{name: "verifier missing", client: "web", codeURI: grantRedirect, scopes: openid,
			form: func(c string) url.Values {
				return url.Values{"grant_type": {GrantAuthorizationCode}, "code": {c}, "redirect_uri": {grantRedirect}}
			},
			wantErr: CodeInvalidRequest, wantDesc: "code_verifier is required"},
		{name: "unknown code", client: "web", codeURI: grantRedirect, scopes: openid,
			form:    func(string) url.Values { return codeForm("no-such-code", rfc7636Verifier, grantRedirect) },
			wantErr: CodeInvalidGrant, wantDesc: "unknown authorization code"},
		{name: "expired code", client: "web", codeURI: grantRedirect, scopes: openid, ttl: -time.Second,
			form:    func(c string) url.Values { return codeForm(c, rfc7636Verifier, grantRedirect) },
			wantErr: CodeInvalidGrant, wantDesc: "expired"},
		{name: "another redirect_uri", client: "web", codeURI: grantRedirect, scopes: openid,
			form:    func(c string) url.Values { return codeForm(c, rfc7636Verifier, grantRedirect+"/other") },
			wantErr: CodeInvalidGrant, wantDesc: "another client or redirect_uri"},
		{name: "another client's code", client: "spa", codeClient: "web", scopes: openid,
			form:    func(c string) url.Values { return codeForm(c, rfc7636Verifier, "") },
			wantErr: CodeInvalidGrant, wantDesc: "another client"},
		{name: "client without the grant", client: "m2m", codeURI: grantRedirect, scopes: openid,
			form:    func(c string) url.Values { return codeForm(c, rfc7636Verifier, grantRedirect) },
			wantErr: CodeUnauthorizedClient, wantDesc: "authorization_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{})
			codeClient, ttl := tt.codeClient, tt.ttl
			if codeClient == "" {
				codeClient = "web"
			}
			if ttl == 0 {
				ttl = 5 * time.Minute
			}
			code := g.issueTestCode("code-"+tt.name, codeClient, tt.codeURI, tt.scopes, ttl)
			a := g.token(tt.client, tt.form(code))
			a.check(t, tt.wantErr, tt.wantDesc)
			if tt.wantErr != "" {
				return
			}
			at := g.access(a)
			if at.Subject != aliceID || at.ClientID != tt.client || strings.Join(at.Scopes, " ") != strings.Join(tt.scopes, " ") {
				t.Errorf("access token sub %s client %s scopes %v", at.Subject, at.ClientID, at.Scopes)
			}
			if a.Scope != strings.Join(tt.scopes, " ") {
				t.Errorf("scope %q, want %q", a.Scope, strings.Join(tt.scopes, " "))
			}
			if (a.RefreshToken != "") != tt.wantRefresh || (a.IDToken != "") != tt.wantIDToken {
				t.Errorf("refresh token %t id token %t, want %t %t", a.RefreshToken != "", a.IDToken != "", tt.wantRefresh, tt.wantIDToken)
			}
		})
	}
}

// A code is single use: a second redemption fails and revokes what the first issued, and
// a code tried with the wrong verifier is burned.
func TestGrantAuthorizationCodeSingleUse(t *testing.T) {
	t.Run("replay revokes the first redemption's tokens", func(t *testing.T) {
		g := newGrantTest(t, Config{})
		code := g.issueTestCode("replayed", "web", grantRedirect, []string{"openid", "orders:read"}, time.Minute)
		first := g.token("web", codeForm(code, rfc7636Verifier, grantRedirect))
		first.check(t, "", "")
		g.token("web", codeForm(code, rfc7636Verifier, grantRedirect)).check(t, CodeInvalidGrant, "already used")
		if jti := g.access(first).JTI; !g.store.isDenied(jti) {
			t.Errorf("the first access token %s is not deny-listed", jti)
		}
		g.token("web", url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {first.RefreshToken}}).
			check(t, CodeInvalidGrant, "unknown or revoked")
	})
	t.Run("a wrong verifier burns the code", func(t *testing.T) {
		g := newGrantTest(t, Config{})
		code := g.issueTestCode("burned", "web", grantRedirect, []string{"orders:read"}, time.Minute)
		g.token("web", codeForm(code, strings.Repeat("b", 43), grantRedirect)).check(t, CodeInvalidGrant, "does not match")
		g.token("web", codeForm(code, rfc7636Verifier, grantRedirect)).check(t, CodeInvalidGrant, "already used")
	})
}
