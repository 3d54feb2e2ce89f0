/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// The registered data every scenario works with.
const (
	redirectURI  = "https://app.example.com/callback"
	userPassword = "load-test-password-1"
	// codeVerifier is the PKCE verifier of every prepared code (43 characters of the
	// unreserved alphabet); each code is distinct, the verifier need not be.
	codeVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	apiScope     = "api:read"
	// prepareWorkers is how many inserts run at once while preparing codes and tokens.
	prepareWorkers = 8
)

// benchClient is a registered client with its secret and ready-made Basic header.
type benchClient struct {
	ID     string
	Secret string
	Basic  string
}

// fixtures are the clients, users and tokens the requests use.
type fixtures struct {
	web, webES256, service, password, resource benchClient
	users                                      []*store.User
	// accessTokens are user access tokens with openid (for userinfo); serviceTokens are
	// client_credentials tokens (for introspection).
	accessTokens, serviceTokens []string
}

// setupFixtures registers scopes, clients and users. Users share one argon2id hash (same
// parameters as the server's): verifying it costs the same as distinct hashes would,
// and preparing 2,000 of them would take minutes.
func setupFixtures(ctx context.Context, st *store.Store, users int) (*fixtures, error) {
	reg := &registry.Registry{Store: st}
	if err := reg.CreateScope(ctx, &store.Scope{Name: apiScope, Description: "Read the benchmark API"}); err != nil {
		return nil, err
	}
	userScopes := []string{"openid", "profile", "email", "offline_access", apiScope}
	f := &fixtures{}
	for _, c := range []struct {
		dst *benchClient
		cl  store.Client
	}{
		{&f.web, store.Client{ID: "bench-web", Name: "Benchmark web app", GrantTypes: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{redirectURI}, Scopes: userScopes}},
		{&f.webES256, store.Client{ID: "bench-web-es256", Name: "Benchmark web app (ES256 ID tokens)",
			GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{redirectURI}, Scopes: userScopes,
			IDTokenSignedResponseAlg: "ES256"}},
		{&f.service, store.Client{ID: "bench-service", Name: "Benchmark service", GrantTypes: []string{"client_credentials"},
			Scopes: []string{apiScope}}},
		{&f.password, store.Client{ID: "bench-password", Name: "Benchmark first-party app", GrantTypes: []string{"password", "refresh_token"},
			Scopes: userScopes, FirstParty: true}},
		{&f.resource, store.Client{ID: "bench-resource", Name: "Benchmark resource server", GrantTypes: []string{"client_credentials"},
			Scopes: []string{apiScope}}},
	} {
		cl := c.cl
		cl.Type = store.Confidential
		secret, err := reg.CreateClient(ctx, &cl)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", cl.ID, err)
		}
		*c.dst = benchClient{ID: cl.ID, Secret: secret, Basic: basicAuth(cl.ID, secret)}
	}
	hash, err := credentials.HashPassword(credentials.DefaultPasswordParams, userPassword, nil)
	if err != nil {
		return nil, err
	}
	f.users = make([]*store.User, users)
	err = parallel(ctx, users, func(i int) error {
		name := fmt.Sprintf("bench-user-%05d", i)
		u := &store.User{Username: name, Email: name + "@example.com", EmailVerified: true, Name: "Bench User " + fmt.Sprint(i),
			GivenName: "Bench", FamilyName: fmt.Sprint(i), PasswordHash: hash}
		if err := st.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		f.users[i] = u
		return nil
	})
	return f, err
}

// basicAuth is the Authorization header of client_secret_basic (RFC 6749 section 2.3.1:
// both parts form-urlencoded first).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// parallel runs fn(0..n-1) on prepareWorkers goroutines and returns the first error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(prepareWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// newSecretValue is a random token value as the server makes them for codes (256 bits,
// base64url).
func newSecretValue() (string, error) { return credentials.NewToken(nil) }

// prepareRefreshTokens stores n fresh refresh tokens of client for the users in turn and
// returns their values. Scopes carry no openid, so a refresh signs no ID token.
func prepareRefreshTokens(ctx context.Context, st *store.Store, client benchClient, users []*store.User, n int) ([]string, error) {
	values := make([]string, n)
	now := time.Now()
	err := parallel(ctx, n, func(i int) error {
		// As the server makes them (see Provider.newRefresh).
		v, err := credentials.NewOrderedToken(nil, now)
		if err != nil {
			return err
		}
		family, err := credentials.NewOrderedID(nil, now)
		if err != nil {
			return err
		}
		values[i] = v
		return st.CreateRefreshToken(ctx, &store.RefreshToken{
			Hash: credentials.StorageKey(v), FamilyID: family, ClientID: client.ID, UserID: users[i%len(users)].ID,
			Scopes: []string{"profile", "email", "offline_access"}, AuthTime: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
		})
	})
	return values, err
}

// prepareCodes stores n authorization codes of client with the given scopes, all with
// the S256 challenge of codeVerifier, valid for a day, and returns their values.
func prepareCodes(ctx context.Context, st *store.Store, client benchClient, users []*store.User, scopes []string, n int) ([]string, error) {
	values := make([]string, n)
	now := time.Now()
	challenge := credentials.S256Challenge(codeVerifier)
	err := parallel(ctx, n, func(i int) error {
		v, err := newSecretValue()
		if err != nil {
			return err
		}
		values[i] = v
		return st.CreateAuthorizationCode(ctx, &store.AuthorizationCode{
			Hash: credentials.HashToken(v), ClientID: client.ID, UserID: users[i%len(users)].ID, RedirectURI: redirectURI,
			Scopes: scopes, Nonce: "n-" + fmt.Sprint(i), CodeChallenge: challenge, AuthTime: now, ExpiresAt: now.Add(24 * time.Hour),
		})
	})
	return values, err
}

// obtainTokens gets the access tokens userinfo and introspection present, through the
// server before anything is measured: user tokens by exchanging prepared codes, service
// tokens with client_credentials.
func (f *fixtures) obtainTokens(ctx context.Context, st *store.Store, hc *http.Client, base string, users, services int) error {
	codes, err := prepareCodes(ctx, st, f.web, f.users, []string{"openid", "profile", "email"}, users)
	if err != nil {
		return err
	}
	f.accessTokens = make([]string, users)
	if err := parallel(ctx, users, func(i int) error {
		body := codeExchangeBody(codes[i])
		tok, err := tokenRequest(ctx, hc, base, f.web, body)
		f.accessTokens[i] = tok
		return err
	}); err != nil {
		return fmt.Errorf("user access tokens: %w", err)
	}
	f.serviceTokens = make([]string, services)
	if err := parallel(ctx, services, func(i int) error {
		tok, err := tokenRequest(ctx, hc, base, f.service, "grant_type=client_credentials&scope="+url.QueryEscape(apiScope))
		f.serviceTokens[i] = tok
		return err
	}); err != nil {
		return fmt.Errorf("service access tokens: %w", err)
	}
	return nil
}

func codeExchangeBody(code string) string {
	return "grant_type=authorization_code&code=" + url.QueryEscape(code) +
		"&redirect_uri=" + url.QueryEscape(redirectURI) + "&code_verifier=" + codeVerifier
}

// tokenRequest posts a token request and returns the access token.
func tokenRequest(ctx context.Context, hc *http.Client, base string, c benchClient, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+tokenPath, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Authorization", c.Basic)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: HTTP %d: %s", resp.StatusCode, snippet(b))
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: no access_token in %s", snippet(b))
	}
	return tr.AccessToken, nil
}
