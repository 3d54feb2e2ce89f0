/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const maxFailures, window, lockout = 3, 10 * time.Minute, 5 * time.Minute

	type step struct {
		op         string // "fail", "check", "clear"
		login      string
		at         time.Duration // after t0
		wantLocked time.Duration // lock end after t0; 0: not locked
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"third failure locks, case-insensitively", []step{
			{"fail", "alice", 0, 0},
			{"fail", "ALICE", time.Minute, 0},
			{"check", "alice", time.Minute, 0},
			{"fail", "Alice", 2 * time.Minute, 7 * time.Minute},
			{"check", "aLiCe", 3 * time.Minute, 7 * time.Minute},
			{"check", "alice", 7*time.Minute - time.Second, 7 * time.Minute},
			{"check", "alice", 7 * time.Minute, 0},
		}},
		{"failures during a lock do not extend it", []step{
			{"fail", "bob", 0, 0},
			{"fail", "bob", 0, 0},
			{"fail", "bob", 0, 5 * time.Minute},
			{"fail", "bob", 4 * time.Minute, 5 * time.Minute},
			{"check", "bob", 4 * time.Minute, 5 * time.Minute},
		}},
		{"an expired lock starts the count afresh", []step{
			{"fail", "carol", 0, 0},
			{"fail", "carol", 0, 0},
			{"fail", "carol", 0, 5 * time.Minute},
			{"fail", "carol", 6 * time.Minute, 0},
			{"fail", "carol", 6 * time.Minute, 0},
			{"fail", "carol", 6 * time.Minute, 11 * time.Minute},
		}},
		{"failures outside the window do not count", []step{
			{"fail", "dave", 0, 0},
			{"fail", "dave", time.Minute, 0},
			{"fail", "dave", 10 * time.Minute, 0}, // window of the first failure is over: count is 1
			{"fail", "dave", 11 * time.Minute, 0},
			{"fail", "dave", 12 * time.Minute, 17 * time.Minute},
		}},
		{"clear resets the count and the lock", []step{
			{"fail", "erin", 0, 0},
			{"fail", "erin", 0, 0},
			{"clear", "ERIN", 0, 0},
			{"fail", "erin", 0, 0},
			{"fail", "erin", 0, 0},
			{"fail", "erin", 0, 5 * time.Minute},
			{"clear", "erin", 0, 0},
			{"check", "erin", 0, 0},
		}},
		{"logins are counted apart", []step{
			{"fail", "frank", 0, 0},
			{"fail", "frank", 0, 0},
			{"fail", "grace", 0, 0},
			{"check", "frank", 0, 0},
			{"check", "unknown", 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				var got time.Time
				var err error
				switch st.op {
				case "fail":
					got, err = s.RecordLoginFailure(ctx, st.login, now, maxFailures, window, lockout)
				case "check":
					got, err = s.LoginLockedUntil(ctx, st.login, now)
				case "clear":
					err = s.ClearLoginFailures(ctx, st.login)
				}
				wantErr(t, st.op, err, nil)
				var want time.Time
				if st.wantLocked != 0 {
					want = t0.Add(st.wantLocked)
				}
				if !got.Equal(want) {
					t.Fatalf("step %d (%s %s at +%v): locked until %v, want %v", i, st.op, st.login, st.at, got, want)
				}
			}
		})
	}

	t.Run("maxFailures 0 never locks", func(t *testing.T) {
		for range 5 {
			got, err := s.RecordLoginFailure(ctx, "nolock", t0, 0, window, lockout)
			wantErr(t, "RecordLoginFailure", err, nil)
			if !got.IsZero() {
				t.Fatalf("locked until %v with maxFailures 0", got)
			}
		}
	})
}

