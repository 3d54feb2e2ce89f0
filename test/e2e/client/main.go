/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command client is the application of the end-to-end tests, run as a pod: it reads the
// credentials the operator wrote into its OAuthClient's Secret (mounted at --credentials),
// gets a token with the client_credentials grant as any application would
// (golang.org/x/oauth2), and then checks it as a resource server would: the signature against
// the server's JWKS (coreos/go-oidc), the issuer, client and scope claims, and the server's
// introspection. It prints one JSON line and exits 0 when every check holds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

type result struct {
	OK       bool   `json:"ok"`
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
	Error    string `json:"error,omitempty"`
}

func main() {
	dir := flag.String("credentials", "/var/run/oauth", "the mounted OAuthClient Secret")
	scope := flag.String("scope", "", "space-separated scopes to ask for; each must be granted")
	assertionFile := flag.String("assertion-file", "", "authenticate with this projected ServiceAccount token instead of a secret")
	clientID := flag.String("client-id", "", "the client_id, with --assertion-file")
	issuer := flag.String("issuer", "", "the server's issuer, with --assertion-file")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res result
	if *assertionFile != "" {
		res = checkWithAssertion(ctx, *assertionFile, *clientID, *issuer, strings.Fields(*scope))
	} else {
		res = check(ctx, *dir, strings.Fields(*scope))
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if !res.OK {
		os.Exit(1)
	}
}

func check(ctx context.Context, dir string, scopes []string) result {
	read := func(key string) string {
		b, _ := os.ReadFile(filepath.Join(dir, key))
		return strings.TrimSpace(string(b))
	}
	id, secret, issuer, tokenURL, jwksURL := read("client_id"), read("client_secret"), read("issuer"), read("token_url"), read("jwks_url")
	res := result{ClientID: id}
	fail := func(format string, args ...any) result {
		res.Error = fmt.Sprintf(format, args...)
		return res
	}
	if id == "" || secret == "" || tokenURL == "" || jwksURL == "" {
		return fail("the Secret in %s lacks client_id, client_secret, token_url or jwks_url", dir)
	}
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes}
	tok, err := cc.Token(ctx)
	if err != nil {
		return fail("token: %v", err)
	}
	// The resource server's checks.
	payload, err := oidc.NewRemoteKeySet(ctx, jwksURL).VerifySignature(ctx, tok.AccessToken)
	if err != nil {
		return fail("signature: %v", err)
	}
	var claims struct {
		Iss      string `json:"iss"`
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		Exp      int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fail("claims: %v", err)
	}
	res.Scope = claims.Scope
	granted := strings.Fields(claims.Scope)
	switch {
	case claims.Iss != strings.TrimSuffix(issuer, "/"):
		return fail("iss %q, want %q", claims.Iss, issuer)
	case claims.ClientID != id:
		return fail("client_id %q, want %q", claims.ClientID, id)
	case time.Unix(claims.Exp, 0).Before(time.Now()):
		return fail("expired at %d", claims.Exp)
	}
	for _, s := range scopes {
		if !slices.Contains(granted, s) {
			return fail("scope %q not granted (got %q)", s, claims.Scope)
		}
	}
	active, err := introspect(ctx, strings.TrimSuffix(issuer, "/")+"/api/v1/oauth/introspect", id, secret, tok.AccessToken)
	if err != nil {
		return fail("introspection: %v", err)
	}
	if !active {
		return fail("introspection says the token is not active")
	}
	res.OK = true
	return res
}

func introspect(ctx context.Context, endpoint, id, secret, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %s", resp.Status)
	}
	var body struct {
		Active bool `json:"active"`
	}
	return body.Active, json.NewDecoder(resp.Body).Decode(&body)
}

// jwtBearer is the client_assertion_type of a JWT client assertion (RFC 7523).
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// checkWithAssertion is check for a client without a secret: it posts the pod's projected
// ServiceAccount token as client assertion, as the README tells applications to, for the
// token and for introspection.
func checkWithAssertion(ctx context.Context, file, id, issuer string, scopes []string) result {
	res := result{ClientID: id}
	raw, err := os.ReadFile(file)
	if err != nil {
		res.Error = fmt.Sprintf("read the ServiceAccount token: %v", err)
		return res
	}
	assertion := strings.TrimSpace(string(raw))
	issuer = strings.TrimSuffix(issuer, "/")
	cc := clientcredentials.Config{ClientID: id, TokenURL: issuer + "/api/v1/oauth/token", Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{
			"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}}
	tok, err := cc.Token(ctx)
	if err != nil {
		res.Error = fmt.Sprintf("token: %v", err)
		return res
	}
	payload, err := oidc.NewRemoteKeySet(ctx, issuer+"/.well-known/jwks.json").VerifySignature(ctx, tok.AccessToken)
	if err != nil {
		res.Error = fmt.Sprintf("signature: %v", err)
		return res
	}
	var claims struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.ClientID != id {
		res.Error = fmt.Sprintf("claims %s: client_id %q, want %q", payload, claims.ClientID, id)
		return res
	}
	res.Scope = claims.Scope
	form := url.Values{"token": {tok.AccessToken}, "client_id": {id},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
	resp, err := http.PostForm(issuer+"/api/v1/oauth/introspect", form)
	if err != nil {
		res.Error = fmt.Sprintf("introspection: %v", err)
		return res
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || !body.Active {
		res.Error = fmt.Sprintf("introspection: status %s, active %v", resp.Status, body.Active)
		return res
	}
	res.OK = true
	return res
}
