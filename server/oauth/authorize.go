/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// authorizeParams are the request parameters the login and consent forms carry along, in
// the order they are rendered.
var authorizeParams = []string{
	"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "response_mode",
}

// authRequest is a validated authorization request.
type authRequest struct {
	form        form
	client      *store.Client
	redirectURI string
	state       string
	scopes      []string
	prompt      map[string]bool
	maxAge      time.Duration // -1 when not given
}

// authorize is the authorization endpoint (RFC 6749 section 3.1 and 4.1, OAuth 2.1, OIDC
// Core 3.1.2). GET starts the flow; the login and consent forms POST back here with the
// original parameters and an action.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := parseForm(w, r, r.Method != http.MethodPost)
	if err != nil {
		p.renderError(w, asError(err).HTTPStatus(), asError(err))
		return
	}
	req, pageErr, redirectErr := p.validateAuthorize(ctx, f)
	if pageErr != nil {
		p.authorizationOutcome("unknown", "error")
		status := http.StatusBadRequest
		if pageErr.Status != 0 {
			status = pageErr.Status // 503 while the database is unreachable
		}
		prepareError(w, pageErr)
		p.renderError(w, status, pageErr)
		return
	}
	if redirectErr != nil {
		p.authorizationOutcome(req.client.Type, "error")
		p.redirectError(w, r, req, redirectErr)
		return
	}
	p.continueAuthorize(w, r, req)
}

// validateAuthorize checks a request. Errors about the client or redirect URI come back as
// pageErr (shown, never redirected to); the others as redirectErr, sent to the client.
func (p *Provider) validateAuthorize(ctx context.Context, f form) (req *authRequest, pageErr, redirectErr *Error) {
	clientID := f.get("client_id")
	if clientID == "" {
		return nil, newError(CodeInvalidRequest, "client_id is required"), nil
	}
	client, err := p.clients.Client(ctx, clientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput) {
			return nil, wrapError(CodeInvalidClient, "unknown client", err), nil
		}
		e := errDatabaseUnavailable(err)
		if !errors.Is(err, store.ErrUnavailable) {
			p.log.ErrorContext(ctx, "authorize: client lookup", "error", err)
			e = wrapError(CodeTemporarilyUnavailable, "the server cannot handle the request now; try again", err)
		}
		e.Status = http.StatusServiceUnavailable
		return nil, e, nil
	}
	redirectURI := f.get("redirect_uri")
	switch {
	case redirectURI == "" && len(client.RedirectURIs) == 1:
		redirectURI = client.RedirectURIs[0]
	case redirectURI == "":
		return nil, newError(CodeInvalidRequest, "redirect_uri is required"), nil
	case !contains(client.RedirectURIs, redirectURI):
		// Exact string comparison (OAuth 2.1 section 2.3.1): no prefix or pattern match.
		return nil, newError(CodeInvalidRequest, "redirect_uri is not registered for this client"), nil
	}
	req = &authRequest{form: f, client: client, redirectURI: redirectURI, state: f.get("state"), maxAge: -1}
	if f.has("request") || f.has("request_uri") {
		return req, nil, newError("request_not_supported", "request objects are not supported")
	}
	switch f.get("response_type") {
	case "code":
	case "":
		return req, nil, newError(CodeInvalidRequest, "response_type is required")
	default:
		return req, nil, newError(CodeUnsupportedResponseType, "only response_type=code is supported")
	}
	if rm := f.get("response_mode"); rm != "" && rm != "query" {
		return req, nil, newError(CodeInvalidRequest, "only response_mode=query is supported")
	}
	if !client.HasGrantType(GrantAuthorizationCode) {
		return req, nil, newError(CodeUnauthorizedClient, "the client may not use the authorization_code grant")
	}
	challenge := f.get("code_challenge")
	if challenge == "" {
		return req, nil, newError(CodeInvalidRequest, "code_challenge is required (PKCE, RFC 7636)")
	}
	if m := f.get("code_challenge_method"); m != "S256" {
		return req, nil, newError(CodeInvalidRequest, "code_challenge_method must be S256")
	}
	if !credentials.ValidChallenge(challenge) {
		return req, nil, newError(CodeInvalidRequest, "code_challenge must be 43 characters of base64url")
	}
	req.scopes, err = p.grantableScopes(client, nil, f.get("scope"), f.has("scope"))
	if err != nil {
		return req, nil, asError(err)
	}
	req.prompt = map[string]bool{}
	for _, v := range strings.Fields(f.get("prompt")) {
		switch v {
		case "none", "login", "consent":
			req.prompt[v] = true
		case "select_account":
			req.prompt["login"] = true
		default:
			return req, nil, newError(CodeInvalidRequest, "prompt "+quote(v)+" is not supported")
		}
	}
	if req.prompt["none"] && len(req.prompt) > 1 {
		return req, nil, newError(CodeInvalidRequest, "prompt=none cannot be combined with other values")
	}
	if s := f.get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return req, nil, newError(CodeInvalidRequest, "max_age must be a non-negative integer")
		}
		req.maxAge = time.Duration(n) * time.Second
	}
	return req, nil, nil
}