// Failures recorded at once on many replicas all count: the count is one atomic upsert.
func TestLoginFailuresCountAtomically(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const n = 20
	errs := parallel(n-1, func(int) error {
		_, err := s.RecordLoginFailure(ctx, "alice", t0, n, time.Hour, time.Hour)
		return err
	})
	for _, err := range errs {
		wantErr(t, "RecordLoginFailure", err, nil)
	}
	until, err := s.LoginLockedUntil(ctx, "alice", t0)
	wantErr(t, "LoginLockedUntil", err, nil)
	if !until.IsZero() {
		t.Fatalf("locked after %d of %d failures", n-1, n)
	}
	until, err = s.RecordLoginFailure(ctx, "alice", t0, n, time.Hour, time.Hour)
	wantErr(t, "RecordLoginFailure", err, nil)
	if !until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("the %dth failure locked until %v, want %v", n, until, t0.Add(time.Hour))
	}
}

// A user's key and a typed login's key never meet, whatever is typed.
func TestLockoutKeysApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	u := mustUser(t, s, "hana")
	typed := store.LoginLockoutKey(store.UserLockoutKey(u.ID))
	if _, err := s.RecordLoginFailure(ctx, typed, t0, 1, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	until, err := s.LoginLockedUntil(ctx, store.UserLockoutKey(u.ID), t0)
	wantErr(t, "LoginLockedUntil", err, nil)
	if !until.IsZero() {
		t.Fatalf("typing %q locked the user", typed)
	}
	if store.UserLockoutKey(strings.ToUpper(u.ID)) != store.UserLockoutKey(u.ID) {
		t.Error("UserLockoutKey depends on the case of the ID")
	}
}

func TestLoginSucceeded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	u := mustUser(t, s, "ines")
	key := store.UserLockoutKey(u.ID)
	stored := func() string {
		t.Helper()
		got, err := s.GetUser(ctx, u.ID)
		wantErr(t, "GetUser", err, nil)
		return got.PasswordHash
	}
	old := stored()
	fail := func() {
		t.Helper()
		if _, err := s.RecordLoginFailure(ctx, key, t0, 1, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("no new hash: failures forgotten, hash kept", func(t *testing.T) {
		fail()
		rehashed, err := s.LoginSucceeded(ctx, key, u.ID, old, "")
		wantErr(t, "LoginSucceeded", err, nil)
		if rehashed || stored() != old {
			t.Errorf("rehashed %v, hash %q, want the old one kept", rehashed, stored())
		}
		if until, _ := s.LoginLockedUntil(ctx, key, t0); !until.IsZero() {
			t.Errorf("still locked until %v", until)
		}
	})
	t.Run("new hash replaces the verified one", func(t *testing.T) {
		fail()
		rehashed, err := s.LoginSucceeded(ctx, key, u.ID, old, "$argon2id$new")
		wantErr(t, "LoginSucceeded", err, nil)
		if !rehashed || stored() != "$argon2id$new" {
			t.Errorf("rehashed %v, hash %q, want the new one", rehashed, stored())
		}
		if until, _ := s.LoginLockedUntil(ctx, key, t0); !until.IsZero() {
			t.Errorf("still locked until %v", until)
		}
	})
	t.Run("a hash changed meanwhile is not overwritten", func(t *testing.T) {
		// The stored hash is now "$argon2id$new": a login verified against old lost a race
		// with a password change.
		fail()
		rehashed, err := s.LoginSucceeded(ctx, key, u.ID, old, "$argon2id$stale")
		wantErr(t, "LoginSucceeded", err, nil)
		if rehashed || stored() != "$argon2id$new" {
			t.Errorf("rehashed %v, hash %q, want the password set meanwhile kept", rehashed, stored())
		}
		if until, _ := s.LoginLockedUntil(ctx, key, t0); !until.IsZero() {
			t.Errorf("still locked until %v", until)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := s.LoginSucceeded(ctx, key, "not-a-uuid", old, "x")
		wantErr(t, "LoginSucceeded", err, store.ErrNotFound)
	})
}
