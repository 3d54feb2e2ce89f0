/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// The browser endpoints' unit tests (authorization, logout; userinfo is called with the
// access token they lead to): httptest against fakeStore, as the grants' tests. The
// end-to-end tests of the server package drive the same pages with a real browser and
// the real store.

const (
	// pageOtherRedirect is first's second redirect URI: with two, the request must name one.
	pageOtherRedirect = "https://app.example.com/other"
	pageLogoutTarget  = "https://app.example.com/signed-out"
	// pageSession is the cookie value of alice's login session, when a test makes one.
	pageSession = "session-of-alice-0123456789abcdef0123456789abcdef"
)

// pageClients are the grants' clients and two more: a first-party client (no consent)
// with two redirect URIs and a post-logout URI, and one with a redirect URI that may not
// use the code grant.
func pageClients() memClients {
	m := unitGrantClients()
	m["first"] = &store.Client{ID: "first", Name: "First App", Type: store.Confidential, FirstParty: true,
		SecretHash:   credentials.HashSecret(grantSecret),
		RedirectURIs: []string{grantRedirect, pageOtherRedirect}, PostLogoutRedirectURIs: []string{pageLogoutTarget},
		GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid", "profile", "orders:read", "admin:clients:read"}}
	m["no-code"] = &store.Client{ID: "no-code", Type: store.Confidential, SecretHash: credentials.HashSecret(grantSecret),
		RedirectURIs: []string{grantRedirect}, GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"orders:read"}}
	return m
}

func newPageTest(t *testing.T) *grantTest {
	t.Helper()
	g := newGrantTest(t, Config{})
	g.p.clients = pageClients()
	g.store.addScope(&store.Scope{Name: "orders:read", Description: "Read your orders"})
	return g
}

// startSession stores a login session of alice that began age ago and lasts an hour
// from now, and returns its cookie value.
func (g *grantTest) startSession(age time.Duration) string {
	g.t.Helper()
	err := g.store.CreateSession(g.t.Context(), &store.Session{Hash: credentials.HashToken(pageSession), UserID: aliceID,
		AuthTime: g.now.Add(-age), ExpiresAt: g.now.Add(time.Hour), CreatedAt: g.now.Add(-age)})
	if err != nil {
		g.t.Fatal(err)
	}
	return pageSession
}

// browse sends a request as a browser of this site would: a GET with the query, or a
// form post; session, when not empty, is the login session cookie. header adds headers
// (Sec-Fetch-Site, Origin) and cookies.
func (g *grantTest) browse(method, path string, params url.Values, session string, header http.Header) *httptest.ResponseRecorder {
	g.t.Helper()
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, path+"?"+params.Encode(), nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(params.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	if session != "" {
		r.AddCookie(&http.Cookie{Name: g.p.sessionCookie, Value: session})
	}
	w := httptest.NewRecorder()
	g.mux.ServeHTTP(w, r)
	return w
}

// authorizeRequest is a valid authorization request of client web, changed by change.
func authorizeRequest(change func(url.Values)) url.Values {
	q := url.Values{
		"client_id": {"web"}, "redirect_uri": {grantRedirect}, "response_type": {"code"},
		"scope": {"openid orders:read"}, "state": {"st-123"}, "nonce": {"n-1"},
		"code_challenge": {rfc7636Challenge}, "code_challenge_method": {"S256"},
	}
	if change != nil {
		change(q)
	}
	return q
}

// outcome is what the authorization endpoint did: a page (with its status), or a
// redirect to the client with its parameters.
type outcome struct {
	status   int
	page     string // "login", "consent", "error" or "" for a redirect
	body     string
	location *url.URL
	params   url.Values
}

func readOutcome(t *testing.T, w *httptest.ResponseRecorder) outcome {
	t.Helper()
	o := outcome{status: w.Code, body: w.Body.String()}
	if loc := w.Header().Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		o.location, o.params = u, u.Query()
		return o
	}
	switch {
	case strings.Contains(o.body, `name="password"`):
		o.page = "login"
	case strings.Contains(o.body, `value="approve"`):
		o.page = "consent"
	default:
		o.page = "error"
	}
	return o
}

