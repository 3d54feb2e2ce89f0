/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// The device authorization grant (RFC 8628): a device without a browser (a CLI, a TV)
// asks the device authorization endpoint for a device code and a user code, shows the
// user code and the verification page's address, and polls the token endpoint with the
// device code (token_device.go). On the verification page, in a browser elsewhere, the
// user types the user code, signs in (or is signed in already) and approves or denies.

// userCodeAlphabet is RFC 8628 section 6.1's: twenty consonants, so no 0/O or 1/I to
// confuse and no vowels to spell words. userCodeLen of them is 20^8, about 2^34.6, codes;
// with the guessing bounds (the page's per-address limit and Deps.UserCodes) that is what
// section 5.1 asks for.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
)

// newUserCode draws a user code, uniformly, by rejection sampling: bytes of 240 and above
// would make the first 16 letters likelier.
func newUserCode(rnd io.Reader) (string, error) {
	const limit = 256 - 256%len(userCodeAlphabet)
	out := make([]byte, 0, userCodeLen)
	buf := make([]byte, 2*userCodeLen)
	// Each byte is kept with probability 240/256: eight rounds of 16 bytes fall short of
	// eight letters about never.
	for range 8 {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
				if len(out) == userCodeLen {
					return string(out), nil
				}
			}
		}
	}
	return "", errors.New("oauth: the random source keeps giving unusable bytes")
}

// normalizeUserCode reads a user code as typed: letters of either case, with or without
// dashes and spaces. ok is false when it cannot be a user code of this server.
func normalizeUserCode(typed string) (code string, ok bool) {
	code = strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, typed)
	if len(code) != userCodeLen {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if !strings.ContainsRune(userCodeAlphabet, rune(code[i])) {
			return "", false
		}
	}
	return code, true
}

// displayUserCode writes a normalized user code as people read it: WDJB-MJHT.
func displayUserCode(code string) string { return code[:4] + "-" + code[4:] }

// userCodeHash is how a user code is stored: an HMAC under the server's CSRF key, which
// every replica shares. A plain hash of 2^34.6 possible codes would be reversed in
// minutes by whoever reads the table.
func (p *Provider) userCodeHash(code string) []byte {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte("authly-user-code-v1\x00"))
	m.Write([]byte(code))
	return m.Sum(nil)
}

