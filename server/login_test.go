/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// passwordLogin tries the password grant and returns "" on success, "locked" for the
// lockout answer, "bad" for wrong credentials.
func passwordLogin(t *testing.T, e *testEnv, r *rp, login, password string) string {
	t.Helper()
	_, err := r.conf.PasswordCredentialsToken(e.ctx, login, password)
	if err == nil {
		return ""
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("login %q: %v, want success or invalid_grant", login, err)
	}
	if strings.Contains(re.ErrorDescription, "too many") {
		return "locked"
	}
	return "bad"
}

// Failed logins count against the account, whichever of its logins was typed (username or
// email, any case); logins that name nobody count per typed string, and lock alike.
func TestLockoutCountsPerAccount(t *testing.T) {
	e := newTestEnv(t) // 5 failures lock
	e.user("carol", "correct horse battery")
	e.user("dora", "correct horse battery")
	client, secret := e.webClient(func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "password") })
	r := e.relyingParty(client, secret)
	try := func(t *testing.T, login, password, want string) {
		t.Helper()
		if got := passwordLogin(t, e, r, login, password); got != want {
			t.Fatalf("login as %q: %q, want %q", login, got, want)
		}
	}

	t.Run("a lock holds for every spelling", func(t *testing.T) {
		for range 5 {
			try(t, "carol", "wrong password", "bad")
		}
		for _, login := range []string{"carol", "carol@example.com", "CAROL@Example.com", "Carol"} {
			try(t, login, "correct horse battery", "locked")
		}
	})
	t.Run("failures of both spellings add up", func(t *testing.T) {
		for range 2 {
			try(t, "dora", "wrong password", "bad")
		}
		for range 2 {
			try(t, "dora@example.com", "wrong password", "bad")
		}
		try(t, "DORA", "wrong password", "bad") // the fifth failure locks
		try(t, "dora@example.com", "correct horse battery", "locked")
		try(t, "dora", "correct horse battery", "locked")
	})
	t.Run("unknown logins count per typed string", func(t *testing.T) {
		for range 5 {
			try(t, "nobody", "wrong password", "bad")
		}
		try(t, "nobody", "wrong password", "locked")
		try(t, "NOBODY", "wrong password", "locked")
		try(t, "nobody@example.com", "wrong password", "bad")
	})

	// The login page shares the count: carol's lock shows there under her email too.
	b := newBrowser(t)
	web, webSecret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	page := e.relyingParty(web, webSecret, "openid")
	_, body := b.get(page.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	resp, body := b.login(e, body, "carol@example.com", "correct horse battery")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "too many failed logins") {
		t.Errorf("login page as carol@example.com while carol is locked: status %d, want 401 and the lockout message:\n%s", resp.StatusCode, body)
	}
}

// A successful login stores a hash made with other argon2id parameters anew, with the
// configured ones: on the password grant and on the login page. A failed login does not.
func TestLoginUpgradesPasswordHash(t *testing.T) {
	e := newTestEnv(t)
	older := credentials.PasswordParams{Memory: 512, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	oldReg := &registry.Registry{Store: e.store, Password: older}
	const password = "correct horse battery"
	newUser := func(name string) *store.User {
		t.Helper()
		u := &store.User{Username: name, Email: name + "@example.com"}
		if err := oldReg.CreateUser(e.ctx, u, password); err != nil {
			t.Fatal(err)
		}
		if !credentials.NeedsRehash(u.PasswordHash, fastPasswords) {
			t.Fatalf("%s's hash %q was made with the server's parameters", name, u.PasswordHash)
		}
		return u
	}
	stored := func(u *store.User) string {
		t.Helper()
		got, err := e.store.GetUser(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.PasswordHash
	}
	upgraded := func(what string, u *store.User) {
		t.Helper()
		h := stored(u)
		if credentials.NeedsRehash(h, fastPasswords) {
			t.Errorf("%s: stored hash %q is not made with the server's parameters", what, h)
		}
		if ok, err := credentials.VerifyPassword(h, password); !ok || err != nil {
			t.Errorf("%s: the password does not verify against the new hash (%v)", what, err)
		}
	}

	client, secret := e.webClient(func(c *store.Client) {
		c.GrantTypes = append(c.GrantTypes, "password")
		c.FirstParty = true
	})
	r := e.relyingParty(client, secret, "openid")

	hana := newUser("hana")
	if got := passwordLogin(t, e, r, "hana", "wrong password"); got != "bad" {
		t.Fatalf("wrong password: %q", got)
	}
	if h := stored(hana); h != hana.PasswordHash {
		t.Errorf("a failed login changed the hash to %q", h)
	}
	if got := passwordLogin(t, e, r, "hana@example.com", password); got != "" {
		t.Fatalf("password grant: %q", got)
	}
	upgraded("password grant", hana)
	// The new hash works for the next login and is not replaced again.
	after := stored(hana)
	if got := passwordLogin(t, e, r, "hana", password); got != "" {
		t.Fatalf("login with the upgraded hash: %q", got)
	}
	if stored(hana) != after {
		t.Error("a hash already made with the server's parameters was replaced")
	}

	ivy := newUser("ivy")
	params := e.authorize(newBrowser(t), r, "ivy", password, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if params.Get("code") == "" {
		t.Fatalf("login page: no code in %v", params)
	}
	upgraded("login page", ivy)
}
