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

func passwordForm(login, password string, scope ...string) url.Values {
	f := url.Values{"grant_type": {GrantPassword}, "username": {login}, "password": {password}}
	if len(scope) > 0 {
		f.Set("scope", scope[0])
	}
	return f
}

func TestGrantPassword(t *testing.T) {
	tests := []struct {
		name        string
		client      string
		form        url.Values
		disabled    bool // alice is disabled
		wantErr     string
		wantDesc    string
		wantScope   string
		wantRefresh bool
		wantID      bool
	}{
		{name: "enabled, default scopes without the admin ones", client: "cli", form: passwordForm("alice", alicePassword),
			wantScope: "openid profile orders:read", wantRefresh: true, wantID: true},
		{name: "login by email, any case", client: "cli", form: passwordForm("Alice@Example.com", alicePassword, "orders:read"),
			wantScope: "orders:read", wantRefresh: true},
		{name: "client without the refresh grant", client: "cli-once", form: passwordForm("alice", alicePassword),
			wantScope: "orders:read"},
		{name: "grant not enabled for the client", client: "web", form: passwordForm("alice", alicePassword),
			wantErr: CodeUnauthorizedClient, wantDesc: "password grant"},
		{name: "wrong password", client: "cli", form: passwordForm("alice", "wrong"),
			wantErr: CodeInvalidGrant, wantDesc: "invalid username or password"},
		{name: "unknown user", client: "cli", form: passwordForm("bob", alicePassword),
			wantErr: CodeInvalidGrant, wantDesc: "invalid username or password"},
		{name: "disabled user", client: "cli", form: passwordForm("alice", alicePassword), disabled: true,
			wantErr: CodeInvalidGrant, wantDesc: "invalid username or password"},
		{name: "admin scope for a user who is no admin", client: "cli", form: passwordForm("alice", alicePassword, "admin:clients:read"),
			wantErr: CodeInvalidScope, wantDesc: "needs an admin user"},
		{name: "password missing", client: "cli", form: url.Values{"grant_type": {GrantPassword}, "username": {"alice"}},
			wantErr: CodeInvalidRequest, wantDesc: "password is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{})
			g.store.users[aliceID].Disabled = tt.disabled
			a := g.token(tt.client, tt.form)
			a.check(t, tt.wantErr, tt.wantDesc)
			if tt.wantErr != "" {
				return
			}
			if a.Scope != tt.wantScope || (a.RefreshToken != "") != tt.wantRefresh || (a.IDToken != "") != tt.wantID {
				t.Errorf("scope %q refresh %t id token %t, want %q %t %t", a.Scope, a.RefreshToken != "", a.IDToken != "",
					tt.wantScope, tt.wantRefresh, tt.wantID)
			}
			if at := g.access(a); at.Subject != aliceID || !at.AuthTime.Equal(g.now) {
				t.Errorf("access token sub %s auth_time %v", at.Subject, at.AuthTime)
			}
			if tt.wantRefresh {
				g.token(tt.client, refreshForm(a.RefreshToken)).check(t, "", "")
			}
		})
	}
}

// Failed logins lock the login out after LockoutFailures within LockoutWindow, for
// LockoutDuration, counted against the user whatever spelling was typed, or against the
// typed login when it names nobody; a success forgets the failures.
func TestGrantPasswordLockout(t *testing.T) {
	type attempt struct {
		login, password string
		after           time.Duration // the clock moves on before the attempt
		wantErr         string
		wantDesc        string
	}
	bad := func(login string) attempt {
		return attempt{login: login, password: "wrong", wantErr: CodeInvalidGrant, wantDesc: "invalid username or password"}
	}
	locked := func(login string, after time.Duration) attempt {
		return attempt{login: login, password: alicePassword, after: after, wantErr: CodeInvalidGrant, wantDesc: "too many failed logins"}
	}
	good := func(login string, after time.Duration) attempt {
		return attempt{login: login, password: alicePassword, after: after}
	}
	tests := []struct {
		name     string
		attempts []attempt
	}{
		{"locked after three failures, any spelling", []attempt{
			bad("alice"), bad("ALICE"), bad("alice@example.com"), locked("alice", 0), locked("alice", 14*time.Minute)}},
		{"the lock runs out", []attempt{
			bad("alice"), bad("alice"), bad("alice"), locked("alice", time.Minute), good("alice", 15*time.Minute)}},
		{"failures outside the window do not add up", []attempt{
			bad("alice"), bad("alice"), {login: "alice", password: "wrong", after: 16 * time.Minute, wantErr: CodeInvalidGrant,
				wantDesc: "invalid username or password"}, good("alice", 0)}},
		{"a success forgets the failures", []attempt{
			bad("alice"), bad("alice"), good("alice", 0), bad("alice"), bad("alice"), good("alice", 0)}},
		{"an unknown login locks like an account", []attempt{
			bad("bob"), bad("bob"), bad("bob"), locked("bob", 0), good("alice", 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{LockoutFailures: 3, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute})
			for i, at := range tt.attempts {
				g.now = g.now.Add(at.after)
				a := g.token("cli", passwordForm(at.login, at.password, "orders:read"))
				if a.Error != at.wantErr {
					t.Fatalf("attempt %d (%s): %s %q, want %q", i, at.login, a.Error, a.ErrorDescription, at.wantErr)
				}
				a.check(t, at.wantErr, at.wantDesc)
			}
		})
	}
}

// A login with a hash of other argon2id parameters than the configured ones stores a new
// hash, in the transaction that forgets the failures.
func TestGrantPasswordRehash(t *testing.T) {
	g := newGrantTest(t, Config{})
	old := g.store.users[aliceID].PasswordHash
	g.p.cfg.Password.Iterations++ // the configured parameters change
	g.token("cli", passwordForm("alice", alicePassword)).check(t, "", "")
	u, err := g.store.GetUser(t.Context(), aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash == old || u.PasswordHash == "" {
		t.Errorf("hash not upgraded: %q", u.PasswordHash)
	}
	g.token("cli", passwordForm("alice", alicePassword)).check(t, "", "")
}