// wantRedirect checks a redirect to redirectURI with error code wantErr ("" for a code),
// the state and the issuer (RFC 9207).
func (o outcome) wantRedirect(t *testing.T, redirectURI, wantErr, wantDesc string) {
	t.Helper()
	if o.location == nil {
		t.Fatalf("status %d, %s page, want a redirect:\n%.400s", o.status, o.page, o.body)
	}
	if o.status != http.StatusFound && o.status != http.StatusSeeOther {
		t.Errorf("redirect status %d", o.status)
	}
	base := *o.location
	base.RawQuery = ""
	if base.String() != redirectURI {
		t.Errorf("redirected to %s, want %s", base.String(), redirectURI)
	}
	if got := o.params.Get("state"); got != "st-123" {
		t.Errorf("state %q, want st-123", got)
	}
	if got := o.params.Get("iss"); got != fuzzIssuer {
		t.Errorf("iss %q, want %s", got, fuzzIssuer)
	}
	switch {
	case wantErr == "" && (o.params.Get("code") == "" || o.params.Has("error")):
		t.Errorf("redirect %v, want a code", o.params)
	case wantErr != "" && (o.params.Get("error") != wantErr || !strings.Contains(o.params.Get("error_description"), wantDesc)):
		t.Errorf("redirect error %q %q, want %s %q", o.params.Get("error"), o.params.Get("error_description"), wantErr, wantDesc)
	case wantErr != "" && o.params.Has("code"):
		t.Errorf("an error redirect carries a code: %v", o.params)
	}
}

