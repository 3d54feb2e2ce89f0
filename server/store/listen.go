/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnect backoff of Listen: it starts at listenMinBackoff, doubles after each failed
// attempt up to listenMaxBackoff, and starts over once LISTEN succeeded.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Listen delivers the changes every replica announces on NotifyChannel to onChange, until
// ctx is done; then it returns nil. It holds one connection of its own, outside the pool,
// reported as the application name plus ListenerSuffix.
//
// After each (re)connect, once LISTEN is in place, it calls onChange with a ChangeReset:
// changes sent while it was not listening are lost, so caches must drop everything. When
// the connection fails it reconnects with a capped exponential backoff, telling
// Options.OnListenError. onChange runs on Listen's goroutine; a slow one delays the next
// change, not the writers.
func (s *Store) Listen(ctx context.Context, onChange func(Change)) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = s.appName + ListenerSuffix
	backoff := listenMinBackoff
	for {
		listening, err := s.listenOnce(ctx, cfg, onChange)
		select {
		case <-ctx.Done():
			return nil
		default:
		}
		if s.onListenError != nil {
			s.onListenError(err)
		}
		if listening {
			backoff = listenMinBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, listens and delivers changes until the connection fails or ctx is
// done. listening reports whether LISTEN had succeeded.
func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, onChange func(Change)) (listening bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("store: listen: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return false, fmt.Errorf("store: listen: %w", err)
	}
	onChange(Change{Kind: ChangeReset})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("store: listen: %w", err)
		}
		onChange(ParseChange(n.Payload))
	}
}

// ParseChange reads a NOTIFY payload "kind:key" (split at the first colon, so a cutoff's
// key is "client:<id>" or "user:<id>"). A payload without a colon is a kind without key.
func ParseChange(payload string) Change {
	kind, key, _ := strings.Cut(payload, ":")
	return Change{Kind: kind, Key: key}
}
