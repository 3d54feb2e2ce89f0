/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

// An OAuth error keeps why the request failed for logs (Error, Unwrap) and sends the
// client its code and description only.
func TestErrorKeepsCause(t *testing.T) {
	down := fmt.Errorf("%w: refresh_rotate: failed to connect to 10.0.0.7", store.ErrUnavailable)
	invalid := fmt.Errorf("%w: user_get: invalid byte sequence (SQLSTATE 22021)", store.ErrInvalidInput)
	internal := errors.New("store: refresh_rotate: deadlock detected (SQLSTATE 40P01)")
	tests := []struct {
		name      string
		err       error
		code      string
		status    int
		cause     error  // what errors.Is must find through the OAuth error
		inLog     string // what Error() must contain
		notToUser string // what the body must not contain
	}{
		{"wrapped store error", wrapError(CodeInvalidGrant, "the refresh token has expired", store.ErrExpired),
			CodeInvalidGrant, http.StatusBadRequest, store.ErrExpired, "store: expired", "store:"},
		{"database down", down, CodeTemporarilyUnavailable, http.StatusServiceUnavailable, store.ErrUnavailable, "10.0.0.7", "10.0.0.7"},
		{"invalid input", invalid, CodeInvalidRequest, http.StatusBadRequest, store.ErrInvalidInput, "SQLSTATE 22021", "SQLSTATE"},
		{"unknown error", internal, CodeServerError, http.StatusInternalServerError, internal, "deadlock detected", "deadlock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := asError(tt.err)
			if e.Code != tt.code || e.HTTPStatus() != tt.status {
				t.Errorf("code %s status %d, want %s %d", e.Code, e.HTTPStatus(), tt.code, tt.status)
			}
			if !errors.Is(e, tt.cause) {
				t.Errorf("errors.Is(%v, %v) is false", e, tt.cause)
			}
			if !strings.Contains(e.Error(), tt.inLog) {
				t.Errorf("Error() %q does not contain %q", e.Error(), tt.inLog)
			}
			w := httptest.NewRecorder()
			writeError(w, tt.err)
			if body := w.Body.String(); strings.Contains(body, tt.notToUser) || !strings.Contains(body, `"error":"`+tt.code+`"`) {
				t.Errorf("body %s: want code %s and nothing of %q", body, tt.code, tt.notToUser)
			}
		})
	}
}

func TestErrorWithoutCause(t *testing.T) {
	e := newError(CodeInvalidRequest, "grant_type is required")
	if e.Unwrap() != nil {
		t.Errorf("Unwrap() = %v, want nil", e.Unwrap())
	}
	if got, want := e.Error(), "invalid_request: grant_type is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (&Error{Code: CodeInvalidClient}).Error(); got != CodeInvalidClient {
		t.Errorf("Error() = %q, want %q", got, CodeInvalidClient)
	}
}