// The request checks before any login: errors about the client or its redirect URI are
// shown on a page and never redirected (RFC 6749 section 4.1.2.1), the others go back to
// the redirect URI with the state.
func TestAuthorizeRequestValidation(t *testing.T) {
	tests := []struct {
		name     string
		change   func(url.Values)
		wantPage int    // a page of this status, or 0 for a redirect
		wantErr  string // the redirect's error, "" for the login page
		wantDesc string
	}{
		{name: "valid: the login page", wantPage: http.StatusOK},
		{name: "no client_id", change: func(q url.Values) { q.Del("client_id") },
			wantPage: http.StatusBadRequest, wantDesc: "client_id is required"},
		{name: "unknown client", change: func(q url.Values) { q.Set("client_id", "nobody") },
			wantPage: http.StatusBadRequest, wantDesc: "unknown client"},
		{name: "redirect_uri extended", change: func(q url.Values) { q.Set("redirect_uri", grantRedirect+"/more") },
			wantPage: http.StatusBadRequest, wantDesc: "not registered"},
		{name: "redirect_uri with a trailing slash", change: func(q url.Values) { q.Set("redirect_uri", grantRedirect+"/") },
			wantPage: http.StatusBadRequest, wantDesc: "not registered"},
		{name: "redirect_uri with another query", change: func(q url.Values) { q.Set("redirect_uri", grantRedirect+"?next=x") },
			wantPage: http.StatusBadRequest, wantDesc: "not registered"},
		{name: "redirect_uri of another case", change: func(q url.Values) { q.Set("redirect_uri", strings.ToUpper(grantRedirect)) },
			wantPage: http.StatusBadRequest, wantDesc: "not registered"},
		{name: "redirect_uri omitted with one registered", change: func(q url.Values) { q.Del("redirect_uri") },
			wantPage: http.StatusOK},
		{name: "redirect_uri omitted with two registered", change: func(q url.Values) { q.Set("client_id", "first"); q.Del("redirect_uri") },
			wantPage: http.StatusBadRequest, wantDesc: "redirect_uri is required"},
		{name: "request object", change: func(q url.Values) { q.Set("request", "eyJ.e30.") },
			wantErr: "request_not_supported"},
		{name: "no response_type", change: func(q url.Values) { q.Del("response_type") },
			wantErr: CodeInvalidRequest, wantDesc: "response_type is required"},
		{name: "implicit response_type", change: func(q url.Values) { q.Set("response_type", "token") },
			wantErr: CodeUnsupportedResponseType, wantDesc: "only response_type=code"},
		{name: "hybrid response_type", change: func(q url.Values) { q.Set("response_type", "code id_token") },
			wantErr: CodeUnsupportedResponseType},
		{name: "response_mode fragment", change: func(q url.Values) { q.Set("response_mode", "fragment") },
			wantErr: CodeInvalidRequest, wantDesc: "response_mode=query"},
		{name: "client without the code grant", change: func(q url.Values) { q.Set("client_id", "no-code"); q.Set("scope", "orders:read") },
			wantErr: CodeUnauthorizedClient},
		{name: "no code_challenge", change: func(q url.Values) { q.Del("code_challenge") },
			wantErr: CodeInvalidRequest, wantDesc: "code_challenge is required"},
		{name: "plain PKCE", change: func(q url.Values) { q.Set("code_challenge_method", "plain") },
			wantErr: CodeInvalidRequest, wantDesc: "must be S256"},
		{name: "no code_challenge_method", change: func(q url.Values) { q.Del("code_challenge_method") },
			wantErr: CodeInvalidRequest, wantDesc: "must be S256"},
		{name: "short code_challenge", change: func(q url.Values) { q.Set("code_challenge", rfc7636Challenge[:42]) },
			wantErr: CodeInvalidRequest, wantDesc: "43 characters"},
		{name: "code_challenge not base64url", change: func(q url.Values) { q.Set("code_challenge", strings.Repeat("+", 43)) },
			wantErr: CodeInvalidRequest, wantDesc: "43 characters"},
		{name: "scope not allowed", change: func(q url.Values) { q.Set("scope", "openid admin:clients:read") },
			wantErr: CodeInvalidScope, wantDesc: "not allowed for this client"},
		{name: "scope empty", change: func(q url.Values) { q.Set("scope", " ") },
			wantErr: CodeInvalidScope, wantDesc: "scope is empty"},
		{name: "prompt none with login", change: func(q url.Values) { q.Set("prompt", "none login") },
			wantErr: CodeInvalidRequest, wantDesc: "cannot be combined"},
		{name: "prompt unknown", change: func(q url.Values) { q.Set("prompt", "create") },
			wantErr: CodeInvalidRequest, wantDesc: `prompt "create"`},
		{name: "max_age negative", change: func(q url.Values) { q.Set("max_age", "-1") },
			wantErr: CodeInvalidRequest, wantDesc: "max_age"},
		{name: "max_age not a number", change: func(q url.Values) { q.Set("max_age", "1h") },
			wantErr: CodeInvalidRequest, wantDesc: "max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			q := authorizeRequest(tt.change)
			o := readOutcome(t, g.browse(http.MethodGet, PathAuthorize, q, "", nil))
			switch {
			case tt.wantPage == http.StatusOK:
				if o.status != http.StatusOK || o.page != "login" {
					t.Fatalf("status %d, %s page, location %v; want the login page", o.status, o.page, o.location)
				}
			case tt.wantPage != 0:
				if o.location != nil {
					t.Fatalf("redirected to %s; an error about the client or redirect_uri must not redirect", o.location)
				}
				if o.status != tt.wantPage || !strings.Contains(o.body, tt.wantDesc) {
					t.Fatalf("status %d, want %d with %q:\n%.600s", o.status, tt.wantPage, tt.wantDesc, o.body)
				}
			default:
				o.wantRedirect(t, q.Get("redirect_uri"), tt.wantErr, tt.wantDesc)
			}
			if n := len(g.store.codes); n != 0 {
				t.Errorf("%d codes issued", n)
			}
		})
	}
}

