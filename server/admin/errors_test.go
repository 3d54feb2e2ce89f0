/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

// Store errors that reach a handler are answered as what they are: a value Postgres
// refused is a 400, an unreachable database a 503 with Retry-After that is counted; only
// unknown errors are 500s.
func TestFailMapsStoreErrors(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		code       string
		retryAfter string
		counted    bool
	}{
		{fmt.Errorf("%w: user_get: invalid byte sequence (SQLSTATE 22021)", store.ErrInvalidInput), http.StatusBadRequest, ErrInvalidRequest, "", false},
		{fmt.Errorf("%w: client_list: failed to connect", store.ErrUnavailable), http.StatusServiceUnavailable, ErrTemporarilyUnavailable, "5", true},
		{fmt.Errorf("store: client_list: something else"), http.StatusInternalServerError, ErrServerError, "", false},
	}
	for _, tt := range tests {
		var counted []string
		a := &API{log: slog.New(slog.NewTextHandler(io.Discard, nil)), onUnavailable: func(e string) { counted = append(counted, e) }}
		r := httptest.NewRequest(http.MethodGet, "/admin/clients", nil)
		r.Pattern = "GET /admin/clients"
		w := httptest.NewRecorder()
		a.fail(w, r, tt.err)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%v: status %d, Retry-After %q; want %d, %q", tt.err, w.Code, w.Header().Get("Retry-After"), tt.status, tt.retryAfter)
		}
		if e, _ := asError(tt.err); e.Code != tt.code {
			t.Errorf("%v: code %q, want %q", tt.err, e.Code, tt.code)
		}
		if (len(counted) == 1 && counted[0] == r.Pattern) != tt.counted || len(counted) > 1 {
			t.Errorf("%v: counted %v", tt.err, counted)
		}
	}
}
