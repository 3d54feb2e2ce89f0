/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// logoutParams are the request parameters the logout confirmation carries along (the
// id_token_hint is not: it has done its part, and the page need not hold a token).
var logoutParams = []string{"client_id", "post_logout_redirect_uri", "state", "ui_locales"}

// logout is OIDC RP-Initiated Logout 1.0: it ends the login session and returns the user
// to a registered post_logout_redirect_uri, or shows a page. GET and POST take the same
// parameters (section 2).
//
// The session ends at once only when an id_token_hint shows that the client asking is one
// the signed-in user used: a valid ID token of this server whose subject is the session's
// user. Otherwise the user is asked first (section 2: the OP MUST ask when there is no
// id_token_hint or it does not belong to the current session), so that no other site can
// sign a user out with a link; the confirmation form posts back here with a CSRF token
// bound to the session. When client_id and id_token_hint are both sent, the token must have
// been issued to that client.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := parseForm(w, r, r.Method != http.MethodPost)
	if err != nil {
		p.renderError(w, asError(err).HTTPStatus(), asError(err))
		return
	}
	target := f.get("post_logout_redirect_uri")
	clientID := f.get("client_id")
	var hint idTokenHint
	hasHint := false
	if raw := f.get("id_token_hint"); raw != "" {
		// The hint may be expired: it names the client and the user, nothing more.
		if hint, hasHint = p.parseIDTokenHint(raw); !hasHint {
			p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "id_token_hint is not an ID token issued by this server"))
			return
		}
		if clientID != "" && clientID != hint.ClientID {
			p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "id_token_hint was issued to another client than client_id"))
			return
		}
		clientID = hint.ClientID
	}
	var client *store.Client
	if target != "" {
		if clientID == "" {
			p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "post_logout_redirect_uri needs client_id or id_token_hint"))
			return
		}
		client, err = p.clients.Client(ctx, clientID)
		if errors.Is(err, store.ErrUnavailable) {
			p.renderUnavailable(w, err)
			return
		}
		if err != nil || !contains(client.PostLogoutRedirectURIs, target) {
			p.renderError(w, http.StatusBadRequest, wrapError(CodeInvalidRequest, "post_logout_redirect_uri is not registered for this client", err))
			return
		}
	}

	action := ""
	if r.Method == http.MethodPost {
		action = f.get("action")
	}
	session, user, err := p.currentSession(ctx, r, p.now())
	if err != nil {
		p.renderUnavailable(w, err)
		return
	}
	switch action {
	case "":
		// A request from a client: ask unless the hint names this session's user.
		hintOfThisUser := hasHint && session != nil && hint.Subject == session.UserID
		if session != nil && !hintOfThisUser {
			p.renderLogoutConfirmation(ctx, w, f, clientID, client, target, user, session)
			return
		}
	case "logout":
		// The confirmation form. Without a session there is nothing left to end (it
		// expired, or another tab signed out), and the same redirect follows.
		if session != nil && (p.crossSitePost(r) || !p.validSessionCSRF(r, csrfLogout, session)) {
			p.renderError(w, http.StatusForbidden, errForgedForm)
			return
		}
	case "stay":
		p.render(w, http.StatusOK, "message", &pageData{Title: "Still signed in", Message: "You have not been signed out."}, "")
		return
	default:
		p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "unknown action"))
		return
	}
	p.endSession(ctx, w, r)
	if client != nil {
		p.redirect(w, r, &authRequest{client: client, redirectURI: target, state: f.get("state")}, nil)
		return
	}
	p.render(w, http.StatusOK, "message", &pageData{Title: "Signed out", Message: "You have been signed out."}, "")
}

// endSession deletes this browser's session, valid or not (a disabled user's session
// must not come back with the user), and its cookie.
func (p *Provider) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(p.sessionCookie); err == nil && c.Value != "" {
		if err := p.store.DeleteSession(ctx, credentials.HashToken(c.Value)); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.ErrorContext(ctx, "logout: delete session", "error", err)
		}
	}
	http.SetCookie(w, p.cookie(p.sessionCookie, "", -1))
}

// renderLogoutConfirmation asks the user whether to sign out. The form posts back to the
// logout endpoint, which may then redirect to target: the page's form-action allows it.
func (p *Provider) renderLogoutConfirmation(ctx context.Context, w http.ResponseWriter, f form, clientID string,
	client *store.Client, target string, user *store.User, session *store.Session) {
	if client == nil && clientID != "" {
		client, _ = p.clients.Client(ctx, clientID) // only for its name
	}
	data := &pageData{
		Title: "Sign out", Action: PathLogout, Username: user.Username,
		CSRF: p.sessionCSRF(csrfLogout, session),
	}
	if client != nil {
		data.ClientName = clientName(client)
	}
	for _, name := range logoutParams {
		v, ok := f[name]
		if name == "client_id" {
			v, ok = clientID, clientID != ""
		}
		if ok {
			data.Hidden = append(data.Hidden, hiddenField{Name: name, Value: v})
		}
	}
	p.render(w, http.StatusOK, "logout", data, target)
}