// continueAuthorize runs the login and consent steps and issues the code.
func (p *Provider) continueAuthorize(w http.ResponseWriter, r *http.Request, req *authRequest) {
	ctx := r.Context()
	now := p.now()
	session, user, err := p.currentSession(ctx, r, now)
	if err != nil {
		p.failAuthorize(w, r, req, err)
		return
	}
	action := ""
	if r.Method == http.MethodPost {
		// A post with an action is one of our forms; without, an authorization request
		// that a client sent as a form post (OIDC Core 3.1.2.1), checked like a GET.
		action = r.PostForm.Get("action")
		if action != "" && !p.validAuthorizeForm(r, action, session) {
			p.renderError(w, http.StatusForbidden, errForgedForm)
			return
		}
	}
	freshLogin := false
	if action == "login" {
		login := r.PostForm.Get("username")
		u, err := p.checkPassword(ctx, login, r.PostForm.Get("password"))
		if err != nil {
			e, status := p.loginFailure(ctx, w, "login", err)
			p.authorizationOutcome(req.client.Type, "denied")
			p.renderLogin(w, r, req, login, e.Description, status)
			return
		}
		if session, err = p.startSession(w, r, u, now); err != nil {
			p.failAuthorize(w, r, req, err)
			return
		}
		user, freshLogin = u, true
	}

	needLogin := user == nil ||
		(req.prompt["login"] && !freshLogin) ||
		(req.maxAge >= 0 && now.Sub(session.AuthTime) > req.maxAge && !freshLogin)
	if needLogin {
		if req.prompt["none"] {
			p.authorizationOutcome(req.client.Type, "error")
			p.redirectError(w, r, req, newError(CodeLoginRequired, "the user is not logged in"))
			return
		}
		p.renderLogin(w, r, req, req.form.get("login_hint"), "", http.StatusOK)
		return
	}

	// Now that the user is known, admin scopes are checked against them.
	scopes, err := p.grantableScopes(req.client, user, req.form.get("scope"), req.form.has("scope"))
	if err != nil {
		p.redirectError(w, r, req, asError(err))
		return
	}
	req.scopes = scopes

	if action == "consent" {
		if r.PostForm.Get("consent") != "approve" {
			p.authorizationOutcome(req.client.Type, "denied")
			p.redirectError(w, r, req, newError(CodeAccessDenied, "the user denied the request"))
			return
		}
		if err := p.store.GrantConsent(ctx, user.ID, req.client.ID, req.scopes); err != nil {
			p.failAuthorize(w, r, req, err)
			return
		}
	} else if !req.client.FirstParty {
		consented, err := p.store.ConsentedScopes(ctx, user.ID, req.client.ID)
		if err != nil {
			p.failAuthorize(w, r, req, err)
			return
		}
		if req.prompt["consent"] || !containsAll(consented, req.scopes) {
			if req.prompt["none"] {
				p.authorizationOutcome(req.client.Type, "error")
				p.redirectError(w, r, req, newError(CodeConsentRequired, "the user has not consented"))
				return
			}
			p.renderConsent(w, r, req, user, session)
			return
		}
	}
	p.issueCode(w, r, req, user, session.AuthTime)
}

