/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package storebench_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storebench"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newStore opens a Store on a fresh database, closed when the test ends.
func newStore(tb testing.TB) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), storetest.URL(tb), store.Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// hash is the SHA-256 of a secret, as the refresh token keys end.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func TestSeedScaleData(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for range 2 { // the second run finds every row and adds none
		if err := storebench.SeedScaleData(ctx, s, 1000, 10, 20); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := s.ListClients(ctx, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 10 || clients[0].ID != storebench.ClientPrefix+"0000000" {
		t.Fatalf("got %d clients starting with %q, want 10 starting with %s0000000", len(clients), clients[0].ID, storebench.ClientPrefix)
	}
	// The keys are as credentials.StorageKey makes them: the issue time in milliseconds
	// (6 bytes) and the SHA-256 of the token, so that they sort by issue time.
	rows, err := s.Pool().Query(ctx, `SELECT token_hash, created_at FROM refresh_tokens ORDER BY token_hash`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (scaleKey, error) {
		var k scaleKey
		err := row.Scan(&k.key, &k.createdAt)
		return k, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1000 {
		t.Fatalf("%d refresh tokens, want 1000", len(keys))
	}
	for n, k := range keys {
		if len(k.key) != 38 || int64(binary.BigEndian.Uint64(append([]byte{0, 0}, k.key[:6]...))) != k.createdAt.UnixMilli() {
			t.Fatalf("key %x of a token issued at %v: want its issue time in milliseconds and a SHA-256", k.key, k.createdAt)
		}
		if n > 0 && k.createdAt.Before(keys[n-1].createdAt) {
			t.Fatalf("key %x sorts after %x but was issued earlier", k.key, keys[n-1].key)
		}
	}
	if span := keys[999].createdAt.Sub(keys[0].createdAt); span < 27*24*time.Hour || keys[999].createdAt.After(time.Now().Add(-23*time.Hour)) {
		t.Errorf("tokens issued from %v to %v: want 28 days up to a day ago", keys[0].createdAt, keys[999].createdAt)
	}
	for _, i := range []int{0, 999} {
		key := append(bytes.Clone(keys[i].key[:6]), hash(storebench.RefreshPrefix+strconv.Itoa(i))...)
		rt, err := s.GetRefreshToken(ctx, key)
		if err != nil {
			t.Fatalf("refresh token %d: %v", i, err)
		}
		if !strings.HasPrefix(rt.ClientID, storebench.ClientPrefix) || !rt.ExpiresAt.After(time.Now()) {
			t.Errorf("refresh token %d: client %q, expires %v", i, rt.ClientID, rt.ExpiresAt)
		}
		// Tokens 2k and 2k+1 are one family, which began with token 2k.
		began := keys[i/2*2].createdAt
		if len(rt.FamilyID) != 32 || rt.FamilyID[:12] != fmt.Sprintf("%012x", began.UnixMilli()) {
			t.Errorf("refresh token %d: family %q does not start with %v in hex milliseconds", i, rt.FamilyID, began)
		}
	}
	revoked, err := s.ListRevokedTokens(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 20 {
		t.Errorf("%d revoked token ids, want 20", len(revoked))
	}
	if err := storebench.SeedScaleData(ctx, s, -1, 0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative scale: err = %v, want ErrInvalid", err)
	}
}

func TestVacuumAnalyze(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := storebench.SeedScaleData(ctx, s, 100, 2, 0); err != nil {
		t.Fatal(err)
	}
	if err := storebench.VacuumAnalyze(ctx, s); err != nil {
		t.Fatal(err)
	}
	var vacuumed bool
	err := s.Pool().QueryRow(ctx, `SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL
		FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'`).Scan(&vacuumed)
	if err != nil {
		t.Fatal(err)
	}
	if !vacuumed {
		t.Error("refresh_tokens was not vacuumed and analyzed")
	}
}

type scaleKey struct {
	key       []byte
	createdAt time.Time
}
