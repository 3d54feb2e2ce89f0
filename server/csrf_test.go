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

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server/store"
)

// authURLFor is an authorization request of client with PKCE, built without discovery.
func authURLFor(e *testEnv, c *store.Client, scope string) string {
	return e.URL + "/api/v1/oauth/authorize?" + url.Values{
		"client_id": {c.ID}, "redirect_uri": {c.RedirectURIs[0]}, "response_type": {"code"},
		"scope": {scope}, "state": {"st"}, "code_challenge_method": {"S256"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
	}.Encode()
}

func wantForbiddenForm(t *testing.T, what string, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "access_denied") {
		t.Errorf("%s: status %d, want 403 access_denied:\n%s", what, resp.StatusCode, page)
	}
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "authly_session") && c.Value != "" {
			t.Errorf("%s: a session was started", what)
		}
	}
}

// The CSRF token is bound to the browser: a cookie and form field chosen together do not
// pass, and a consent form of one browser's session does not pass in another's.
func TestCSRFTokenIsBoundToTheBrowser(t *testing.T) {
	e := newTestEnv(t)
	e.user("ann", alicePassword)
	e.user("ben", alicePassword)
	client, secret := e.webClient()
	r := e.relyingParty(client, secret, "openid", "profile")
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	base, _ := url.Parse(e.URL)

	t.Run("forged cookie and form pair", func(t *testing.T) {
		b := newBrowser(t)
		_, page := b.get(authURL)
		forged := strings.Repeat("f", 43)
		b.c.Jar.SetCookies(base, []*http.Cookie{{Name: "authly_csrf", Value: forged, Path: "/"}})
		f := formOf(page)
		f.Set("csrf_token", forged)
		f.Set("action", "login")
		f.Set("username", "ann")
		f.Set("password", alicePassword)
		resp, body := b.post(e.URL+"/api/v1/oauth/authorize", f)
		wantForbiddenForm(t, "login with a forged cookie and token", resp, body)
	})

	t.Run("consent form of another session", func(t *testing.T) {
		consentPage := func(user string) (*browser, string) {
			b := newBrowser(t)
			_, page := b.get(authURL)
			resp, page := b.login(e, page, user, alicePassword)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="consent"`) {
				t.Fatalf("%s: status %d, want the consent page:\n%s", user, resp.StatusCode, page)
			}
			return b, page
		}
		annBrowser, annPage := consentPage("ann")
		benBrowser, benPage := consentPage("ben")
		if formOf(annPage).Get("csrf_token") == formOf(benPage).Get("csrf_token") {
			t.Fatal("two sessions got the same consent token")
		}
		// The attacker (ann) makes ben's browser post her consent form, having planted her
		// own CSRF cookie in it: a double-submit check would pass this.
		for _, c := range annBrowser.c.Jar.Cookies(base) {
			if c.Name == "authly_csrf" {
				benBrowser.c.Jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
			}
		}
		resp, body := benBrowser.consent(e, annPage, "approve")
		wantForbiddenForm(t, "consent with another session's token and cookie", resp, body)
		// A login form's token is no consent token either.
		_, loginPage := newBrowser(t).get(authURL)
		f := formOf(benPage)
		f.Set("csrf_token", formOf(loginPage).Get("csrf_token"))
		f.Set("consent", "approve")
		resp, body = benBrowser.post(e.URL+"/api/v1/oauth/authorize", f)
		wantForbiddenForm(t, "consent with a login token", resp, body)
		// Each browser's own form works.
		for name, bp := range map[string]struct {
			b    *browser
			page string
		}{"ann": {annBrowser, annPage}, "ben": {benBrowser, benPage}} {
			resp, _ := bp.b.consent(e, bp.page, "approve")
			if params := redirectParams(t, resp, client.RedirectURIs[0]); params.Get("code") == "" {
				t.Errorf("%s's own consent: no code in %v", name, params)
			}
		}
	})
}

// Form posts from another origin are refused by what the browser says of them (Origin,
// Sec-Fetch-Site), even with a valid token; an authorization request that a client posts
// from its own site is not a form of ours and passes.
func TestCrossSiteFormPostsRefused(t *testing.T) {
	e := newTestEnv(t)
	e.user("cid", alicePassword)
	client, secret := e.webClient(func(c *store.Client) { c.FirstParty = true })
	r := e.relyingParty(client, secret, "openid")
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	b := newBrowser(t)
	_, page := b.get(authURL)
	f := formOf(page)
	f.Set("action", "login")
	f.Set("username", "cid")
	f.Set("password", alicePassword)
	for _, h := range []http.Header{
		{"Origin": {"https://evil.example.net"}},
		{"Origin": {"null"}},
		{"Origin": {strings.Replace(e.URL, "127.0.0.1", "localhost", 1)}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Sec-Fetch-Site": {"cross-site"}, "Origin": {e.URL}},
		{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"https://evil.example.net"}},
	} {
		resp, body := b.postWith(e.URL+"/api/v1/oauth/authorize", f, h)
		wantForbiddenForm(t, "login post with "+strings.ReplaceAll(strings.TrimSpace(headerString(h)), "\n", ", "), resp, body)
	}
	// The same post from our own page passes.
	resp, _ := b.postWith(e.URL+"/api/v1/oauth/authorize", f, http.Header{"Origin": {e.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if params := redirectParams(t, resp, client.RedirectURIs[0]); params.Get("code") == "" {
		t.Fatalf("same-origin login: no code in %v", params)
	}
	// A client's cross-site form post of an authorization request carries no action.
	u, _ := url.Parse(authURL)
	resp, body := newBrowser(t).postWith(e.URL+"/api/v1/oauth/authorize", u.Query(),
		http.Header{"Origin": {"https://app.example.com"}, "Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Errorf("authorization request posted by the client's site: status %d, want the login page", resp.StatusCode)
	}
}

func headerString(h http.Header) string {
	var sb strings.Builder
	_ = h.Write(&sb)
	return sb.String()
}

// Over https the cookies are __Host- prefixed (Secure, Path=/, no Domain), and cookies of
// the unprefixed names, which a sibling subdomain or a plain-http page could plant, are
// not read.
func TestHostPrefixedCookiesOverHTTPS(t *testing.T) {
	e := newTLSTestEnv(t)
	if !strings.HasPrefix(e.URL, "https://") {
		t.Fatalf("issuer %s is not https", e.URL)
	}
	e.user("dee", alicePassword)
	client, _ := e.webClient(func(c *store.Client) { c.FirstParty = true })
	authURL := authURLFor(e, client, "openid")

	b := e.newTLSBrowser(t)
	resp, page := b.get(authURL)
	wantHostCookie(t, resp, "__Host-authly_csrf")
	resp, _ = b.login(e, page, "dee", alicePassword)
	session := wantHostCookie(t, resp, "__Host-authly_session")
	if redirectParams(t, resp, client.RedirectURIs[0]).Get("code") == "" {
		t.Fatal("no code after login over https")
	}
	// The session cookie works under its own name...
	resp, _ = b.get(authURL)
	redirectParams(t, resp, client.RedirectURIs[0])
	// ...and not under the unprefixed one.
	planted := e.newTLSBrowser(t)
	base, _ := url.Parse(e.URL)
	planted.c.Jar.SetCookies(base, []*http.Cookie{{Name: "authly_session", Value: session.Value, Path: "/"}})
	resp, page = planted.get(authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
		t.Errorf("an unprefixed session cookie over https was honoured: status %d", resp.StatusCode)
	}
	// A planted unprefixed binding cookie with a token of its choice does not pass.
	forged := strings.Repeat("f", 43)
	planted.c.Jar.SetCookies(base, []*http.Cookie{{Name: "authly_csrf", Value: forged, Path: "/"}})
	f := formOf(page)
	f.Set("csrf_token", forged)
	f.Set("action", "login")
	f.Set("username", "dee")
	f.Set("password", alicePassword)
	resp, body := planted.post(e.URL+"/api/v1/oauth/authorize", f)
	wantForbiddenForm(t, "login with a planted unprefixed cookie", resp, body)
}

func wantHostCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "authly_csrf") || strings.HasSuffix(c.Name, "authly_session") {
			if c.Name != name && !strings.HasPrefix(c.Name, "__Host-") {
				t.Errorf("cookie %s over https lacks the __Host- prefix", c.Name)
			}
		}
		if c.Name == name {
			if !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %s: Secure %v HttpOnly %v Path %q Domain %q, want Secure, HttpOnly, Path=/ and no Domain",
					name, c.Secure, c.HttpOnly, c.Path, c.Domain)
			}
			return c
		}
	}
	t.Fatalf("no %s cookie set; got %v", name, resp.Cookies())
	return nil
}
