/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// Error codes of the admin API. The bearer-token ones are RFC 6750's.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidToken         = "invalid_token"
	ErrInsufficientScope    = "insufficient_scope"
	ErrAccessDenied         = "access_denied"
	ErrNotFound             = "not_found"
	ErrConflict             = "conflict"
	ErrRequestTooLarge      = "request_too_large"
	ErrUnsupportedMediaType = "unsupported_media_type"
	ErrServerError          = "server_error"
	// ErrTemporarilyUnavailable: the database cannot be reached; retry after Retry-After.
	ErrTemporarilyUnavailable = "temporarily_unavailable"
)

// unavailableRetryAfter is the Retry-After, in seconds, of answers refused while the
// database cannot be reached.
const unavailableRetryAfter = "5"

// Error is an admin API error response. Field names the request field at fault (JSON
// names with indexes: "redirect_uris[0]"); when several are, Fields lists them all and
// Field is the first.
type Error struct {
	Status      int            `json:"-"`
	Code        string         `json:"error"`
	Description string         `json:"error_description,omitempty"`
	Field       string         `json:"field,omitempty"`
	Fields      []FieldProblem `json:"fields,omitempty"`
	// Scope is the scope the request needed, on insufficient_scope.
	Scope string `json:"scope,omitempty"`
	// retryAfter is sent as the Retry-After header.
	retryAfter string
}

// FieldProblem is one invalid field.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func badRequest(field, format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: ErrInvalidRequest, Field: field, Description: fmt.Sprintf(format, a...)}
}

var errNotFound = &Error{Status: http.StatusNotFound, Code: ErrNotFound}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: ErrNotFound, Description: what + " not found"}
}

// asError maps the errors of the registry and the store to responses: field errors are
// 400 (409 when the name is taken), store.ErrNotFound 404, store.ErrInvalid and
// store.ErrInvalidInput 400, store.ErrUnavailable 503 with Retry-After, and anything else
// a 500 whose text stays in the log.
func asError(err error) (e *Error, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var fields []FieldProblem
	conflict := errors.Is(err, store.ErrConflict)
	collectFieldErrors(err, &fields)
	if len(fields) > 0 {
		reasons := make([]string, len(fields))
		for i, f := range fields {
			reasons[i] = f.Field + ": " + f.Reason
		}
		e = &Error{Status: http.StatusBadRequest, Code: ErrInvalidRequest, Field: fields[0].Field, Description: strings.Join(reasons, "; ")}
		if conflict {
			e.Status, e.Code = http.StatusConflict, ErrConflict
		}
		if len(fields) > 1 {
			e.Fields = fields
		}
		return e, false
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound, false
	case conflict:
		return &Error{Status: http.StatusConflict, Code: ErrConflict, Description: "exists already"}, false
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrInvalidInput):
		return &Error{Status: http.StatusBadRequest, Code: ErrInvalidRequest, Description: "a value is not allowed"}, false
	case errors.Is(err, store.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: ErrTemporarilyUnavailable,
			Description: "the database cannot be reached; try again in a few seconds", retryAfter: unavailableRetryAfter}, false
	}
	return &Error{Status: http.StatusInternalServerError, Code: ErrServerError, Description: "internal error"}, true
}

// collectFieldErrors gathers every *registry.FieldError in the tree of joined errors. It
// looks at err itself, not with errors.As: a FieldError may wrap a joined error of its own
// cause (a JWK Set's problems, say), which must not hide the FieldError.
func collectFieldErrors(err error, out *[]FieldProblem) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // this node's own branches, see above

		for _, e := range joined.Unwrap() {
			collectFieldErrors(e, out)
		}
		return
	}
	var fe *registry.FieldError
	if errors.As(err, &fe) {
		*out = append(*out, FieldProblem{Field: fe.Field, Reason: fe.Reason})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.Status, e)
}
