/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/store"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// cliClient is a public client of the device flow, as a command-line tool registers.
func (e *testEnv) cliClient() *store.Client {
	c, _ := e.client(store.Client{
		Name: "Orders CLI", Type: store.Public,
		GrantTypes: []string{deviceGrant, "refresh_token"},
		Scopes:     []string{"openid", "profile", "email", "orders:read"},
	})
	return c
}

// deviceConfig is the x/oauth2 configuration of a CLI, from discovery.
func (e *testEnv) deviceConfig(c *store.Client, scopes ...string) *oauth2.Config {
	e.t.Helper()
	var md struct {
		TokenEndpoint string   `json:"token_endpoint"`
		Device        string   `json:"device_authorization_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
	}
	resp, err := http.Get(e.URL + "/.well-known/openid-configuration")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(readBody(e.t, resp)), &md); err != nil {
		e.t.Fatal(err)
	}
	if md.Device != e.URL+"/api/v1/oauth/device_authorization" || !slices.Contains(md.GrantTypes, deviceGrant) {
		e.t.Fatalf("discovery advertises device_authorization_endpoint %q and grant types %v", md.Device, md.GrantTypes)
	}
	return &oauth2.Config{
		ClientID: c.ID, Scopes: scopes,
		Endpoint: oauth2.Endpoint{DeviceAuthURL: md.Device, TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
	}
}

func fastDevicePolling(c *server.Config) { c.DevicePollInterval = time.Second }

// A CLI runs the device flow with x/oauth2 (DeviceAuth, then DeviceAccessToken polling)
// while a person, in headless Chromium, opens the verification URI, types the user code
// in lower case without its dash, signs in and allows access; the CLI gets its tokens,
// and the device code does not work a second time.
func TestDeviceFlowWithChromium(t *testing.T) {
	e := newTestEnv(t, fastDevicePolling)
	user := e.user("dora", alicePassword)
	cli := e.cliClient()
	conf := e.deviceConfig(cli, "openid", "profile", "orders:read")
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()

	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if da.VerificationURI != e.URL+"/device" || da.VerificationURIComplete != da.VerificationURI+"?user_code="+da.UserCode ||
		da.Interval != 1 || len(da.UserCode) != 9 || da.UserCode[4] != '-' || strings.ContainsAny(da.UserCode, "0O1IAEU") {
		t.Fatalf("device authorization %+v", da)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()

	typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))
	browser := newChromium(t)
	browser, cancelBrowser := context.WithTimeout(browser, time.Minute)
	defer cancelBrowser()
	continueButton := chromedp.Search(`//button[normalize-space()="Continue"]`)
	err = chromedp.Do(browser,
		chromedp.Navigate(da.VerificationURI),
		chromedp.WaitVisible(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), typed),
		chromedp.Click(continueButton),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "dora"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(signInButton),
		chromedp.WaitVisible(allowButton),
	)
	if err != nil {
		t.Fatalf("code and login: %v", err)
	}
	consentText, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Orders CLI", "dora", da.UserCode, "See your name and username"} {
		if !strings.Contains(consentText, want) {
			t.Errorf("consent page lacks %q:\n%s", want, consentText)
		}
	}
	connected := chromedp.Search(`//h1[normalize-space()="Device connected"]`)
	if err := chromedp.Do(browser, chromedp.Click(allowButton), chromedp.WaitVisible(connected)); err != nil {
		t.Fatalf("allow: %v", err)
	}

	var res result
	select {
	case res = <-polled:
	case <-ctx.Done():
		t.Fatal("DeviceAccessToken never returned")
	}
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	provider, err := oidc.NewProvider(ctx, e.URL)
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := res.tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: cli.ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != user.ID || res.tok.RefreshToken == "" || res.tok.Extra("scope") != "openid profile orders:read" {
		t.Errorf("tokens for %q, refresh token %q, scope %v", idt.Subject, res.tok.RefreshToken, res.tok.Extra("scope"))
	}
	if err := idt.VerifyAccessToken(res.tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	// The refresh token works like any other.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: res.tok.RefreshToken}).Token()
	if err != nil || refreshed.AccessToken == "" {
		t.Errorf("refresh: %v", err)
	}

	// Redeemed once: polling again is invalid_grant.
	_, err = conf.DeviceAccessToken(ctx, da)
	assertOAuthError(t, err, "invalid_grant")
}

