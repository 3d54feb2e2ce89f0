/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/store"
)

// chromiumPath is Debian's chromium package, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// newChromium starts a headless Chromium with a fresh profile and returns its context. A
// missing or broken browser fails the test: the login page is only tested this way.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is required for the login page test, and %s is missing (%v): "+
			"install the Debian package chromium (apt-get install chromium), as .ci/run does", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first Run starts the browser; it gets the browser's own context, because the
	// browser lives as long as the context of that first Run.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting headless Chromium (%s): %v", chromiumPath, err)
	}
	return ctx
}

// Buttons as the user sees them: by their label (XPath, which Search resolves).
const (
	signInButton  = chromedp.Search(`//button[normalize-space()="Sign in"]`)
	allowButton   = chromedp.Search(`//button[normalize-space()="Allow"]`)
	signOutButton = chromedp.Search(`//button[normalize-space()="Sign out"]`)
	signedOut     = chromedp.Search(`//h1[normalize-space()="Signed out"]`)
)

// A person signs in on the login page in a real browser, mistypes the password first,
// allows access on the consent page and lands on the client's callback; the client then
// redeems the code with x/oauth2 and verifies the ID token with go-oidc.
func TestBrowserLoginAndConsent(t *testing.T) {
	e := newTestEnv(t)
	user := e.user("bea", alicePassword)

	// The client's callback, on http loopback as a native or development app has it.
	callbacks := make(chan url.Values, 4)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case callbacks <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>Callback</title><p id="done">Signed in</p>`)
	}))
	t.Cleanup(cb.Close)
	redirectURI := cb.URL + "/callback"
	client, secret := e.webClient(func(c *store.Client) {
		c.Name = "Browser test app"
		c.RedirectURIs = []string{redirectURI}
	})
	rp := e.relyingParty(client, secret, "openid", "profile", "email")
	verifier := oauth2.GenerateVerifier()
	state, nonce := randomString(t), randomString(t)
	authURL := rp.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	t.Run("login page headers", func(t *testing.T) {
		resp, page := newBrowser(t).get(authURL)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("status %d, want the login page:\n%s", resp.StatusCode, page)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' " + cb.URL} {
			if !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
			}
		}
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("X-Frame-Options %q, want DENY", got)
		}
		// same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null" on
		// the page's own form posts, which the cross-site check refuses.
		if got := resp.Header.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("Referrer-Policy %q, want same-origin", got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		var csrf *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "authly_csrf" {
				csrf = c
			}
		}
		// The issuer is http://127.0.0.1: cookies without Secure, or the browser would
		// drop them; HttpOnly and SameSite=Lax regardless.
		if csrf == nil || !csrf.HttpOnly || csrf.Secure || csrf.SameSite != http.SameSiteLaxMode {
			t.Errorf("CSRF cookie %+v, want HttpOnly, SameSite=Lax, not Secure on an http loopback issuer", csrf)
		}
	})

	ctx := newChromium(t)
	// A bound for the whole browser session, so that a page that never comes fails the
	// test instead of hanging it.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "bea"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(signInButton),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	)
	if err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	loginError, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".error")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(loginError) != "invalid username or password" {
		t.Errorf("login page says %q after a wrong password, want %q", loginError, "invalid username or password")
	}
	// The page keeps the username and empties the password.
	username, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("username")))
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(signInButton),
		chromedp.WaitVisible(allowButton),
	)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	consentText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(allowButton), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatalf("consent: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if username != "bea" {
		t.Errorf("username field %q after a failed login, want it kept", username)
	}
	if heading != "Allow access?" || !strings.Contains(consentText, "Browser test app") || !strings.Contains(consentText, "See your email address") {
		t.Errorf("consent page: heading %q, text:\n%s", heading, consentText)
	}
	session := false
	for _, c := range cookies.Cookies {
		if c.Name == "authly_session" {
			session = true
			if !c.HTTPOnly || c.Secure || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("session cookie %+v, want HttpOnly, SameSite=Lax, not Secure", c)
			}
		}
	}
	if !session {
		t.Errorf("no session cookie in the browser after login: %+v", cookies.Cookies)
	}
	if !strings.HasPrefix(location, redirectURI+"?") {
		t.Fatalf("browser ended at %q, want the client's callback %s", location, redirectURI)
	}

	var params url.Values
	select {
	case params = <-callbacks:
	case <-ctx.Done():
		t.Fatal("the callback was never called")
	}
	if params.Get("state") != state || params.Get("iss") != e.URL || params.Get("code") == "" {
		t.Fatalf("callback parameters %v: want code, state %q and iss %q", params, state, e.URL)
	}

	tok, err := rp.conf.Exchange(e.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(e.ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != user.ID || idt.Nonce != nonce {
		t.Errorf("ID token sub %q nonce %q, want %q and %q", idt.Subject, idt.Nonce, user.ID, nonce)
	}
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
		AuthTime          int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != "bea@example.com" || claims.PreferredUsername != "bea" || claims.AuthTime == 0 {
		t.Errorf("ID token claims %+v (%v)", claims, err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}

	// A logout link without an id_token_hint, as any site could place one: the browser
	// shows a confirmation and the session lives on until the user confirms (OIDC
	// RP-Initiated Logout section 2).
	sessions := func() int {
		t.Helper()
		list, err := e.store.ListUserSessions(e.ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/oidc/logout"), chromedp.WaitVisible(signOutButton)); err != nil {
		t.Fatalf("logout confirmation: %v", err)
	}
	if n := sessions(); n != 1 {
		t.Fatalf("%d sessions while the logout confirmation shows, want 1", n)
	}
	if err := chromedp.Do(ctx, chromedp.Click(signOutButton), chromedp.WaitVisible(signedOut)); err != nil {
		t.Fatalf("confirming the logout: %v", err)
	}
	if n := sessions(); n != 0 {
		t.Errorf("%d sessions after confirming the logout, want 0", n)
	}
	cookies, err = chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.URL}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == "authly_session" {
			t.Errorf("session cookie %q still in the browser after logout", c.Value)
		}
	}
}