func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, user *store.User, authTime time.Time) {
	now := p.now()
	code, err := credentials.NewToken(p.rand)
	if err != nil {
		p.failAuthorize(w, r, req, err)
		return
	}
	// The code records the redirect_uri parameter as the request had it, empty when it was
	// omitted (one registered URI): RFC 6749 section 4.1.3 requires the token request to
	// repeat it exactly when it was given, and not otherwise.
	err = p.store.CreateAuthorizationCode(r.Context(), &store.AuthorizationCode{
		Hash:          credentials.HashToken(code),
		ClientID:      req.client.ID,
		UserID:        user.ID,
		RedirectURI:   req.form.get("redirect_uri"),
		Scopes:        req.scopes,
		Nonce:         req.form.get("nonce"),
		CodeChallenge: req.form.get("code_challenge"),
		AuthTime:      authTime,
		ExpiresAt:     now.Add(p.cfg.CodeTTL),
		CreatedAt:     now,
	})
	if err != nil {
		p.failAuthorize(w, r, req, err)
		return
	}
	p.authorizationOutcome(req.client.Type, "success")
	p.redirect(w, r, req, url.Values{"code": {code}})
}

// redirect sends the user agent back to the client with the response parameters, the
// state and the issuer (RFC 9207).
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values) {
	u, err := url.Parse(req.redirectURI)
	if err != nil {
		p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "redirect_uri is malformed"))
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	q.Set("iss", p.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the browser must GET the redirect URI
	}
	http.Redirect(w, r, u.String(), status)
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *Error) {
	params := url.Values{"error": {e.Code}}
	if e.Description != "" {
		params.Set("error_description", e.Description)
	}
	p.redirect(w, r, req, params)
}

// failAuthorize reports an internal failure to the client as server_error (RFC 6749
// section 4.1.2.1) and logs the cause, which the client does not see; an unreachable
// database as temporarily_unavailable, which the client may retry.
func (p *Provider) failAuthorize(w http.ResponseWriter, r *http.Request, req *authRequest, err error) {
	p.authorizationOutcome(req.client.Type, "error")
	if e := asError(err); e.dbDown {
		prepareError(w, e)
		p.redirectError(w, r, req, e)
		return
	}
	p.log.ErrorContext(r.Context(), "authorize", "client_id", req.client.ID, "error", err)
	p.redirectError(w, r, req, newError(CodeServerError, "the server could not complete the request"))
}

func (p *Provider) hiddenFields(req *authRequest) []hiddenField {
	var out []hiddenField
	for _, name := range authorizeParams {
		if v, ok := req.form[name]; ok {
			out = append(out, hiddenField{Name: name, Value: v})
		}
	}
	return out
}

func clientName(c *store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, req *authRequest, username, message string, status int) {
	p.render(w, status, "login", &pageData{
		Title: "Sign in", Action: PathAuthorize, ClientName: clientName(req.client),
		Username: username, Error: message, Hidden: p.hiddenFields(req), CSRF: p.loginCSRF(w, r),
	}, req.redirectURI)
}

func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, req *authRequest, user *store.User, session *store.Session) {
	p.render(w, http.StatusOK, "consent", &pageData{
		Title: "Allow access", Action: PathAuthorize, ClientName: clientName(req.client),
		Username: user.Username, Hidden: p.hiddenFields(req), CSRF: p.sessionCSRF(csrfConsent, session),
		Scopes: p.scopeViews(r.Context(), req.scopes),
	}, req.redirectURI)
}

// scopeViews describes scopes for a consent page: the built-in ones by their text, the
// registered ones by their description.
func (p *Provider) scopeViews(ctx context.Context, scopes []string) []scopeView {
	views := make([]scopeView, 0, len(scopes))
	for _, s := range scopes {
		v := scopeView{Name: s, Description: builtinScopeDescriptions[s]}
		if v.Description == "" {
			if sc, err := p.store.GetScope(ctx, s); err == nil {
				v.Description = sc.Description
			}
		}
		views = append(views, v)
	}
	return views
}