// devicePoll polls the token endpoint as a public client, without x/oauth2's pacing.
func (e *testEnv) devicePoll(clientID, deviceCode string) tokenResult {
	e.t.Helper()
	return e.tokenRequest("", "", url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}, "client_id": {clientID}})
}

// The other endings: a person denies (x/oauth2 returns access_denied), a request expires
// (expired_token, and its user code no longer works), and a device that polls too fast
// gets slow_down with an interval 5 s longer each time. The verification page refuses
// forged forms and unknown codes.
func TestDeviceFlowDenyExpirySlowDown(t *testing.T) {
	clock := &movableClock{}
	e := newTestEnv(t, fastDevicePolling, func(c *server.Config) { c.Clock = clock.now })
	e.user("dora", alicePassword)
	cli := e.cliClient()
	conf := e.deviceConfig(cli, "openid", "orders:read")
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()

	t.Run("deny", func(t *testing.T) {
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		// verification_uri_complete: the code is already there, the login form next.
		resp, page := b.get(da.VerificationURIComplete)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) || !strings.Contains(page, "Orders CLI") {
			t.Fatalf("verification_uri_complete: %d\n%s", resp.StatusCode, page)
		}
		f := formOf(page)
		if f.Get("user_code") != da.UserCode {
			t.Fatalf("login form carries user_code %q, want %q", f.Get("user_code"), da.UserCode)
		}
		f.Set("username", "dora")
		f.Set("password", alicePassword)
		f.Set("action", "login")
		resp, page = b.post(e.URL+"/device", f)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="consent"`) || !strings.Contains(page, da.UserCode) {
			t.Fatalf("after login: %d\n%s", resp.StatusCode, page)
		}
		consent := formOf(page)
		consent.Set("consent", "deny")
		// Forged: without the token, with another's, from another origin.
		for name, tc := range map[string]struct {
			form   url.Values
			header http.Header
		}{
			"no token":     {form: url.Values{"user_code": {da.UserCode}, "action": {"consent"}, "consent": {"approve"}}},
			"other code":   {form: url.Values{"user_code": {"BCDF-GHJK"}, "action": {"consent"}, "consent": {"approve"}, "csrf_token": {consent.Get("csrf_token")}}},
			"cross-origin": {form: consent, header: http.Header{"Origin": {"https://evil.example"}}},
			"cross-site":   {form: consent, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		} {
			if resp, page := b.postWith(e.URL+"/device", tc.form, tc.header); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403:\n%s", name, resp.StatusCode, page)
			}
		}
		resp, page = b.post(e.URL+"/device", consent)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Request denied") {
			t.Fatalf("deny: %d\n%s", resp.StatusCode, page)
		}
		_, err = conf.DeviceAccessToken(ctx, da)
		assertOAuthError(t, err, "access_denied")
		// Decided: the code is not shown again.
		if resp, page := b.get(da.VerificationURIComplete); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "not valid") {
			t.Errorf("a decided code: %d\n%s", resp.StatusCode, page)
		}
	})

	t.Run("slow_down", func(t *testing.T) {
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := func(what, code string) {
			t.Helper()
			r := e.devicePoll(cli.ID, da.DeviceCode)
			if r.status != http.StatusBadRequest || r.Error != code {
				t.Fatalf("%s: %d %s (%s), want 400 %s", what, r.status, r.Error, r.ErrorDescription, code)
			}
		}
		want("first poll", "authorization_pending")
		want("at once again", "slow_down") // interval 1 s -> 6 s
		clock.advance(5500 * time.Millisecond)
		want("5.5 s later", "slow_down") // 6 s -> 11 s
		clock.advance(11 * time.Second)
		want("11 s later", "authorization_pending")
		clock.advance(6 * time.Second)
		want("6 s later", "slow_down") // the interval stays 11 s, and grows to 16 s
	})

	t.Run("expiry", func(t *testing.T) {
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		clock.advance(server.DefaultConfig().DeviceCodeTTL + time.Second)
		r := e.devicePoll(cli.ID, da.DeviceCode)
		if r.status != http.StatusBadRequest || r.Error != "expired_token" {
			t.Fatalf("poll after expiry: %d %s", r.status, r.Error)
		}
		if resp, page := newBrowser(t).get(da.VerificationURIComplete); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "not valid") {
			t.Errorf("an expired code on the page: %d\n%s", resp.StatusCode, page)
		}
	})

	t.Run("page", func(t *testing.T) {
		b := newBrowser(t)
		resp, page := b.get(e.URL + "/device")
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="user_code"`) {
			t.Fatalf("code page: %d\n%s", resp.StatusCode, page)
		}
		f := formOf(page)
		for typed, want := range map[string]string{"WDJB-MJH0": "not a code of this site", "BCDF-GHJK": "not valid", "": "Enter the code"} {
			f.Set("user_code", typed)
			f.Set("action", "code")
			resp, page := b.post(e.URL+"/device", f)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, want) {
				t.Errorf("code %q: %d, want 400 saying %q:\n%s", typed, resp.StatusCode, want, page)
			}
		}
		// The code form's token is bound to this browser.
		f.Set("user_code", "BCDF-GHJK")
		if resp, _ := newBrowser(t).post(e.URL+"/device", f); resp.StatusCode != http.StatusForbidden {
			t.Errorf("code form from another browser: %d, want 403", resp.StatusCode)
		}
	})

	// Other clients cannot use the device code; a client without the grant cannot start
	// the flow; a confidential client must authenticate (invalid_client with a challenge).
	t.Run("clients", func(t *testing.T) {
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := e.cliClient()
		if r := e.devicePoll(other.ID, da.DeviceCode); r.Error != "invalid_grant" {
			t.Errorf("another client's poll: %d %s", r.status, r.Error)
		}
		web, webSecret := e.webClient()
		r := e.postForm("/api/v1/oauth/device_authorization", web.ID, webSecret, url.Values{"scope": {"openid"}})
		if r.status != http.StatusBadRequest || r.Error != "unauthorized_client" {
			t.Errorf("client without the grant: %d %s", r.status, r.Error)
		}
		tv, _ := e.client(store.Client{Name: "TV", Type: store.Confidential, GrantTypes: []string{deviceGrant}, Scopes: []string{"orders:read"}})
		r = e.postForm("/api/v1/oauth/device_authorization", tv.ID, "not-the-secret", nil)
		if r.status != http.StatusUnauthorized || r.Error != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("wrong secret: %d %s, WWW-Authenticate %q", r.status, r.Error, r.header.Get("WWW-Authenticate"))
		}
		_, err = (&oauth2.Config{ClientID: tv.ID, Endpoint: conf.Endpoint}).DeviceAuth(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("confidential client without its secret: %v", err)
		}
	})
}

// User codes that match nothing are limited for the whole server: once they have spent
// the budget, even a right code waits (429 with Retry-After).
func TestDeviceUserCodeGuessingIsLimited(t *testing.T) {
	e := newTestEnv(t, func(c *server.Config) { c.UserCodeFailuresPerMinute = 3 })
	cli := e.cliClient()
	da, err := e.deviceConfig(cli).DeviceAuth(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	for i, guess := range []string{"BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"} {
		if resp, _ := b.get(e.URL + "/device?user_code=" + guess); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("guess %d: status %d, want 400", i, resp.StatusCode)
		}
	}
	resp, page := b.get(da.VerificationURIComplete)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many codes") {
		t.Fatalf("right code after the budget is spent: %d, Retry-After %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
}
