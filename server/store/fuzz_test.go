/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authly-dev/authly-operator/server/store"
)

// FuzzTextKeys passes arbitrary strings where requests' identifiers end up: client ids,
// scope names, logins, paging cursors. Every error is one the handlers map to an answer:
// ErrNotFound, or ErrInvalidInput exactly when the string is not text Postgres takes (a
// NUL byte or invalid UTF-8). Nothing else, so that no such value can make a 500.
func FuzzTextKeys(f *testing.F) {
	for _, s := range []string{"web", "", "we\x00b", "\x00", "a\xffb", "caf\xc3", "\xed\xa0\x80",
		"alice@example.com", "orders:read", "'; DROP TABLE clients; --", "\u00e9\u4e16", strings.Repeat("a", 5000)} {
		f.Add(s)
	}
	ctx := context.Background()
	s := newStore(f)
	mustClient(f, s, "web")
	f.Fuzz(func(t *testing.T, key string) {
		text := utf8.ValidString(key) && !strings.Contains(key, "\x00")
		ops := map[string]func() error{
			"GetClient":          func() error { _, err := s.GetClient(ctx, key); return err },
			"GetScope":           func() error { _, err := s.GetScope(ctx, key); return err },
			"GetUserByLogin":     func() error { _, err := s.GetUserByLogin(ctx, key); return err },
			"GetUser":            func() error { _, err := s.GetUser(ctx, key); return err },
			"LoginLockedUntil":   func() error { _, err := s.LoginLockedUntil(ctx, key, t0); return err },
			"RecordLoginFailure": func() error { _, err := s.RecordLoginFailure(ctx, key, t0, 5, time.Minute, time.Minute); return err },
			"ListClients":        func() error { _, err := s.ListClients(ctx, store.Page{Limit: 2, After: key}); return err },
		}
		for name, op := range ops {
			err := op()
			switch {
			case err == nil, errors.Is(err, store.ErrNotFound):
			case errors.Is(err, store.ErrInvalidInput):
				if text {
					t.Errorf("%s(%q): %v, for valid text", name, key, err)
				}
			default:
				t.Errorf("%s(%q): unexpected error %v", name, key, err)
			}
			if !text && name != "GetUser" && !errors.Is(err, store.ErrInvalidInput) {
				t.Errorf("%s(%q) = %v, want ErrInvalidInput", name, key, err)
			}
		}
	})
}
