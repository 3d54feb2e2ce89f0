/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

// failingClients answers every lookup with err, as the store would.
type failingClients struct{ err error }

func (f failingClients) Client(context.Context, string) (*store.Client, error) { return nil, f.err }

// The second line behind the edge checks: a store error that still comes back is a client
// error or a 503, never a 500. The errors are wrapped as the store wraps them.
func TestStoreErrorsAreNot500(t *testing.T) {
	invalid := fmt.Errorf("%w: client_get: ERROR: invalid byte sequence (SQLSTATE 22021)", store.ErrInvalidInput)
	down := fmt.Errorf("%w: client_get: failed to connect", store.ErrUnavailable)
	tests := []struct {
		name       string
		err        error
		path       string
		status     int
		code       string
		retryAfter string
	}{
		{"token, invalid input", invalid, PathToken, http.StatusUnauthorized, CodeInvalidClient, ""},
		{"token, database down", down, PathToken, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "5"},
		{"introspect, invalid input", invalid, PathIntrospect, http.StatusUnauthorized, CodeInvalidClient, ""},
		{"revoke, database down", down, PathRevoke, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "5"},
		{"authorize, invalid input", invalid, PathAuthorize, http.StatusBadRequest, CodeInvalidClient, ""},
		{"authorize, database down", down, PathAuthorize, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFuzzProvider(t, nil)
			p.clients = failingClients{tt.err}
			var counted []string
			p.hooks.DatabaseUnavailable = func(endpoint string) { counted = append(counted, endpoint) }
			mux := http.NewServeMux()
			p.Register(mux)
			var r *http.Request
			if tt.path == PathAuthorize {
				r = httptest.NewRequest(http.MethodGet, tt.path+"?client_id=web&response_type=code", nil)
			} else {
				form := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}, "client_id": {"web"}, "client_secret": {"s"}}
				r = httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			if !strings.Contains(w.Body.String(), tt.code) {
				t.Errorf("answer does not name %s: %s", tt.code, w.Body.String())
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			wantCounted := 0
			if tt.status == http.StatusServiceUnavailable {
				wantCounted = 1
			}
			if len(counted) != wantCounted || (wantCounted == 1 && counted[0] != tt.path) {
				t.Errorf("counted %v, want %d for %s", counted, wantCounted, tt.path)
			}
		})
	}
}
