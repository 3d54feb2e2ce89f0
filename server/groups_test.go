/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/json"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/store"
)

// The groups scope puts the user's groups in the ID token and userinfo; the groups are
// read when a token is issued, so a refresh after a change carries the new list, while
// userinfo always answers with the current one.
func TestGroupsScopeClaim(t *testing.T) {
	e := newTestEnv(t)
	user := e.user("alice", "correct horse battery")
	if _, err := e.reg.SetUserGroups(e.ctx, user.ID, []string{"dev", "ops:readers"}); err != nil {
		t.Fatal(err)
	}
	client, secret := e.webClient(func(c *store.Client) { c.Scopes = append(c.Scopes, "groups") })
	r := e.relyingParty(client, secret, "openid", "groups", "offline_access")
	var md struct {
		Scopes []string `json:"scopes_supported"`
		Claims []string `json:"claims_supported"`
	}
	if err := r.provider.Claims(&md); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(md.Scopes, "groups") || !slices.Contains(md.Claims, "groups") {
		t.Errorf("discovery: scopes_supported %v, claims_supported %v; want groups in both", md.Scopes, md.Claims)
	}

	verifier := oauth2.GenerateVerifier()
	params := e.authorize(newBrowser(t), r, "alice", "correct horse battery", oauth2.S256ChallengeOption(verifier))
	tok, err := r.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := idTokenGroups(t, e, r, tok); !slices.Equal(got, []string{"dev", "ops:readers"}) {
		t.Errorf("ID token groups = %#v, want [dev ops:readers]", got)
	}
	if got := userinfoGroups(t, e, r, tok); !slices.Equal(got, []string{"dev", "ops:readers"}) {
		t.Errorf("userinfo groups = %#v", got)
	}

	// Out of every group: userinfo says so at once, the refreshed ID token too, with [].
	if _, err := e.reg.SetUserGroups(e.ctx, user.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := userinfoGroups(t, e, r, tok); got == nil || len(got) != 0 {
		t.Errorf("userinfo groups after removal = %#v, want []", got)
	}
	refreshed, err := r.conf.TokenSource(e.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := idTokenGroups(t, e, r, refreshed); got == nil || len(got) != 0 {
		t.Errorf("refreshed ID token groups = %#v, want []", got)
	}

	// Without the groups scope there is no groups claim.
	plain := e.relyingParty(client, secret, "openid", "profile")
	params = e.authorize(newBrowser(t), plain, "alice", "correct horse battery", oauth2.S256ChallengeOption(verifier))
	tok, err = plain.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := idTokenGroups(t, e, plain, tok); got != nil {
		t.Errorf("ID token without the groups scope has groups %#v", got)
	}
	if got := userinfoGroups(t, e, plain, tok); got != nil {
		t.Errorf("userinfo without the groups scope has groups %#v", got)
	}
}

// idTokenGroups verifies the token response's ID token and returns its groups claim (nil
// when absent).
func idTokenGroups(t *testing.T, e *testEnv, r *rp, tok *oauth2.Token) []string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims.Groups
}

func userinfoGroups(t *testing.T, e *testEnv, r *rp, tok *oauth2.Token) []string {
	t.Helper()
	info, err := r.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims struct {
		Groups json.RawMessage `json:"groups"`
	}
	if err := info.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Groups == nil {
		return nil
	}
	var groups []string
	if err := json.Unmarshal(claims.Groups, &groups); err != nil {
		t.Fatalf("userinfo groups %s: %v", claims.Groups, err)
	}
	if groups == nil {
		t.Fatalf("userinfo groups is %s, want an array", claims.Groups)
	}
	return groups
}