// Once the request is valid: the login, the consent (skipped for a first-party client and
// for scopes the user consented to before) and prompt/max_age decide between a page, an
// error redirect and a code.
func TestAuthorizeSessionAndConsent(t *testing.T) {
	const (
		noSession = iota
		freshSession
		oldSession     // began two hours ago
		expiredSession // its expiry has passed
		disabledUser
	)
	tests := []struct {
		name      string
		session   int
		consented []string
		change    func(url.Values)
		wantPage  string // "login" or "consent"; "" for a redirect
		wantErr   string // the redirect's error; "" for a code
		wantDesc  string
	}{
		{name: "not logged in", session: noSession, wantPage: "login"},
		{name: "not logged in, prompt=none", session: noSession, change: func(q url.Values) { q.Set("prompt", "none") },
			wantErr: CodeLoginRequired},
		{name: "expired session", session: expiredSession, wantPage: "login"},
		{name: "expired session, prompt=none", session: expiredSession, change: func(q url.Values) { q.Set("prompt", "none") },
			wantErr: CodeLoginRequired},
		{name: "disabled user", session: disabledUser, wantPage: "login"},
		{name: "logged in, no consent yet", session: freshSession, wantPage: "consent"},
		{name: "no consent, prompt=none", session: freshSession, change: func(q url.Values) { q.Set("prompt", "none") },
			wantErr: CodeConsentRequired},
		{name: "consented before", session: freshSession, consented: []string{"openid", "orders:read"}},
		{name: "consented before, prompt=none", session: freshSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("prompt", "none") }},
		{name: "consented to fewer scopes", session: freshSession, consented: []string{"openid"}, wantPage: "consent"},
		{name: "consented, prompt=consent", session: freshSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("prompt", "consent") }, wantPage: "consent"},
		{name: "consented, prompt=login", session: freshSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("prompt", "login") }, wantPage: "login"},
		{name: "select_account asks to log in", session: freshSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("prompt", "select_account") }, wantPage: "login"},
		{name: "max_age exceeded", session: oldSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("max_age", "3600") }, wantPage: "login"},
		{name: "max_age exceeded, prompt=none", session: oldSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("max_age", "3600"); q.Set("prompt", "none") }, wantErr: CodeLoginRequired},
		{name: "max_age met", session: oldSession, consented: []string{"openid", "orders:read"},
			change: func(q url.Values) { q.Set("max_age", "86400") }},
		{name: "first party: no consent page", session: freshSession,
			change: func(q url.Values) { q.Set("client_id", "first") }},
		{name: "first party, the other redirect URI", session: freshSession,
			change: func(q url.Values) { q.Set("client_id", "first"); q.Set("redirect_uri", pageOtherRedirect) }},
		{name: "admin scope for a user who is not admin", session: freshSession,
			change:  func(q url.Values) { q.Set("client_id", "first"); q.Set("scope", "openid admin:clients:read") },
			wantErr: CodeInvalidScope, wantDesc: "needs an admin user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			cookie := ""
			switch tt.session {
			case freshSession:
				cookie = g.startSession(time.Minute)
			case oldSession:
				cookie = g.startSession(2 * time.Hour)
			case expiredSession:
				cookie = g.startSession(time.Minute)
				g.now = g.now.Add(2 * time.Hour)
			case disabledUser:
				cookie = g.startSession(time.Minute)
				g.store.users[aliceID].Disabled = true
			}
			if tt.consented != nil {
				if err := g.store.GrantConsent(t.Context(), aliceID, "web", tt.consented); err != nil {
					t.Fatal(err)
				}
			}
			q := authorizeRequest(tt.change)
			o := readOutcome(t, g.browse(http.MethodGet, PathAuthorize, q, cookie, nil))
			if tt.wantPage != "" {
				if o.status != http.StatusOK || o.page != tt.wantPage {
					t.Fatalf("status %d, %s page, location %v; want the %s page", o.status, o.page, o.location, tt.wantPage)
				}
				if tt.wantPage == "consent" && !strings.Contains(o.body, "Read your orders") {
					t.Errorf("the consent page does not describe orders:read:\n%.800s", o.body)
				}
				return
			}
			o.wantRedirect(t, q.Get("redirect_uri"), tt.wantErr, tt.wantDesc)
			if tt.wantErr != "" {
				return
			}
			// The code is stored as the token request will check it.
			c, ok := g.store.codes[string(credentials.HashToken(o.params.Get("code")))]
			if !ok {
				t.Fatal("the code in the redirect is not stored")
			}
			if c.ClientID != q.Get("client_id") || c.UserID != aliceID || c.RedirectURI != q.Get("redirect_uri") ||
				c.CodeChallenge != rfc7636Challenge || c.Nonce != "n-1" || strings.Join(c.Scopes, " ") != q.Get("scope") {
				t.Errorf("stored code %+v does not match the request %v", c, q)
			}
			if !c.ExpiresAt.After(g.now) {
				t.Errorf("the code expires at %v, now is %v", c.ExpiresAt, g.now)
			}
		})
	}
}

