/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/store"
)

const byeURI = "https://app.example.com/bye"

type logoutEnv struct {
	*testEnv
	client *store.Client
	rp     *rp
}

// signIn logs username in with a fresh browser and returns it with the ID token issued.
func (le *logoutEnv) signIn(t *testing.T, username string) (*browser, string) {
	t.Helper()
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	params := le.authorize(b, le.rp, username, alicePassword, oauth2.S256ChallengeOption(verifier))
	tok, err := le.rp.conf.Exchange(le.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no ID token")
	}
	return b, idToken
}

func (le *logoutEnv) sessions(t *testing.T, u *store.User) int {
	t.Helper()
	list, err := le.store.ListUserSessions(le.ctx, u.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func logoutURL(e *testEnv, params url.Values) string {
	return e.URL + "/oidc/logout?" + params.Encode()
}

func wantConfirmation(t *testing.T, what string, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out?") || !strings.Contains(page, `value="logout"`) {
		t.Fatalf("%s: status %d, want the logout confirmation page:\n%s", what, resp.StatusCode, page)
	}
}

// OIDC RP-Initiated Logout section 2: without an id_token_hint of the signed-in user the
// user is asked, on a form that is CSRF protected; a GET alone ends nothing.
func TestLogoutAsksWithoutHint(t *testing.T) {
	e := newTestEnv(t)
	fay := e.user("fay", alicePassword)
	client, secret := e.webClient(func(c *store.Client) {
		c.FirstParty = true
		c.PostLogoutRedirectURIs = []string{byeURI}
	})
	le := &logoutEnv{testEnv: e, client: client, rp: e.relyingParty(client, secret, "openid")}
	b, _ := le.signIn(t, "fay")

	// A bare link, as any site could place it: the user is asked, the session stays.
	resp, page := b.get(e.URL + "/oidc/logout")
	wantConfirmation(t, "GET /oidc/logout", resp, page)
	if n := le.sessions(t, fay); n != 1 {
		t.Fatalf("%d sessions after GET /oidc/logout, want the session kept", n)
	}
	// With a client and a redirect but no hint: asked too; the form may post to the target.
	resp, page = b.get(logoutURL(e, url.Values{"client_id": {client.ID}, "post_logout_redirect_uri": {byeURI}, "state": {"s-1"}}))
	wantConfirmation(t, "GET with client_id, no hint", resp, page)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("confirmation CSP %q does not allow the redirect after the form", csp)
	}
	if !strings.Contains(page, client.Name) || !strings.Contains(page, "fay") {
		t.Errorf("confirmation page names neither the client nor the user:\n%s", page)
	}
	form := formOf(page)
	form.Set("action", "logout")

	// Forged or cross-site confirmations are refused.
	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	forged.Set("csrf_token", strings.Repeat("x", 43))
	resp, body := b.post(e.URL+"/oidc/logout", forged)
	wantForbiddenForm(t, "confirmation with a forged token", resp, body)
	resp, body = b.postWith(e.URL+"/oidc/logout", form, http.Header{"Origin": {"https://evil.example.net"}})
	wantForbiddenForm(t, "cross-site confirmation", resp, body)
	// Another session's form does not sign this one out.
	other, _ := le.signIn(t, "fay")
	_, otherPage := other.get(e.URL + "/oidc/logout")
	otherForm := formOf(otherPage)
	otherForm.Set("action", "logout")
	resp, body = b.post(e.URL+"/oidc/logout", otherForm)
	wantForbiddenForm(t, "confirmation of another session", resp, body)
	// "Stay signed in" ends nothing.
	stay := url.Values{}
	for k, v := range form {
		stay[k] = v
	}
	stay.Set("action", "stay")
	resp, body = b.post(e.URL+"/oidc/logout", stay)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "not been signed out") {
		t.Errorf("stay: status %d:\n%s", resp.StatusCode, body)
	}
	if n := le.sessions(t, fay); n != 2 {
		t.Fatalf("%d sessions after refused confirmations, want both kept", n)
	}

	// The confirmation ends this session only, and returns to the client.
	resp, _ = b.post(e.URL+"/oidc/logout", form)
	params := redirectParams(t, resp, byeURI)
	if params.Get("state") != "s-1" || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after confirming: status %d, params %v; want 303 with state s-1", resp.StatusCode, params)
	}
	if n := le.sessions(t, fay); n != 1 {
		t.Errorf("%d sessions after confirming, want only the other browser's left", n)
	}
	resp, page = b.get(le.rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		t.Errorf("after logout the browser is still signed in: status %d", resp.StatusCode)
	}

	// A browser without a session has nothing to confirm.
	resp, _ = newBrowser(t).get(logoutURL(e, url.Values{"client_id": {client.ID}, "post_logout_redirect_uri": {byeURI}}))
	redirectParams(t, resp, byeURI)
	resp, page = newBrowser(t).get(e.URL + "/oidc/logout")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "You have been signed out") {
		t.Errorf("logout without a session: status %d:\n%s", resp.StatusCode, page)
	}
}

