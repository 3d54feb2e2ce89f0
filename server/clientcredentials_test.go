/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authly-dev/authly-operator/server/store"
)

// accessTokenScope is the scope claim of an access token (its signature is another
// test's business).
func accessTokenScope(t *testing.T, token string) any {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("access token: %v", err)
	}
	return claims["scope"]
}

// Issue 14, item 4: client libraries ask for a client_credentials token without a scope
// parameter. The default is the client's registered scopes that need no user; asking
// for a user's scope explicitly is still invalid_scope.
func TestClientCredentialsDefaultScopeLeavesOutUserScopes(t *testing.T) {
	e := newTestEnv(t)
	client, secret := e.client(store.Client{
		Name: "service with a UI", Type: store.Confidential,
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials"},
		RedirectURIs: []string{"https://svc.example.com/callback"},
		Scopes:       []string{"openid", "profile", "orders:read", "email", "offline_access", "orders:write"},
	})
	cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: secret, TokenURL: e.URL + "/api/v1/oauth/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(e.ctx)
	if err != nil {
		t.Fatalf("client_credentials without scopes: %v", err)
	}
	if got := tok.Extra("scope"); got != "orders:read orders:write" {
		t.Errorf("response scope %q, want the client's scopes that need no user", got)
	}
	if got := accessTokenScope(t, tok.AccessToken); got != "orders:read orders:write" {
		t.Errorf("access token scope claim %v, want orders:read orders:write", got)
	}
	if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
		t.Errorf("client_credentials issued a refresh token %q or an ID token %v", tok.RefreshToken, tok.Extra("id_token"))
	}

	for _, scope := range []string{"openid", "orders:read offline_access"} {
		cc.Scopes = []string{scope}
		_, err = cc.Token(e.ctx)
		assertOAuthError(t, err, "invalid_scope")
	}
	cc.Scopes = []string{"orders:read"}
	if tok, err = cc.Token(e.ctx); err != nil || tok.Extra("scope") != "orders:read" {
		t.Errorf("explicit orders:read: %v, scope %v", err, tok.Extra("scope"))
	}

	// A client registered for OpenID Connect scopes alone gets a token without scopes,
	// not an error.
	oidcOnly, oidcSecret := e.client(store.Client{
		Name: "OIDC only", Type: store.Confidential,
		GrantTypes:   []string{"authorization_code", "client_credentials"},
		RedirectURIs: []string{"https://oidc.example.com/callback"},
		Scopes:       []string{"openid", "profile", "email"},
	})
	res := e.tokenRequest(oidcOnly.ID, oidcSecret, url.Values{"grant_type": {"client_credentials"}})
	if res.status != 200 || res.AccessToken == "" || res.Scope != "" {
		t.Fatalf("OIDC-only client: %d %s %q, scope %q; want a token without scope", res.status, res.Error, res.ErrorDescription, res.Scope)
	}
	if got := accessTokenScope(t, res.AccessToken); got != nil {
		t.Errorf("access token scope claim %v, want none", got)
	}
}