var builtinScopeDescriptions = map[string]string{
	"openid":         "Sign you in with your account",
	"profile":        "See your name and username",
	"email":          "See your email address",
	ScopeGroups:      "See the groups you belong to",
	"offline_access": "Keep access while you are away",
}

// currentSession returns the login session of the request's cookie, if it is valid. It
// fails only when the database cannot tell: "not logged in" would send a prompt=none
// request back with login_required, and its client would sign the user out.
func (p *Provider) currentSession(ctx context.Context, r *http.Request, now time.Time) (*store.Session, *store.User, error) {
	value := cookieValue(r, p.sessionCookie)
	if value == "" {
		return nil, nil, nil
	}
	s, err := p.store.GetSession(ctx, credentials.HashToken(value), now)
	if err != nil {
		return nil, nil, onlyUnavailable(err) // else no valid session: the user logs in
	}
	u, err := p.store.GetUser(ctx, s.UserID)
	if err != nil {
		return nil, nil, onlyUnavailable(err)
	}
	if u.Disabled {
		return nil, nil, nil
	}
	return s, u, nil
}

// cookieValue is the value of the request's cookie of that name, "" without one.
func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// onlyUnavailable keeps err if it says the database cannot be reached, and drops it
// otherwise.
func onlyUnavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return nil
}

func (p *Provider) startSession(w http.ResponseWriter, r *http.Request, u *store.User, now time.Time) (*store.Session, error) {
	value, err := credentials.NewToken(p.rand)
	if err != nil {
		return nil, err
	}
	s := &store.Session{
		Hash: credentials.HashToken(value), UserID: u.ID, AuthTime: now,
		ExpiresAt: now.Add(p.cfg.SessionTTL), CreatedAt: now,
		UserAgent: truncateText(r.UserAgent(), 256), RemoteIP: remoteIP(r),
	}
	if err := p.store.CreateSession(r.Context(), s); err != nil {
		return nil, err
	}
	// Replace any earlier session of this browser (session fixation).
	if old, err := r.Cookie(p.sessionCookie); err == nil && old.Value != "" {
		_ = p.store.DeleteSession(r.Context(), credentials.HashToken(old.Value))
	}
	http.SetCookie(w, p.cookie(p.sessionCookie, value, int(p.cfg.SessionTTL/time.Second)))
	return s, nil
}

func (p *Provider) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secureCookies(p.cfg.Issuer), SameSite: http.SameSiteLaxMode,
	}
}

// errForgedForm answers a form post that fails the CSRF checks.
var errForgedForm = newError(CodeAccessDenied, "the form expired or was not sent by this site; go back and try again")

// validAuthorizeForm checks a post of the login or consent form: from our own origin, with
// the token of its form (see csrf.go).
func (p *Provider) validAuthorizeForm(r *http.Request, action string, session *store.Session) bool {
	if p.crossSitePost(r) {
		return false
	}
	switch action {
	case "login":
		return p.validLoginCSRF(r)
	case "consent":
		return p.validSessionCSRF(r, csrfConsent, session)
	}
	return false
}

// truncateText makes s storable text of at most n bytes: header values may hold any
// byte but control characters, and Postgres refuses invalid UTF-8, which a cut through a
// multi-byte character would also make.
func truncateText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") // without the character cut in two
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// remoteIP is the client address the server sees; the server's middleware has already
// replaced RemoteAddr with X-Forwarded-For when the peer is a trusted proxy.
func remoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// loginFailure is the answer to a sign-in that failed (what names the page in the log):
// the error the login form shows again, and its status, 401, or 503 with Retry-After when
// the database is down, in which case the form says to retry and the user keeps what they
// typed but the password.
func (p *Provider) loginFailure(ctx context.Context, w http.ResponseWriter, what string, err error) (*Error, int) {
	e := asError(err)
	if e.Code == CodeServerError {
		p.log.ErrorContext(ctx, what, "error", err)
	}
	if e.dbDown {
		prepareError(w, e)
		return e, e.HTTPStatus()
	}
	return e, http.StatusUnauthorized
}