// An id_token_hint of the signed-in user ends the session at once (GET or the client's
// POST); one of another user is asked about; a hint that contradicts client_id, or is not
// an ID token of this server, is refused.
func TestLogoutWithIDTokenHint(t *testing.T) {
	e := newTestEnv(t)
	gus := e.user("gus", alicePassword)
	e.user("hal", alicePassword)
	client, secret := e.webClient(func(c *store.Client) {
		c.FirstParty = true
		c.PostLogoutRedirectURIs = []string{byeURI}
	})
	other, _ := e.webClient(func(c *store.Client) {
		c.FirstParty = true
		c.PostLogoutRedirectURIs = []string{"https://other.example.com/bye"}
	})
	le := &logoutEnv{testEnv: e, client: client, rp: e.relyingParty(client, secret, "openid")}
	_, halToken := le.signIn(t, "hal")

	b, gusToken := le.signIn(t, "gus")
	refused := func(what string, params url.Values) {
		t.Helper()
		resp, page := b.get(logoutURL(e, params))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "invalid_request") {
			t.Errorf("%s: status %d, want 400 invalid_request:\n%s", what, resp.StatusCode, page)
		}
	}
	refused("client_id of another client than the hint's", url.Values{"id_token_hint": {gusToken}, "client_id": {other.ID}})
	refused("client_id of another client, with its redirect", url.Values{
		"id_token_hint": {gusToken}, "client_id": {other.ID}, "post_logout_redirect_uri": {"https://other.example.com/bye"}})
	refused("a tampered hint", url.Values{"id_token_hint": {gusToken[:len(gusToken)-4] + "AAAA"}})
	refused("a hint that is no JWT", url.Values{"id_token_hint": {"not-a-token"}})
	// An access token of the same user and client is no ID token.
	tok, err := le.accessToken(b, "gus")
	if err != nil {
		t.Fatal(err)
	}
	refused("an access token as hint", url.Values{"id_token_hint": {tok}})
	// Another user's ID token: asked.
	resp, page := b.get(logoutURL(e, url.Values{"id_token_hint": {halToken}, "post_logout_redirect_uri": {byeURI}}))
	wantConfirmation(t, "hint of another user", resp, page)
	if n := le.sessions(t, gus); n != 1 {
		t.Fatalf("%d sessions of gus after refused logouts, want 1", n)
	}

	// The matching hint, with the matching client_id: signed out at once.
	resp, _ = b.get(logoutURL(e, url.Values{
		"id_token_hint": {gusToken}, "client_id": {client.ID}, "post_logout_redirect_uri": {byeURI}, "state": {"s-2"}}))
	if params := redirectParams(t, resp, byeURI); params.Get("state") != "s-2" {
		t.Errorf("redirect params %v, want state s-2", params)
	}
	if n := le.sessions(t, gus); n != 0 {
		t.Errorf("%d sessions of gus after logout with his ID token, want 0", n)
	}

	// A client may POST the logout request (section 2).
	b, gusToken = le.signIn(t, "gus")
	resp, _ = b.post(e.URL+"/oidc/logout", url.Values{"id_token_hint": {gusToken}, "post_logout_redirect_uri": {byeURI}})
	redirectParams(t, resp, byeURI)
	if n := le.sessions(t, gus); n != 0 {
		t.Errorf("%d sessions of gus after a POSTed logout, want 0", n)
	}
}

// accessToken runs the code flow again in b, signed in as username, and returns the
// access token issued.
func (le *logoutEnv) accessToken(b *browser, username string) (string, error) {
	verifier := oauth2.GenerateVerifier()
	params := le.authorize(b, le.rp, username, alicePassword, oauth2.S256ChallengeOption(verifier))
	tok, err := le.rp.conf.Exchange(le.ctx, params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}