// consentForm is the consent page's form post for the request q.
func (g *grantTest) consentForm(q url.Values, decision, csrf string) url.Values {
	f := url.Values{}
	for k, v := range q {
		f[k] = v
	}
	f.Set("action", "consent")
	f.Set("consent", decision)
	f.Set("csrf_token", csrf)
	return f
}

// The consent form: approving records the consent (the next request skips the page),
// denying sends access_denied, and a post that fails the CSRF checks is refused.
func TestAuthorizeConsentForm(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		csrf     func(g *grantTest) string
		header   http.Header
		wantCode int    // a page of this status, or 0 for a redirect
		wantErr  string // the redirect's error; "" for a code
	}{
		{name: "approve", decision: "approve", csrf: validConsentCSRF},
		{name: "approve from our own origin", decision: "approve", csrf: validConsentCSRF,
			header: http.Header{"Origin": {fuzzIssuer}, "Sec-Fetch-Site": {"same-origin"}}},
		{name: "deny", decision: "deny", csrf: validConsentCSRF, wantErr: CodeAccessDenied},
		{name: "no CSRF token", decision: "approve", csrf: func(*grantTest) string { return "" }, wantCode: http.StatusForbidden},
		{name: "token of another form", decision: "approve", wantCode: http.StatusForbidden,
			csrf: func(g *grantTest) string {
				return g.p.sessionCSRF(csrfLogout, &store.Session{Hash: credentials.HashToken(pageSession)})
			}},
		{name: "cross-site post", decision: "approve", csrf: validConsentCSRF, wantCode: http.StatusForbidden,
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{name: "another origin", decision: "approve", csrf: validConsentCSRF, wantCode: http.StatusForbidden,
			header: http.Header{"Origin": {"https://evil.example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			cookie := g.startSession(time.Minute)
			q := authorizeRequest(nil)
			form := g.consentForm(q, tt.decision, tt.csrf(g))
			o := readOutcome(t, g.browse(http.MethodPost, PathAuthorize, form, cookie, tt.header))
			consented, _ := g.store.ConsentedScopes(t.Context(), aliceID, "web")
			if tt.wantCode != 0 {
				if o.location != nil || o.status != tt.wantCode {
					t.Fatalf("status %d, location %v; want %d", o.status, o.location, tt.wantCode)
				}
				if len(consented) != 0 {
					t.Errorf("a refused form recorded consent to %v", consented)
				}
				return
			}
			o.wantRedirect(t, grantRedirect, tt.wantErr, "")
			if o.status != http.StatusSeeOther {
				t.Errorf("status %d after a form post, want 303 (the browser must GET the client)", o.status)
			}
			if tt.wantErr != "" {
				if len(consented) != 0 {
					t.Errorf("a denial recorded consent to %v", consented)
				}
				return
			}
			if strings.Join(consented, " ") != "openid orders:read" {
				t.Errorf("consented scopes %v, want [openid orders:read]", consented)
			}
			// The next request of the same scopes skips the consent page.
			again := readOutcome(t, g.browse(http.MethodGet, PathAuthorize, q, cookie, nil))
			again.wantRedirect(t, grantRedirect, "", "")
		})
	}
}

func validConsentCSRF(g *grantTest) string {
	return g.p.sessionCSRF(csrfConsent, &store.Session{Hash: credentials.HashToken(pageSession)})
}

// The login form: the right password starts a session (a new cookie) and goes on to the
// consent or the code; a wrong one shows the form again with 401; a post without the
// login binding cookie's token is refused.
func TestAuthorizeLoginForm(t *testing.T) {
	tests := []struct {
		name       string
		client     string
		username   string
		password   string
		withToken  bool
		wantStatus int
		wantPage   string // "" for a redirect with a code
	}{
		{name: "third party: consent next", client: "web", username: "alice", password: alicePassword, withToken: true,
			wantStatus: http.StatusOK, wantPage: "consent"},
		{name: "first party: code", client: "first", username: "alice@example.com", password: alicePassword, withToken: true,
			wantStatus: http.StatusSeeOther},
		{name: "wrong password", client: "web", username: "alice", password: "wrong", withToken: true,
			wantStatus: http.StatusUnauthorized, wantPage: "login"},
		{name: "unknown user", client: "web", username: "mallory", password: alicePassword, withToken: true,
			wantStatus: http.StatusUnauthorized, wantPage: "login"},
		{name: "no CSRF token", client: "first", username: "alice", password: alicePassword,
			wantStatus: http.StatusForbidden, wantPage: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			q := authorizeRequest(func(q url.Values) { q.Set("client_id", tt.client) })
			// The login page sets the login binding cookie its form's token is bound to.
			page := g.browse(http.MethodGet, PathAuthorize, q, "", nil)
			var binding *http.Cookie
			for _, c := range page.Result().Cookies() {
				if c.Name == g.p.csrfCookie {
					binding = c
				}
			}
			if binding == nil {
				t.Fatalf("the login page set no %s cookie", g.p.csrfCookie)
			}
			form := url.Values{}
			for k, v := range q {
				form[k] = v
			}
			form.Set("action", "login")
			form.Set("username", tt.username)
			form.Set("password", tt.password)
			if tt.withToken {
				form.Set("csrf_token", g.p.csrfMAC(csrfLogin, []byte(binding.Value)))
			}
			w := g.browse(http.MethodPost, PathAuthorize, form, "", http.Header{"Cookie": {binding.Name + "=" + binding.Value}})
			o := readOutcome(t, w)
			if o.status != tt.wantStatus || o.page != tt.wantPage {
				t.Fatalf("status %d, %q page, location %v; want %d %q", o.status, o.page, o.location, tt.wantStatus, tt.wantPage)
			}
			var session *http.Cookie
			for _, c := range w.Result().Cookies() {
				if c.Name == g.p.sessionCookie {
					session = c
				}
			}
			loggedIn := tt.wantPage == "" || tt.wantPage == "consent"
			if got := g.store.sessionCount(); (session != nil) != loggedIn || got != map[bool]int{true: 1}[loggedIn] {
				t.Fatalf("session cookie %v, %d sessions stored; logged in: %v", session, got, loggedIn)
			}
			if !loggedIn {
				return
			}
			if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax", session)
			}
			if tt.wantPage == "" {
				o.wantRedirect(t, grantRedirect, "", "")
			}
		})
	}
}
