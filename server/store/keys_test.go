/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func key(kid, alg string, state store.KeyState) *store.SigningKey {
	return &store.SigningKey{KID: kid, Algorithm: alg, PrivateKey: []byte("pkcs8 of " + kid), State: state}
}

// states returns "kid=state" of every key, in kid order.
func states(tb testing.TB, s *store.Store) []string {
	tb.Helper()
	keys, err := s.ListSigningKeys(context.Background())
	wantErr(tb, "ListSigningKeys", err, nil)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s=%s", k.KID, k.State))
	}
	sort.Strings(out)
	return out
}

func TestInsertSigningKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	full := &store.SigningKey{KID: "k1", Algorithm: "ES256", PrivateKey: []byte{0, 1, 2, 255}, Encrypted: true,
		State: store.KeyRetired, CreatedAt: t0.AddDate(-10, 0, 0), RetireAfter: t0.Add(time.Hour)}
	wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, full), nil)
	fresh := key("k2", "ES256", store.KeyActive)
	wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, fresh), nil)
	if time.Since(fresh.CreatedAt).Abs() > time.Minute {
		t.Errorf("CreatedAt = %v, want about now", fresh.CreatedAt)
	}
	keys, err := s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "keys, oldest first", keys, []*store.SigningKey{full, fresh})

	tests := []struct {
		name string
		key  *store.SigningKey
		want error
	}{
		{"same kid", key("k1", "RS256", store.KeyNext), store.ErrConflict},
		{"second active key of an algorithm", key("k3", "ES256", store.KeyActive), store.ErrConflict},
		{"active key of another algorithm", key("k4", "RS256", store.KeyActive), nil},
		{"unknown state", key("k5", "ES256", "compromised"), store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, tt.key), tt.want)
		})
	}
}

func TestRotateSigningKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	wantErr(t, "InsertSigningKey(RS256)", s.InsertSigningKey(ctx, key("rsa", "RS256", store.KeyActive)), nil)

	// From nothing: the first rotation publishes a next key, the second activates it.
	wantErr(t, "rotate 1", s.RotateSigningKeys(ctx, "ES256", key("a", "", ""), t0), nil)
	diff(t, "after rotation 1", states(t, s), []string{"a=next", "rsa=active"})
	wantErr(t, "rotate 2", s.RotateSigningKeys(ctx, "ES256", key("b", "ES256", ""), t0.Add(time.Hour)), nil)
	diff(t, "after rotation 2", states(t, s), []string{"a=active", "b=next", "rsa=active"})
	wantErr(t, "rotate 3", s.RotateSigningKeys(ctx, "ES256", key("c", "ES256", store.KeyActive), t0.Add(2*time.Hour)), nil)
	diff(t, "after rotation 3", states(t, s), []string{"a=retired", "b=active", "c=next", "rsa=active"})

	keys, _ := s.ListSigningKeys(ctx)
	for _, k := range keys {
		if k.KID == "a" && !k.RetireAfter.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("retired key a: RetireAfter %v, want %v", k.RetireAfter, t0.Add(2*time.Hour))
		}
		if k.KID == "b" && !k.RetireAfter.IsZero() {
			t.Errorf("active key b has RetireAfter %v", k.RetireAfter)
		}
	}

	// Without a new next key the next one still becomes active...
	wantErr(t, "rotate without new key", s.RotateSigningKeys(ctx, "ES256", nil, t0.Add(3*time.Hour)), nil)
	diff(t, "after rotation 4", states(t, s), []string{"a=retired", "b=retired", "c=active", "rsa=active"})
	// ...but an active key is never retired without a successor.
	err := s.RotateSigningKeys(ctx, "ES256", nil, t0.Add(4*time.Hour))
	wantErr(t, "rotate with no next key", err, store.ErrNotFound)
	err = s.RotateSigningKeys(ctx, "RS256", key("rsa2", "RS256", ""), t0)
	wantErr(t, "rotate RS256 with no next key", err, store.ErrNotFound)
	diff(t, "after refused rotations", states(t, s), []string{"a=retired", "b=retired", "c=active", "rsa=active"})

	err = s.RotateSigningKeys(ctx, "ES256", key("d", "RS256", ""), t0)
	wantErr(t, "rotate with a key of another algorithm", err, store.ErrInvalid)
}

// Concurrent rotations take turns: each one moves the keys exactly one step.
func TestConcurrentKeyRotationsSerialise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, storetest.URL(t), store.Options{MaxConns: 10})
	wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, key("active", "ES256", store.KeyActive)), nil)
	wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, key("next", "ES256", store.KeyNext)), nil)

	const n = 5
	errs := parallel(n, func(i int) error {
		return s.RotateSigningKeys(ctx, "ES256", key(fmt.Sprintf("new%d", i), "ES256", ""), t0)
	})
	for _, err := range errs {
		wantErr(t, "RotateSigningKeys", err, nil)
	}
	byState := map[store.KeyState]int{}
	keys, _ := s.ListSigningKeys(ctx)
	for _, k := range keys {
		byState[k.State]++
	}
	diff(t, "keys by state", byState, map[store.KeyState]int{store.KeyRetired: n, store.KeyActive: 1, store.KeyNext: 1})
}

func TestDeleteExpiredKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	// Tokens live an hour at most: a key is deleted an hour after its RetireAfter.
	const lifetime = time.Hour
	for _, k := range []*store.SigningKey{
		{KID: "gone", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyRetired, RetireAfter: t0.Add(-lifetime - time.Second)},
		{KID: "due-now", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyRetired, RetireAfter: t0.Add(-lifetime)},
		{KID: "still-verifying", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyRetired, RetireAfter: t0.Add(-lifetime + time.Second)},
		{KID: "retire-after-passed", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyRetired, RetireAfter: t0.Add(-time.Minute)},
		{KID: "retired-without-date", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyRetired},
		{KID: "active", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyActive, RetireAfter: t0.Add(-time.Hour)},
		{KID: "next", Algorithm: "ES256", PrivateKey: []byte("x"), State: store.KeyNext},
	} {
		wantErr(t, "InsertSigningKey", s.InsertSigningKey(ctx, k), nil)
	}
	n, err := s.DeleteExpiredKeys(ctx, t0, lifetime)
	wantErr(t, "DeleteExpiredKeys", err, nil)
	if n != 2 {
		t.Errorf("deleted %d keys, want 2", n)
	}
	diff(t, "keys left", states(t, s), []string{"active=active", "next=next", "retire-after-passed=retired", "retired-without-date=retired", "still-verifying=retired"})
}
