/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// The registered data every scenario works with.
const (
	redirectURI  = "https://app.example.com/callback"
	userPassword = "fault-password-1"
	// codeVerifier is the PKCE verifier of every prepared code; the codes differ.
	codeVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	apiScope     = "api:read"
	users        = 20
)

// oauthClient is a registered confidential client with its Basic header.
type oauthClient struct {
	ID, Secret, Basic string
}

// fixtures are the clients and users the requests use.
type fixtures struct {
	// web: authorization_code + refresh_token; service: client_credentials (its tokens are
	// introspected and revoked); resource: introspects; password: a first-party app;
	// admin: client_credentials with admin scopes (bad-input sweep of /admin).
	web, service, resource, password, admin oauthClient
	users                                   []*store.User
	// userSeq picks users in turn for the password grant.
	userSeq atomic.Int64
}

func setupFixtures(ctx context.Context, e *serverEnv) (*fixtures, error) {
	reg := &registry.Registry{Store: e.store}
	if err := reg.CreateScope(ctx, &store.Scope{Name: apiScope, Description: "Read the fault suite's API"}); err != nil {
		return nil, err
	}
	userScopes := []string{"openid", "profile", "email", "offline_access", apiScope}
	f := &fixtures{}
	for _, c := range []struct {
		dst *oauthClient
		cl  store.Client
	}{
		{&f.web, store.Client{ID: "fault-web", Name: "Fault web app", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{redirectURI}, Scopes: userScopes}},
		{&f.service, store.Client{ID: "fault-service", Name: "Fault service", GrantTypes: []string{"client_credentials"}, Scopes: []string{apiScope}}},
		{&f.resource, store.Client{ID: "fault-resource", Name: "Fault resource server", GrantTypes: []string{"client_credentials"}, Scopes: []string{apiScope}}},
		{&f.password, store.Client{ID: "fault-password", Name: "Fault first-party app", GrantTypes: []string{"password", "refresh_token"},
			Scopes: userScopes, FirstParty: true}},
		{&f.admin, store.Client{ID: "fault-admin-automation", Name: "Fault admin automation", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"admin:clients:read", "admin:clients:write", "admin:scopes:read", "admin:users:read"}}},
	} {
		cl := c.cl
		cl.Type = store.Confidential
		secret, err := reg.CreateClient(ctx, &cl)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", cl.ID, err)
		}
		*c.dst = oauthClient{ID: cl.ID, Secret: secret, Basic: basicAuth(cl.ID, secret)}
	}
	hash, err := credentials.HashPassword(credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, userPassword, nil)
	if err != nil {
		return nil, err
	}
	for i := range users {
		name := fmt.Sprintf("fault-user-%02d", i)
		u := &store.User{Username: name, Email: name + "@example.com", EmailVerified: true, Name: "Fault User " + fmt.Sprint(i), PasswordHash: hash}
		if err := e.store.CreateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("user %s: %w", name, err)
		}
		f.users = append(f.users, u)
	}
	return f, nil
}

// basicAuth is the Authorization header of client_secret_basic (RFC 6749 section 2.3.1).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// refreshTokens stores n fresh refresh tokens of the web client, as the server makes them,
// and returns their values. Their scopes carry no openid, so a rotation signs no ID token.
func (e *serverEnv) refreshTokens(ctx context.Context, n int) ([]string, error) {
	values := make([]string, n)
	now := time.Now()
	for i := range n {
		v, err := credentials.NewOrderedToken(nil, now)
		if err != nil {
			return nil, err
		}
		family, err := credentials.NewOrderedID(nil, now)
		if err != nil {
			return nil, err
		}
		values[i] = v
		if err := e.store.CreateRefreshToken(ctx, &store.RefreshToken{
			Hash: credentials.StorageKey(v), FamilyID: family, ClientID: e.fx.web.ID, UserID: e.fx.users[i%len(e.fx.users)].ID,
			Scopes: []string{"profile", "offline_access"}, AuthTime: now, ExpiresAt: now.Add(24 * time.Hour),
		}); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// codes stores n authorization codes of the web client with the S256 challenge of
// codeVerifier and returns their values.
func (e *serverEnv) codes(ctx context.Context, n int) ([]string, error) {
	values := make([]string, n)
	now := time.Now()
	challenge := credentials.S256Challenge(codeVerifier)
	for i := range n {
		v, err := credentials.NewToken(nil)
		if err != nil {
			return nil, err
		}
		values[i] = v
		if err := e.store.CreateAuthorizationCode(ctx, &store.AuthorizationCode{
			Hash: credentials.HashToken(v), ClientID: e.fx.web.ID, UserID: e.fx.users[i%len(e.fx.users)].ID, RedirectURI: redirectURI,
			Scopes: []string{"profile"}, CodeChallenge: challenge, AuthTime: now, ExpiresAt: now.Add(time.Hour),
		}); err != nil {
			return nil, err
		}
	}
	return values, nil
}

func codeBody(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {codeVerifier}}
}