type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// deviceAuthorization is the device authorization endpoint (RFC 8628 section 3.1). The
// client authenticates as at the token endpoint: a public client (a CLI) with none.
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	resp, err := p.startDeviceAuthorization(w, r)
	p.tokenOp("device_authorization", GrantDeviceCode, errorCode(err))
	if err != nil {
		if e := asError(err); e.Code == CodeServerError {
			p.log.ErrorContext(r.Context(), "device authorization endpoint", "error", err)
		} else {
			p.log.DebugContext(r.Context(), "device authorization endpoint refused the request", "error", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// deviceCodeAttempts bounds the draws of new codes when one collides with a stored one.
const deviceCodeAttempts = 3

func (p *Provider) startDeviceAuthorization(w http.ResponseWriter, r *http.Request) (*deviceAuthorizationResponse, error) {
	ctx := r.Context()
	f, err := parseClientForm(w, r)
	if err != nil {
		return nil, err
	}
	client, err := p.authenticateClient(ctx, r, f)
	if err != nil {
		return nil, err
	}
	if err := p.limitClient(client.ID); err != nil {
		return nil, err
	}
	if !client.HasGrantType(GrantDeviceCode) {
		return nil, newError(CodeUnauthorizedClient, "the client may not use the device_code grant")
	}
	// The user is not known yet: their admin scopes are checked on the verification page.
	scopes, err := p.grantableScopes(client, nil, f.get("scope"), f.has("scope"))
	if err != nil {
		return nil, err
	}
	now := p.now()
	for range deviceCodeAttempts {
		deviceCode, err := credentials.NewToken(p.rand)
		if err != nil {
			return nil, fmt.Errorf("device authorization: draw a device code: %w", err)
		}
		userCode, err := newUserCode(p.rand)
		if err != nil {
			return nil, fmt.Errorf("device authorization: draw a user code: %w", err)
		}
		err = p.store.CreateDeviceAuthorization(ctx, &store.DeviceAuthorization{
			DeviceCodeHash: credentials.HashToken(deviceCode), UserCodeHash: p.userCodeHash(userCode),
			ClientID: client.ID, Scopes: scopes, Interval: p.cfg.DevicePollInterval,
			ExpiresAt: now.Add(p.cfg.DeviceCodeTTL), CreatedAt: now,
		})
		if errors.Is(err, store.ErrConflict) {
			continue // a user code in use: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("device authorization: store the request: %w", err)
		}
		verification := p.cfg.Issuer + PathDevice
		display := displayUserCode(userCode)
		return &deviceAuthorizationResponse{
			DeviceCode:              deviceCode,
			UserCode:                display,
			VerificationURI:         verification,
			VerificationURIComplete: verification + "?" + url.Values{"user_code": {display}}.Encode(),
			ExpiresIn:               int64(p.cfg.DeviceCodeTTL / time.Second),
			// Whole seconds, rounded up as the store keeps it.
			Interval: int64((p.cfg.DevicePollInterval + time.Second - 1) / time.Second),
		}, nil
	}
	return nil, errors.New("oauth: no free user code after several draws")
}

// csrfDevice is the purpose of the device consent form's CSRF token, which is bound to the
// login session and to the user code it approves.
const csrfDevice = "device"

func (p *Provider) deviceCSRF(s *store.Session, userCodeHash []byte) string {
	binding := make([]byte, 0, len(s.Hash)+len(userCodeHash))
	return p.csrfMAC(csrfDevice, append(append(binding, s.Hash...), userCodeHash...))
}

// Messages of the verification page.
const (
	msgUserCodeFormat  = "That is not a code of this site: it has 8 letters, such as WDJB-MJHT."
	msgUserCodeUnknown = "That code is not valid, or it has expired or been used. Check the code your device shows, or start again on the device."
)

// device is the verification page (RFC 8628 section 3.3). GET shows the code form, or
// with user_code (verification_uri_complete) goes on as if that code was entered. Its
// forms post back here: the code (action=code), the login (action=login) and the
// decision (action=consent), each carrying the user code.
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := parseForm(w, r, r.Method != http.MethodPost)
	if err != nil {
		e := asError(err)
		p.renderError(w, e.HTTPStatus(), e)
		return
	}
	action := ""
	if r.Method == http.MethodPost {
		// Enter in the code field submits the form without its button in some browsers.
		if action = f.get("action"); action == "" {
			action = "code"
		}
		if action != "code" && action != "login" && action != "consent" {
			p.renderError(w, http.StatusBadRequest, newError(CodeInvalidRequest, "action "+quote(action)+" is not one of this page's"))
			return
		}
		if p.crossSitePost(r) {
			p.renderError(w, http.StatusForbidden, errForgedForm)
			return
		}
	}
	typed := f.get("user_code")
	if typed == "" {
		status := http.StatusOK
		if action != "" {
			status = http.StatusBadRequest
		}
		p.renderDeviceCode(w, r, "", "", status)
		return
	}
	code, ok := normalizeUserCode(typed)
	if !ok {
		p.renderDeviceCode(w, r, typed, msgUserCodeFormat, http.StatusBadRequest)
		return
	}
	now := p.now()
	session, user, err := p.currentSession(ctx, r, now)
	if err != nil {
		p.renderUnavailable(w, err)
		return
	}
	codeHash := p.userCodeHash(code)
	valid := true
	switch action {
	case "code", "login":
		valid = p.validLoginCSRF(r)
	case "consent":
		valid = session != nil && validMAC(p.deviceCSRF(session, codeHash), f.get("csrf_token"))
	}
	if !valid {
		p.renderError(w, http.StatusForbidden, errForgedForm)
		return
	}
	d, client, ok := p.lookUpUserCode(w, r, typed, codeHash, now)
	if !ok {
		return
	}
	if action == "login" {
		login := f.get("username")
		u, err := p.checkPassword(ctx, login, f.get("password"))
		if err != nil {
			e, status := p.loginFailure(ctx, w, "device login", err)
			p.renderDeviceLogin(w, r, client, code, login, e.Description, status)
			return
		}
		if session, err = p.startSession(w, r, u, now); err != nil {
			p.failDevicePage(w, r, err)
			return
		}
		user = u
	}
	if user == nil {
		p.renderDeviceLogin(w, r, client, code, "", "", http.StatusOK)
		return
	}
	// The user's scopes: admin ones only for admins, as at the authorization endpoint when
	// the request names none (the token response says which were granted).
	scopes := make([]string, 0, len(d.Scopes))
	for _, s := range d.Scopes {
		if user.Admin || !strings.HasPrefix(s, adminScopePrefix) {
			scopes = append(scopes, s)
		}
	}
	if action != "consent" {
		p.render(w, http.StatusOK, "consent", &pageData{
			Title: "Allow access", Action: PathDevice, ClientName: clientName(client), Username: user.Username,
			Hidden: []hiddenField{{Name: "user_code", Value: displayUserCode(code)}}, CSRF: p.deviceCSRF(session, codeHash),
			Scopes: p.scopeViews(ctx, scopes), UserCode: displayUserCode(code),
		}, "")
		return
	}
	approve := f.get("consent") == "approve"
	err = p.store.DecideDeviceAuthorization(ctx, store.DeviceDecision{
		UserCodeHash: codeHash, Approve: approve, UserID: user.ID, Scopes: scopes, AuthTime: session.AuthTime, Now: now,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// It expired, or another tab decided, while the page was shown.
		p.renderDeviceCode(w, r, typed, msgUserCodeUnknown, http.StatusBadRequest)
		return
	case err != nil:
		p.failDevicePage(w, r, err)
		return
	}
	if !approve {
		p.authorizationOutcome(client.Type, "denied")
		p.render(w, http.StatusOK, "message", &pageData{Title: "Request denied",
			Message: clientName(client) + " was not given access. You may close this window."}, "")
		return
	}
	p.authorizationOutcome(client.Type, "success")
	p.render(w, http.StatusOK, "message", &pageData{Title: "Device connected",
		Message: "You may close this window and return to " + clientName(client) + " on your device."}, "")
}

// lookUpUserCode finds the pending request of a user code and its client, within the
// guessing bound; otherwise it answers the page itself and ok is false.
func (p *Provider) lookUpUserCode(w http.ResponseWriter, r *http.Request, typed string, codeHash []byte, now time.Time) (d *store.DeviceAuthorization, client *store.Client, ok bool) {
	ctx := r.Context()
	if p.userCodes != nil {
		if allowed, retry := p.userCodes.AllowUserCode(); !allowed {
			secs := max(1, int((retry+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			p.renderDeviceCode(w, r, typed, "Too many codes were tried; try again in "+strconv.Itoa(secs)+" s.", http.StatusTooManyRequests)
			return nil, nil, false
		}
	}
	d, err := p.store.PendingDeviceAuthorization(ctx, codeHash, now)
	if err == nil {
		client, err = p.clients.Client(ctx, d.ClientID)
	}
	switch {
	case err == nil:
		return d, client, true
	case errors.Is(err, store.ErrNotFound):
		if d == nil && p.userCodes != nil {
			p.userCodes.UserCodeMissed()
		}
		p.renderDeviceCode(w, r, typed, msgUserCodeUnknown, http.StatusBadRequest)
	default:
		p.failDevicePage(w, r, err)
	}
	return nil, nil, false
}

// failDevicePage shows an internal failure: 503 while the database is unreachable, 500
// otherwise, the cause in the log only.
func (p *Provider) failDevicePage(w http.ResponseWriter, r *http.Request, err error) {
	if e := asError(err); e.dbDown {
		p.renderUnavailable(w, err)
		return
	}
	p.log.ErrorContext(r.Context(), "device verification page", "error", err)
	p.renderError(w, http.StatusInternalServerError, newError(CodeServerError, "the server could not complete the request"))
}

func (p *Provider) renderDeviceCode(w http.ResponseWriter, r *http.Request, typed, message string, status int) {
	p.render(w, status, "device", &pageData{
		Title: "Connect a device", Action: PathDevice, UserCode: typed, Error: message, CSRF: p.loginCSRF(w, r),
	}, "")
}

func (p *Provider) renderDeviceLogin(w http.ResponseWriter, r *http.Request, client *store.Client, code, username, message string, status int) {
	p.render(w, status, "login", &pageData{
		Title: "Sign in", Action: PathDevice, ClientName: clientName(client), Username: username, Error: message,
		Hidden: []hiddenField{{Name: "user_code", Value: displayUserCode(code)}}, CSRF: p.loginCSRF(w, r),
	}, "")
}
