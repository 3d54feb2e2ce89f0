package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestSeedScaleData(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for range 2 { // the second run finds every row and adds none
		if err := s.SeedScaleData(ctx, 1000, 10, 20); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := s.ListClients(ctx, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 10 || clients[0].ID != store.ScaleClientPrefix+"0000000" {
		t.Fatalf("got %d clients starting with %q, want 10 starting with %s0000000", len(clients), clients[0].ID, store.ScaleClientPrefix)
	}
	for _, i := range []string{"0", "999"} {
		rt, err := s.GetRefreshToken(ctx, hash(store.ScaleRefreshPrefix+i))
		if err != nil {
			t.Fatalf("refresh token %s: %v", i, err)
		}
		if !strings.HasPrefix(rt.ClientID, store.ScaleClientPrefix) || !rt.ExpiresAt.After(time.Now()) {
			t.Errorf("refresh token %s: client %q, expires %v", i, rt.ClientID, rt.ExpiresAt)
		}
	}
	if _, err := s.GetRefreshToken(ctx, hash(store.ScaleRefreshPrefix+"1000")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token 1000: err = %v, want ErrNotFound", err)
	}
	revoked, err := s.ListRevokedTokens(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 20 {
		t.Errorf("%d revoked token ids, want 20", len(revoked))
	}
	if err := s.SeedScaleData(ctx, -1, 0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative scale: err = %v, want ErrInvalid", err)
	}
}

func TestVacuumAnalyze(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.SeedScaleData(ctx, 100, 2, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.VacuumAnalyze(ctx); err != nil {
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
