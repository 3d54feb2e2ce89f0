/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestPurgeExpiredRemovesOnlyWhatIsExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	now := t0.Add(24 * time.Hour)

	// Rows that go, by table. Several of each, so that batches of 2 take more than one
	// round per table.
	var wantGone int64
	for i := range 3 {
		code := &store.AuthorizationCode{Hash: hash(fmt.Sprintf("expired-code-%d", i)), ClientID: c.ID, UserID: u.ID,
			RedirectURI: "https://x", ExpiresAt: now.Add(-store.CodeRetention - time.Second)}
		wantErr(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, code), nil)
		rt := &store.RefreshToken{Hash: hash(fmt.Sprintf("expired-rt-%d", i)), FamilyID: "f", ClientID: c.ID, UserID: u.ID, ExpiresAt: now}
		wantErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
		wantErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, fmt.Sprintf("expired-jti-%d", i), now.Add(-time.Second)), nil)
		se := &store.Session{Hash: hash(fmt.Sprintf("expired-session-%d", i)), UserID: u.ID, AuthTime: t0, ExpiresAt: now}
		wantErr(t, "CreateSession", s.CreateSession(ctx, se), nil)
		_, err := s.RecordLoginFailure(ctx, fmt.Sprintf("stale-%d", i), now.Add(-store.LoginFailureRetention-time.Second), 5, time.Hour, time.Hour)
		wantErr(t, "RecordLoginFailure", err, nil)
		dev := &store.DeviceAuthorization{DeviceCodeHash: hash(fmt.Sprintf("expired-device-%d", i)),
			UserCodeHash: hash(fmt.Sprintf("expired-user-code-%d", i)), ClientID: c.ID, Interval: time.Second,
			ExpiresAt: now.Add(-store.DeviceCodeRetention - time.Second)}
		wantErr(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, dev), nil)
		wantErr(t, "UseClientAssertion", s.UseClientAssertion(ctx, c.ID, fmt.Sprintf("expired-assertion-%d", i), now, t0), nil)
		wantGone += 7
	}
	// A code used more than the retention ago goes even though it has not expired.
	usedLongAgo := &store.AuthorizationCode{Hash: hash("used-code"), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://x",
		ExpiresAt: now.Add(time.Hour)}
	wantErr(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, usedLongAgo), nil)
	_, err := s.RedeemAuthorizationCode(ctx, store.CodeRedemption{Hash: usedLongAgo.Hash, ClientID: c.ID, RedirectURI: "https://x",
		Now: now.Add(-store.CodeRetention - time.Second)})
	wantErr(t, "RedeemAuthorizationCode", err, nil)
	wantGone++

	// Rows that stay.
	keepCodes := []*store.AuthorizationCode{
		{Hash: hash("live-code"), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://x", ExpiresAt: now.Add(time.Minute)},
		{Hash: hash("recently-expired-code"), ClientID: c.ID, UserID: u.ID, RedirectURI: "https://x", ExpiresAt: now.Add(-time.Minute)},
	}
	for _, code := range keepCodes {
		wantErr(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, code), nil)
	}
	live := &store.RefreshToken{Hash: hash("live-rt"), FamilyID: "f", ClientID: c.ID, ExpiresAt: now.Add(time.Second)}
	wantErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, live), nil)
	wantErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "live-jti", now.Add(time.Second)), nil)
	wantErr(t, "UseClientAssertion", s.UseClientAssertion(ctx, c.ID, "live-assertion", now.Add(time.Second), t0), nil)
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: hash("live-session"), UserID: u.ID, AuthTime: t0, ExpiresAt: now.Add(time.Second)}), nil)
	// A device authorization expired within the retention stays: a late poll is told
	// expired_token.
	recentDevice := &store.DeviceAuthorization{DeviceCodeHash: hash("recent-device"), UserCodeHash: hash("recent-user-code"),
		ClientID: c.ID, Interval: time.Second, ExpiresAt: now.Add(-time.Minute)}
	wantErr(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, recentDevice), nil)
	_, err = s.RecordLoginFailure(ctx, "recent", now.Add(-time.Minute), 5, time.Hour, time.Hour)
	wantErr(t, "RecordLoginFailure", err, nil)
	// An old first failure whose lock still holds stays.
	_, err = s.RecordLoginFailure(ctx, "locked", now.Add(-48*time.Hour), 1, time.Hour, 72*time.Hour)
	wantErr(t, "RecordLoginFailure", err, nil)

	n, err := s.PurgeExpired(ctx, now, 2)
	wantErr(t, "PurgeExpired", err, nil)
	if n != wantGone {
		t.Errorf("PurgeExpired deleted %d rows, want %d", n, wantGone)
	}
	left := map[string]int{}
	for _, table := range []string{"authorization_codes", "refresh_tokens", "revoked_tokens", "sessions", "login_failures", "device_codes", "client_assertion_jtis"} {
		left[table] = count(t, s, "SELECT count(*) FROM "+table)
	}
	diff(t, "rows left", left, map[string]int{"authorization_codes": 2, "refresh_tokens": 1, "revoked_tokens": 1, "sessions": 1,
		"login_failures": 2, "device_codes": 1, "client_assertion_jtis": 1})
	if until, _ := s.LoginLockedUntil(ctx, "locked", now); until.IsZero() {
		t.Error("the purge lifted a lock that still holds")
	}

	n, err = s.PurgeExpired(ctx, now, 0)
	wantErr(t, "PurgeExpired again", err, nil)
	if n != 0 {
		t.Errorf("second PurgeExpired deleted %d rows, want 0", n)
	}
}
