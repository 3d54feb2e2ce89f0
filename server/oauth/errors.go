/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/authly-dev/authly-operator/server/store"
)

// Error codes of RFC 6749 section 4.1.2.1 and 5.2, RFC 6750 section 3.1, RFC 7009 and OIDC
// Core section 3.1.2.6: the values of Error.Code, not errors themselves.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeInvalidToken            = "invalid_token"
	CodeInsufficientScope       = "insufficient_scope"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	// RFC 8628 section 3.5, the device_code grant's answers while it waits; slow_down,
	// like them, is a 400.
	CodeSlowDown             = "slow_down"
	CodeAuthorizationPending = "authorization_pending"
	CodeExpiredToken         = "expired_token"
)

// Error is an OAuth error response: the RFC error code is a field, so callers decide by
// comparing codes, never by matching strings.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status; zero means the RFC default for the code.
	Status int
	// retryAfter, in whole seconds, is sent as Retry-After (rate limits, database down).
	retryAfter int
	// param names the request parameter at fault, when one is.
	param string
	// dbDown marks an answer refused because the database cannot be reached; such
	// answers are counted (Hooks.DatabaseUnavailable).
	dbDown bool
	// cause is why the request failed, for logs: a store error, say. It is never sent to
	// the client, whose answer is Code and Description alone.
	cause error
}

// unavailableRetryAfter is the Retry-After, in seconds, of answers refused while the
// database cannot be reached: long enough not to hammer it, short enough that a client
// gets through soon after it is back.
const unavailableRetryAfter = 5

// errDatabaseUnavailable answers a request that needs the database while it is unreachable.
// cause is the store's error that says so.
func errDatabaseUnavailable(cause error) *Error {
	return &Error{
		Code: CodeTemporarilyUnavailable, Description: "the service is temporarily unavailable; try again in a few seconds",
		retryAfter: unavailableRetryAfter, dbDown: true, cause: cause,
	}
}

// Error is the code and description, followed by the cause when there is one: the text
// for logs, which the client never gets (writeError sends Code and Description).
func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the cause, so that errors.Is and errors.As see through the OAuth error
// to, say, the store's error.
func (e *Error) Unwrap() error { return e.cause }

// HTTPStatus is the status code the error is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case CodeInvalidClient, CodeInvalidToken:
		return http.StatusUnauthorized
	case CodeInsufficientScope, CodeAccessDenied:
		return http.StatusForbidden
	case CodeServerError:
		return http.StatusInternalServerError
	case CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func newError(code, description string) *Error { return &Error{Code: code, Description: description} }

// wrapError is newError that keeps why the request failed (cause, typically a store
// error) for logs.
func wrapError(code, description string, cause error) *Error {
	return &Error{Code: code, Description: description, cause: cause}
}

// asError turns any error into an *Error: the store's ErrUnavailable becomes
// temporarily_unavailable (503 with Retry-After), its ErrInvalidInput invalid_request (a
// value the edge checks should have refused), and unknown errors server_error without
// their text, which may carry internals. The converted error keeps err as its cause.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrUnavailable):
		return errDatabaseUnavailable(err)
	case errors.Is(err, store.ErrInvalidInput):
		return wrapError(CodeInvalidRequest, "a parameter holds a value the server cannot process", err)
	}
	return wrapError(CodeServerError, "internal error", err)
}

// prepareError sets what every error answer, JSON or page, carries besides its body:
// Retry-After, and the mark by which Register's wrapper counts answers refused because
// the database is unreachable.
func prepareError(w http.ResponseWriter, e *Error) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if t, ok := w.(*trackedWriter); ok && e.dbDown {
		t.dbDown = true
	}
}

// trackedWriter is the ResponseWriter the endpoints get from Register: it remembers
// whether the answer was refused because the database is unreachable.
type trackedWriter struct {
	http.ResponseWriter
	dbDown bool
}

// Unwrap gives http.ResponseController the underlying writer.
func (t *trackedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// track serves h, counting its answers refused because the database is unreachable under
// endpoint.
func (p *Provider) track(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	if p.hooks.DatabaseUnavailable == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		t := &trackedWriter{ResponseWriter: w}
		h(t, r)
		if t.dbDown {
			p.hooks.DatabaseUnavailable(endpoint)
		}
	}
}

type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeError sends an RFC 6749 section 5.2 error response.
func writeError(w http.ResponseWriter, err error) {
	e := asError(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	// invalid_client is a 401 (RFC 6749 section 5.2), and every 401 carries a challenge
	// (RFC 9110 section 15.5.2), whether the client tried HTTP Basic, the body or nothing.
	if e.Code == CodeInvalidClient && e.HTTPStatus() == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Basic realm="authly", charset="UTF-8"`)
	}
	prepareError(w, e)
	w.WriteHeader(e.HTTPStatus())
	_ = json.NewEncoder(w).Encode(errorBody{Error: e.Code, ErrorDescription: e.Description})
}

// writeBearerError answers a protected-resource request (RFC 6750 section 3).
func writeBearerError(w http.ResponseWriter, e *Error) {
	challenge := `Bearer realm="authly"`
	if e.Code != "" {
		challenge += `, error="` + e.Code + `"`
		if e.Description != "" {
			challenge += `, error_description="` + sanitizeQuoted(e.Description) + `"`
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, e)
}

// sanitizeQuoted keeps a description inside a quoted-string of an HTTP header.
func sanitizeQuoted(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// writeJSON sends a successful JSON response that must not be cached (tokens, userinfo).
func writeJSON(w http.ResponseWriter, status int, v any) {
	if a, ok := v.(jsonAppender); ok {
		writeAppended(w, status, a)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
