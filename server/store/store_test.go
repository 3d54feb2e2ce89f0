/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t)

	s := openStore(t, url, store.Options{MaxConns: 7, MinConns: 1, MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Minute})
	cfg := s.Pool().Config()
	if cfg.MaxConns != 7 || cfg.MinConns != 1 || cfg.MaxConnLifetime != time.Hour || cfg.MaxConnIdleTime != time.Minute {
		t.Errorf("pool config = max %d min %d lifetime %v idle %v", cfg.MaxConns, cfg.MinConns, cfg.MaxConnLifetime, cfg.MaxConnIdleTime)
	}
	wantErr(t, "Ping", s.Ping(ctx), nil)
	v, err := s.SchemaVersion(ctx)
	wantErr(t, "SchemaVersion", err, nil)
	if v != store.SchemaVersion() || v < 1 {
		t.Errorf("SchemaVersion = %d, want %d", v, store.SchemaVersion())
	}

	for _, tt := range []struct{ opt, want string }{{"", store.DefaultApplicationName}, {"authly-replica-7", "authly-replica-7"}} {
		s := openStore(t, url, store.Options{ApplicationName: tt.opt})
		var name string
		wantErr(t, "application_name", s.Pool().QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name), nil)
		if name != tt.want {
			t.Errorf("application_name = %q, want %q", name, tt.want)
		}
	}

	if _, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/nope?sslmode=disable&connect_timeout=2", store.Options{}); err == nil {
		t.Error("Open of an unreachable database succeeded")
	}
	if _, err := store.Open(ctx, "::not a url", store.Options{}); err == nil {
		t.Error("Open of a malformed URL succeeded")
	}
}

func TestObserveQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]int{}
	s := openStore(t, storetest.URL(t), store.Options{ObserveQuery: func(op string, d time.Duration) {
		if d < 0 {
			t.Errorf("%s: negative duration %v", op, d)
		}
		mu.Lock()
		seen[op]++
		mu.Unlock()
	}})
	mustClient(t, s, "web")
	_, _ = s.GetClient(ctx, "web")
	_, _ = s.GetClient(ctx, "missing")
	_, _ = s.RedeemAuthorizationCode(ctx, store.CodeRedemption{Hash: hash("nope"), Now: t0})

	mu.Lock()
	defer mu.Unlock()
	for op, want := range map[string]int{"client_create": 1, "client_get": 2, "code_redeem": 1} {
		if seen[op] != want {
			t.Errorf("ObserveQuery saw %q %d times, want %d (all: %v)", op, seen[op], want, seen)
		}
	}
}
