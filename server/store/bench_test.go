/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// Benchmarks of the operations on the token endpoint's and login page's hot paths, against
// the test cluster (fsync off): they measure the store's own overhead and round trips,
// not a production database.

// seq makes distinct secrets for benchmark iterations.
func seq(prefix string, i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return hash(prefix + string(b[:]))
}

func BenchmarkGetClient(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	mustClient(b, s, "web")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(ctx, "web"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetUserByLogin(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	for i := range 100 {
		mustUser(b, s, fmt.Sprintf("user%03d", i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		login := fmt.Sprintf("USER%03d@example.com", i%100)
		if _, err := s.GetUserByLogin(ctx, login); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCreateRefreshToken(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	c := mustClient(b, s, "web")
	u := mustUser(b, s, "alice")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := &store.RefreshToken{Hash: seq("rt", i), FamilyID: fmt.Sprint(i), ClientID: c.ID, UserID: u.ID,
			Scopes: []string{"openid", "offline_access"}, AccessTokenJTI: "jti", AccessExpiresAt: t0.Add(time.Hour),
			ExpiresAt: t0.Add(24 * time.Hour), CreatedAt: t0}
		if err := s.CreateRefreshToken(ctx, t); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRedeemAuthorizationCode(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	c := mustClient(b, s, "web")
	u := mustUser(b, s, "alice")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		code := &store.AuthorizationCode{Hash: seq("code", i), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://x/cb",
			Scopes: []string{"openid", "offline_access"}, CodeChallenge: "challenge", AuthTime: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := s.CreateAuthorizationCode(ctx, code); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, err := s.RedeemAuthorizationCode(ctx, store.CodeRedemption{
			Hash: code.Hash, ClientID: c.ID, RedirectURI: "https://x/cb", CodeChallenge: "challenge", Now: t0,
			AccessTokenJTI: "jti", AccessExpiresAt: t0.Add(time.Hour),
			Refresh: &store.RefreshToken{Hash: seq("rt", i), FamilyID: fmt.Sprint(i), ExpiresAt: t0.Add(24 * time.Hour)},
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	c := mustClient(b, s, "web")
	u := mustUser(b, s, "alice")
	prev := mustRefresh(b, s, "start", c.ID, u.ID, "openid", "offline_access").Hash
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		next := seq("rt", i)
		_, err := s.RotateRefreshToken(ctx, store.RefreshRotation{Hash: prev, ClientID: c.ID, Now: t0,
			New: store.RefreshToken{Hash: next, AccessTokenJTI: "jti", AccessExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour)}})
		if err != nil {
			b.Fatal(err)
		}
		prev = next
		i++
	}
}

// BenchmarkPollDeviceAuthorizationPending is a device's poll while the user has not
// decided, what every waiting device sends every interval: the redemption statement finds
// nothing, then the row is read under a lock and its last poll recorded.
func BenchmarkPollDeviceAuthorizationPending(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	c := mustClient(b, s, "cli")
	const devices = 100
	for i := range devices {
		d := &store.DeviceAuthorization{DeviceCodeHash: seq("device", i), UserCodeHash: seq("user", i), ClientID: c.ID,
			Interval: time.Second, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateDeviceAuthorization(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Each device polls a second after its last poll: pending, never slow_down.
		now := t0.Add(time.Duration(i/devices+1) * time.Second)
		_, err := s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: seq("device", i%devices), ClientID: c.ID, Now: now})
		if !errors.Is(err, store.ErrAuthorizationPending) {
			b.Fatalf("poll: %v", err)
		}
		i++
	}
}
