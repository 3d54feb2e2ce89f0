/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func newDevice(t *testing.T, s *store.Store, name, clientID string, expiresAt time.Time) *store.DeviceAuthorization {
	t.Helper()
	d := &store.DeviceAuthorization{DeviceCodeHash: hash("device-" + name), UserCodeHash: hash("user-" + name),
		ClientID: clientID, Scopes: []string{"openid", "orders:read"}, Interval: 5 * time.Second, ExpiresAt: expiresAt}
	wantErr(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(context.Background(), d), nil)
	return d
}

// A device authorization goes pending -> approved -> redeemed exactly once; polls before
// the decision are pending or, too soon after the last, slow_down with the interval
// raised by 5 s; denied and expired requests answer so.
func TestDeviceAuthorizationLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "cli")
	other := mustClient(t, s, "other")
	u := mustUser(t, s, "alice")
	d := newDevice(t, s, "a", c.ID, t0.Add(10*time.Minute))

	if err := s.CreateDeviceAuthorization(ctx, &store.DeviceAuthorization{DeviceCodeHash: hash("x"), UserCodeHash: d.UserCodeHash,
		ClientID: c.ID, Interval: time.Second, ExpiresAt: t0.Add(time.Minute)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second request with the same user code: %v, want ErrConflict", err)
	}
	if err := s.CreateDeviceAuthorization(ctx, &store.DeviceAuthorization{DeviceCodeHash: hash("y"), UserCodeHash: hash("y"),
		ClientID: "no-such-client", Interval: time.Second, ExpiresAt: t0.Add(time.Minute)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown client: %v, want ErrNotFound", err)
	}

	poll := func(at time.Time, client string) error {
		_, err := s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: d.DeviceCodeHash, ClientID: client, Now: at, Leeway: time.Second})
		return err
	}
	wantErr(t, "first poll", poll(t0, c.ID), store.ErrAuthorizationPending)
	wantErr(t, "poll after the interval", poll(t0.Add(5*time.Second), c.ID), store.ErrAuthorizationPending)
	wantErr(t, "poll within the leeway", poll(t0.Add(9*time.Second), c.ID), store.ErrAuthorizationPending)
	wantErr(t, "poll too soon", poll(t0.Add(10*time.Second), c.ID), store.ErrSlowDown)
	got, err := s.PendingDeviceAuthorization(ctx, d.UserCodeHash, t0.Add(10*time.Second))
	wantErr(t, "PendingDeviceAuthorization", err, nil)
	if got.Interval != 10*time.Second || !got.LastPolledAt.Equal(t0.Add(10*time.Second)) || got.ClientID != c.ID {
		t.Errorf("after slow_down: interval %s, last poll %s, want 10s and the slow poll's time", got.Interval, got.LastPolledAt)
	}
	wantErr(t, "another client's poll", poll(t0.Add(time.Minute), other.ID), store.ErrNotFound)

	wantErr(t, "decide for an unknown code", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: hash("nope"),
		Approve: true, UserID: u.ID, Now: t0}), store.ErrNotFound)
	wantErr(t, "approve", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: d.UserCodeHash, Approve: true,
		UserID: u.ID, Scopes: []string{"openid"}, AuthTime: t0, Now: t0.Add(time.Minute)}), nil)
	wantErr(t, "decide twice", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: d.UserCodeHash,
		UserID: u.ID, Now: t0.Add(time.Minute)}), store.ErrNotFound)
	if _, err := s.PendingDeviceAuthorization(ctx, d.UserCodeHash, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an approved request is still pending: %v", err)
	}

	// Concurrent polls of the approved request: exactly one redeems it, with its refresh
	// token; the others are told it is gone.
	const n = 8
	var wg sync.WaitGroup
	results := make([]*store.DeviceAuthorization, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			rt := &store.RefreshToken{Hash: hash("rt-" + string(rune('a'+i))), FamilyID: "fam-" + string(rune('a'+i)),
				ExpiresAt: t0.Add(time.Hour), AccessTokenJTI: "jti", AccessExpiresAt: t0.Add(time.Hour)}
			results[i], errs[i] = s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: d.DeviceCodeHash, ClientID: c.ID,
				Now: t0.Add(2 * time.Minute), Refresh: rt})
		})
	}
	wg.Wait()
	redeemed := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			redeemed++
			if r := results[i]; r.UserID != u.ID || len(r.Scopes) != 1 || r.Scopes[0] != "openid" || !r.AuthTime.Equal(t0) {
				t.Errorf("redeemed %+v, want alice's approval of openid", r)
			}
		case !errors.Is(errs[i], store.ErrNotFound):
			t.Errorf("concurrent poll: %v, want ErrNotFound for all but one", errs[i])
		}
	}
	if redeemed != 1 {
		t.Fatalf("%d polls redeemed the request, want 1", redeemed)
	}
	if got := count(t, s, "SELECT count(*) FROM refresh_tokens"); got != 1 {
		t.Errorf("%d refresh tokens stored, want the one of the redemption", got)
	}
	wantErr(t, "poll after the redemption", poll(t0.Add(3*time.Minute), c.ID), store.ErrNotFound)

	denied := newDevice(t, s, "denied", c.ID, t0.Add(10*time.Minute))
	wantErr(t, "deny", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: denied.UserCodeHash, UserID: u.ID, Now: t0}), nil)
	_, err = s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: denied.DeviceCodeHash, ClientID: c.ID, Now: t0})
	wantErr(t, "poll of a denied request", err, store.ErrDenied)

	expired := newDevice(t, s, "expired", c.ID, t0.Add(time.Minute))
	wantErr(t, "approve after expiry", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: expired.UserCodeHash,
		Approve: true, UserID: u.ID, Now: t0.Add(time.Minute)}), store.ErrNotFound)
	_, err = s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: expired.DeviceCodeHash, ClientID: c.ID, Now: t0.Add(time.Minute)})
	wantErr(t, "poll of an expired request", err, store.ErrExpired)
	_, err = s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: hash("unknown"), ClientID: c.ID, Now: t0})
	wantErr(t, "poll of an unknown code", err, store.ErrNotFound)

	// Deleting the client removes its requests.
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, c.ID, t0), nil)
	if got := count(t, s, "SELECT count(*) FROM device_codes"); got != 0 {
		t.Errorf("%d device authorizations left after the client's deletion", got)
	}
}

// Signing a user out everywhere (RevokeUserTokens) also withdraws the device requests they
// approved that the device has not redeemed yet: it is told access_denied.
func TestRevokeUserTokensWithdrawsApprovedDeviceRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "cli")
	u := mustUser(t, s, "alice")
	approved := newDevice(t, s, "approved", c.ID, t0.Add(10*time.Minute))
	pending := newDevice(t, s, "pending", c.ID, t0.Add(10*time.Minute))
	wantErr(t, "approve", s.DecideDeviceAuthorization(ctx, store.DeviceDecision{UserCodeHash: approved.UserCodeHash, Approve: true,
		UserID: u.ID, Scopes: []string{"openid"}, AuthTime: t0, Now: t0}), nil)
	wantErr(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, u.ID, t0.Add(time.Second)), nil)
	_, err := s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: approved.DeviceCodeHash, ClientID: c.ID, Now: t0.Add(2 * time.Second)})
	wantErr(t, "poll of the withdrawn approval", err, store.ErrDenied)
	_, err = s.PollDeviceAuthorization(ctx, store.DevicePoll{DeviceCodeHash: pending.DeviceCodeHash, ClientID: c.ID, Now: t0.Add(2 * time.Second)})
	wantErr(t, "poll of another user's pending request", err, store.ErrAuthorizationPending)
}
