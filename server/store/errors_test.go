/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// Postgres refuses NUL bytes and invalid UTF-8 in text (SQLSTATE 22021). Whatever reaches
// the store with them is ErrInvalidInput, so that handlers answer a client error and not a
// 500; it is neither ErrNotFound (nothing was looked up) nor ErrUnavailable.
func TestDataExceptionsAreErrInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	mustClient(t, s, "web")
	for _, bad := range []string{"we\x00b", "web\xff", "\xc3\x28", strings.Repeat("a", 100) + "\x00"} {
		ops := map[string]func() error{
			"GetClient":          func() error { _, err := s.GetClient(ctx, bad); return err },
			"GetScope":           func() error { _, err := s.GetScope(ctx, bad); return err },
			"GetUserByLogin":     func() error { _, err := s.GetUserByLogin(ctx, bad); return err },
			"LoginLockedUntil":   func() error { _, err := s.LoginLockedUntil(ctx, bad, t0); return err },
			"RecordLoginFailure": func() error { _, err := s.RecordLoginFailure(ctx, bad, t0, 5, time.Minute, time.Minute); return err },
			"ClearLoginFailures": func() error { return s.ClearLoginFailures(ctx, bad) },
			"ConsentedScopes": func() error {
				_, err := s.ConsentedScopes(ctx, "00000000-0000-0000-0000-000000000000", bad)
				return err
			},
			"ListClients": func() error { _, err := s.ListClients(ctx, store.Page{Limit: 10, After: bad}); return err },
			"CreateScope": func() error { return s.CreateScope(ctx, &store.Scope{Name: "s", Description: bad}) },
			"CreateClient": func() error {
				c := fullClient("nul-name")
				c.Name = bad
				return s.CreateClient(ctx, c)
			},
		}
		for name, op := range ops {
			err := op()
			if !errors.Is(err, store.ErrInvalidInput) {
				t.Errorf("%s(%q) = %v, want ErrInvalidInput", name, bad, err)
			}
			if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s(%q) = %v: also ErrUnavailable or ErrNotFound", name, bad, err)
			}
		}
	}
	// A malformed UUID stays a plain "not found": it names no row.
	if _, err := s.GetUser(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(not-a-uuid) = %v, want ErrNotFound", err)
	}
}

// A store whose database has stopped answers ErrUnavailable from every operation, on its
// pooled connections (closed under it) and on new ones (refused), combined statements
// (refresh rotation, code redemption) included.
func TestStoppedDatabaseIsErrUnavailable(t *testing.T) {
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	url := cluster.URL("postgres")
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, url, store.Options{MinConns: 2, MaxConns: 4})
	mustClient(t, s, "web")
	if _, err := s.GetClient(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	cluster.Stop()

	ops := map[string]func() error{
		"Ping":             func() error { return s.Ping(ctx) },
		"GetClient":        func() error { _, err := s.GetClient(ctx, "web"); return err },
		"GetUserByLogin":   func() error { _, err := s.GetUserByLogin(ctx, "alice"); return err },
		"LoginLockedUntil": func() error { _, err := s.LoginLockedUntil(ctx, "alice", t0); return err },
		"RotateRefreshToken": func() error {
			_, err := s.RotateRefreshToken(ctx, store.RefreshRotation{Hash: hash("old"), ClientID: "web", Now: t0,
				New: store.RefreshToken{Hash: hash("new"), ExpiresAt: t0.Add(time.Hour)}})
			return err
		},
		"RedeemAuthorizationCode": func() error {
			_, err := s.RedeemAuthorizationCode(ctx, store.CodeRedemption{Hash: hash("code"), ClientID: "web", Now: t0})
			return err
		},
	}
	// Three rounds: the first meets the pooled connections, later ones new connections.
	for round := 0; round < 3; round++ {
		for name, op := range ops {
			if err := op(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("round %d: %s = %v, want ErrUnavailable", round, name, err)
			}
		}
	}
}

// A database address that accepts TCP connections but never answers (a hung server, or a
// proxy in front of a dead one) makes Open fail with ErrUnavailable once the connect
// timeout is over, instead of holding the caller for good; so do the requests later.
func TestSilentDatabaseIsErrUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16) // accepted, held open, never answered
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- conn
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for conn := range held {
			_ = conn.Close()
		}
	})
	dsn := "postgres://postgres@" + ln.Addr().String() + "/authly?sslmode=disable"
	_, err = store.Open(context.Background(), dsn, store.Options{ConnectTimeout: 100 * time.Millisecond})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
}

func TestConnectTimeoutDefault(t *testing.T) {
	base := storetest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("connect_timeout", "3")
	u.RawQuery = q.Encode()
	withTimeout := u.String()
	for _, tt := range []struct {
		url  string
		opts store.Options
		want time.Duration
	}{
		{base, store.Options{}, store.DefaultConnectTimeout},
		{withTimeout, store.Options{}, 3 * time.Second},
		{withTimeout, store.Options{ConnectTimeout: time.Second}, time.Second},
	} {
		s := openStore(t, tt.url, tt.opts)
		if got := s.Pool().Config().ConnConfig.ConnectTimeout; got != tt.want {
			t.Errorf("%s %+v: connect timeout %v, want %v", tt.url, tt.opts, got, tt.want)
		}
	}
}
