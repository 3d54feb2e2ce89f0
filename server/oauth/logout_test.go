/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// idTokenHint is an ID token of this server for client and subject, already expired (a
// hint may be: it names the client and the user, nothing more).
func (g *grantTest) idTokenHint(client, subject string) string {
	g.t.Helper()
	issuer := &tokens.Issuer{Issuer: fuzzIssuer, Keys: g.p.keys, Clock: func() time.Time { return g.now.Add(-time.Hour) }}
	tok, err := issuer.IDToken(tokens.IDClaims{Subject: subject, ClientID: client, TTL: time.Minute}, "")
	if err != nil {
		g.t.Fatal(err)
	}
	return tok
}

// OIDC RP-Initiated Logout: the session ends at once only with an ID token hint of its
// user; otherwise the user confirms, with a form bound to the session. A redirect goes
// only to a post_logout_redirect_uri registered for the client the request names.
func TestLogout(t *testing.T) {
	const (
		signedOut = "Signed out"
		confirm   = "Sign out?"
		stayed    = "Still signed in"
	)
	otherUser := "0b4c3f3e-1d1b-4e8e-9d7e-3f2a6c1b9a77"
	tests := []struct {
		name    string
		method  string
		session bool
		params  func(g *grantTest) url.Values
		header  http.Header
		// wantStatus and wantPage (a phrase of the page) for a page; wantRedirect for a
		// redirect to pageLogoutTarget.
		wantStatus   int
		wantPage     string
		wantRedirect bool
		wantEnded    bool // the session is deleted and its cookie cleared
	}{
		{name: "no session, no parameters", method: http.MethodGet,
			params:     func(*grantTest) url.Values { return url.Values{} },
			wantStatus: http.StatusOK, wantPage: signedOut},
		{name: "session, no hint: confirm first", method: http.MethodGet, session: true,
			params:     func(*grantTest) url.Values { return url.Values{} },
			wantStatus: http.StatusOK, wantPage: confirm},
		{name: "session, client_id without a hint: confirm, naming the client", method: http.MethodGet, session: true,
			params: func(*grantTest) url.Values {
				return url.Values{"client_id": {"first"}, "post_logout_redirect_uri": {pageLogoutTarget}, "state": {"st-123"}}
			},
			wantStatus: http.StatusOK, wantPage: "First App"},
		{name: "hint of the session's user, with a registered target", method: http.MethodGet, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"id_token_hint": {g.idTokenHint("first", aliceID)}, "post_logout_redirect_uri": {pageLogoutTarget}, "state": {"st-123"}}
			},
			wantRedirect: true, wantEnded: true},
		{name: "hint of the session's user, no target", method: http.MethodGet, session: true,
			params:     func(g *grantTest) url.Values { return url.Values{"id_token_hint": {g.idTokenHint("first", aliceID)}} },
			wantStatus: http.StatusOK, wantPage: signedOut, wantEnded: true},
		{name: "hint of another user: confirm", method: http.MethodGet, session: true,
			params:     func(g *grantTest) url.Values { return url.Values{"id_token_hint": {g.idTokenHint("first", otherUser)}} },
			wantStatus: http.StatusOK, wantPage: confirm},
		{name: "hint of another client than client_id", method: http.MethodGet, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"id_token_hint": {g.idTokenHint("web", aliceID)}, "client_id": {"first"}}
			},
			wantStatus: http.StatusBadRequest, wantPage: "another client"},
		{name: "hint not an ID token of this server", method: http.MethodGet, session: true,
			params:     func(*grantTest) url.Values { return url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.e30."}} },
			wantStatus: http.StatusBadRequest, wantPage: "not an ID token"},
		{name: "target without a client", method: http.MethodGet, session: true,
			params:     func(*grantTest) url.Values { return url.Values{"post_logout_redirect_uri": {pageLogoutTarget}} },
			wantStatus: http.StatusBadRequest, wantPage: "needs client_id"},
		{name: "target not registered", method: http.MethodGet, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"id_token_hint": {g.idTokenHint("first", aliceID)}, "post_logout_redirect_uri": {pageLogoutTarget + "/x"}}
			},
			wantStatus: http.StatusBadRequest, wantPage: "not registered"},
		{name: "target of an unknown client", method: http.MethodGet, session: true,
			params: func(*grantTest) url.Values {
				return url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {pageLogoutTarget}}
			},
			wantStatus: http.StatusBadRequest, wantPage: "not registered"},
		{name: "confirmed", method: http.MethodPost, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"action": {"logout"}, "csrf_token": {validLogoutCSRF(g)},
					"client_id": {"first"}, "post_logout_redirect_uri": {pageLogoutTarget}, "state": {"st-123"}}
			},
			wantRedirect: true, wantEnded: true},
		{name: "confirmed without a target", method: http.MethodPost, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"action": {"logout"}, "csrf_token": {validLogoutCSRF(g)}}
			},
			wantStatus: http.StatusOK, wantPage: signedOut, wantEnded: true},
		{name: "confirmation without its token", method: http.MethodPost, session: true,
			params:     func(*grantTest) url.Values { return url.Values{"action": {"logout"}} },
			wantStatus: http.StatusForbidden},
		{name: "confirmation with the consent form's token", method: http.MethodPost, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"action": {"logout"}, "csrf_token": {validConsentCSRF(g)}}
			},
			wantStatus: http.StatusForbidden},
		{name: "confirmation from another site", method: http.MethodPost, session: true,
			params: func(g *grantTest) url.Values {
				return url.Values{"action": {"logout"}, "csrf_token": {validLogoutCSRF(g)}}
			},
			header:     http.Header{"Sec-Fetch-Site": {"same-site"}},
			wantStatus: http.StatusForbidden},
		{name: "confirmation after the session ended elsewhere", method: http.MethodPost,
			params:     func(*grantTest) url.Values { return url.Values{"action": {"logout"}} },
			wantStatus: http.StatusOK, wantPage: signedOut},
		{name: "stay signed in", method: http.MethodPost, session: true,
			params:     func(*grantTest) url.Values { return url.Values{"action": {"stay"}} },
			wantStatus: http.StatusOK, wantPage: stayed},
		{name: "unknown action", method: http.MethodPost, session: true,
			params:     func(*grantTest) url.Values { return url.Values{"action": {"everything"}} },
			wantStatus: http.StatusBadRequest, wantPage: "unknown action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newPageTest(t)
			cookie := ""
			if tt.session {
				cookie = g.startSession(time.Minute)
			}
			w := g.browse(tt.method, PathLogout, tt.params(g), cookie, tt.header)
			body := w.Body.String()
			if tt.wantRedirect {
				loc, err := url.Parse(w.Header().Get("Location"))
				if err != nil || w.Code/100 != 3 {
					t.Fatalf("status %d, Location %q; want a redirect:\n%.400s", w.Code, w.Header().Get("Location"), body)
				}
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != pageLogoutTarget || loc.Query().Get("state") != "st-123" {
					t.Errorf("redirected to %s, want %s with state st-123", loc, pageLogoutTarget)
				}
			} else {
				if w.Header().Get("Location") != "" {
					t.Fatalf("redirected to %s", w.Header().Get("Location"))
				}
				if w.Code != tt.wantStatus || !strings.Contains(body, tt.wantPage) {
					t.Fatalf("status %d, want %d with %q:\n%.800s", w.Code, tt.wantStatus, tt.wantPage, body)
				}
			}
			_, err := g.store.GetSession(t.Context(), credentials.HashToken(pageSession), g.now)
			if ended := err != nil; tt.session && ended != tt.wantEnded {
				t.Errorf("session ended: %v, want %v", ended, tt.wantEnded)
			}
			cleared := false
			for _, c := range w.Result().Cookies() {
				if c.Name == g.p.sessionCookie && c.MaxAge < 0 {
					cleared = true
				}
			}
			if tt.wantEnded && !cleared {
				t.Error("the session cookie is not cleared")
			}
			if !tt.wantEnded && tt.session && cleared {
				t.Error("the session cookie is cleared but the session goes on")
			}
		})
	}
}

func validLogoutCSRF(g *grantTest) string {
	return g.p.sessionCSRF(csrfLogout, &store.Session{Hash: credentials.HashToken(pageSession)})
}
