/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// A combined rotation does for each token what its own statement would: the usable
// tokens are consumed and succeeded, each caller gets its own token back, and the
// others are left alone for RotateRefreshToken's failure path.
func TestRotateCombined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	web, other := mustClient(t, s, "web"), mustClient(t, s, "other")
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")

	good := []*store.RefreshToken{
		mustRefresh(t, s, "a1", web.ID, alice.ID, "openid", "offline_access"),
		mustRefresh(t, s, "b1", web.ID, bob.ID, "email"),
		mustRefresh(t, s, "o1", other.ID, alice.ID, "profile"),
	}
	used := mustRefresh(t, s, "used", web.ID, alice.ID)
	if _, err := s.RotateRefreshToken(ctx, rotation(used, "used-next")); err != nil {
		t.Fatal(err)
	}
	wrongClient := mustRefresh(t, s, "theirs", other.ID, bob.ID)
	expired := mustRefresh(t, s, "expired", web.ID, bob.ID)
	if _, err := s.Pool().Exec(ctx, `UPDATE refresh_tokens SET expires_at = $2 WHERE token_hash = $1`, expired.Hash, t0); err != nil {
		t.Fatal(err)
	}

	rs := []store.RefreshRotation{
		rotation(good[0], "a2"),
		rotation(used, "used-again"),
		rotation(good[1], "b2"),
		{Hash: hash("unknown"), ClientID: web.ID, Now: t0.Add(time.Minute), New: store.RefreshToken{Hash: hash("u2"), ExpiresAt: t0.Add(time.Hour)}},
		rotation(good[2], "o2"),
		rotation(expired, "expired-next"),
	}
	stolen := rotation(wrongClient, "stolen-next")
	stolen.ClientID = web.ID
	rs = append(rs, stolen)

	olds, errs := s.RotateCombined(rs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	for i, want := range map[int]*store.RefreshToken{0: good[0], 2: good[1], 4: good[2]} {
		got := olds[i]
		if got == nil {
			t.Fatalf("rotation %d of a usable token matched nothing", i)
		}
		if string(got.Hash) != string(want.Hash) || got.FamilyID != want.FamilyID || got.UserID != want.UserID || got.ClientID != want.ClientID {
			t.Errorf("rotation %d returned token %s of family %s, user %s; want family %s, user %s",
				i, got.Hash, got.FamilyID, got.UserID, want.FamilyID, want.UserID)
		}
		if !got.UsedAt.Equal(rs[i].Now) {
			t.Errorf("rotation %d: used_at %v, want %v", i, got.UsedAt, rs[i].Now)
		}
		next, err := s.GetRefreshToken(ctx, rs[i].New.Hash)
		if err != nil {
			t.Fatalf("successor of rotation %d: %v", i, err)
		}
		diff(t, fmt.Sprintf("successor of rotation %d", i), next, &store.RefreshToken{
			Hash: rs[i].New.Hash, FamilyID: want.FamilyID, ParentHash: want.Hash, ClientID: want.ClientID,
			UserID: want.UserID, Scopes: want.Scopes, AuthTime: want.AuthTime, AccessTokenJTI: rs[i].New.AccessTokenJTI,
			AccessExpiresAt: rs[i].New.AccessExpiresAt, ExpiresAt: rs[i].New.ExpiresAt, CreatedAt: rs[i].Now,
		})
	}
	for _, i := range []int{1, 3, 5, 6} {
		if olds[i] != nil {
			t.Errorf("rotation %d of an unusable token consumed %x", i, olds[i].Hash)
		}
		if _, err := s.GetRefreshToken(ctx, rs[i].New.Hash); err == nil {
			t.Errorf("rotation %d of an unusable token stored a successor", i)
		}
	}
	// The unusable ones get their reasons from the failure path, and the replay of the
	// used token revokes its family.
	wantErr(t, "replay", func() error { _, err := s.RotateRefreshToken(ctx, rs[1]); return err }(), store.ErrAlreadyUsed)
	wantErr(t, "expired", func() error { _, err := s.RotateRefreshToken(ctx, rs[5]); return err }(), store.ErrExpired)
	wantErr(t, "another client's", func() error { _, err := s.RotateRefreshToken(ctx, rs[6]); return err }(), store.ErrMismatch)
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`, used.FamilyID); n != 0 {
		t.Errorf("%d tokens of the replayed family still live", n)
	}
}

func TestRedeemCombined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	web := mustClient(t, s, "web")
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	withRefresh, withoutRefresh := mustCode(t, s, "c1", web.ID, alice.ID), mustCode(t, s, "c2", web.ID, bob.ID)
	wrongVerifier, used := mustCode(t, s, "c3", web.ID, alice.ID), mustCode(t, s, "c4", web.ID, bob.ID)
	noRefresh := func(r store.CodeRedemption) store.CodeRedemption {
		r.Refresh = nil
		return r
	}
	if _, err := s.RedeemAuthorizationCode(ctx, noRefresh(redemption(used, "first"))); err != nil {
		t.Fatal(err)
	}

	bad := noRefresh(redemption(wrongVerifier, "bad"))
	bad.CodeChallenge = "not-the-challenge"
	rs := []store.CodeRedemption{redemption(withRefresh, "r1"), bad, noRefresh(redemption(withoutRefresh, "r2")),
		noRefresh(redemption(used, "again"))}
	codes, errs := s.RedeemCombined(rs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("redemption %d: %v", i, err)
		}
	}
	for i, want := range map[int]*store.AuthorizationCode{0: withRefresh, 2: withoutRefresh} {
		got := codes[i]
		if got == nil {
			t.Fatalf("redemption %d of a redeemable code matched nothing", i)
		}
		if string(got.Hash) != string(want.Hash) || got.UserID != want.UserID || got.Nonce != want.Nonce {
			t.Errorf("redemption %d returned code of user %s, nonce %q; want %s, %q", i, got.UserID, got.Nonce, want.UserID, want.Nonce)
		}
		if got.User == nil || got.User.ID != want.UserID {
			t.Errorf("redemption %d: user %+v, want the claims of %s (the code has openid)", i, got.User, want.UserID)
		}
		if got.AccessTokenJTI != rs[i].AccessTokenJTI || !got.UsedAt.Equal(rs[i].Now) {
			t.Errorf("redemption %d recorded jti %q at %v, want %q at %v", i, got.AccessTokenJTI, got.UsedAt, rs[i].AccessTokenJTI, rs[i].Now)
		}
	}
	if codes[0].RefreshFamilyID != "fam-r1" || codes[2].RefreshFamilyID != "" {
		t.Errorf("families recorded %q and %q, want fam-r1 and none", codes[0].RefreshFamilyID, codes[2].RefreshFamilyID)
	}
	rt, err := s.GetRefreshToken(ctx, hash("rt-r1"))
	if err != nil {
		t.Fatalf("refresh token of redemption 0: %v", err)
	}
	diff(t, "refresh token of redemption 0", rt, &store.RefreshToken{
		Hash: hash("rt-r1"), FamilyID: "fam-r1", ClientID: web.ID, UserID: alice.ID, Scopes: withRefresh.Scopes,
		AuthTime: withRefresh.AuthTime, AccessTokenJTI: "at-r1", AccessExpiresAt: t0.Add(time.Hour),
		ExpiresAt: t0.Add(30 * 24 * time.Hour), CreatedAt: rs[0].Now,
	})
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE family_id <> 'fam-r1'`); n != 0 {
		t.Errorf("%d refresh tokens stored for redemptions without one", n)
	}
	for _, i := range []int{1, 3} {
		if codes[i] != nil {
			t.Errorf("redemption %d of an unredeemable code matched", i)
		}
	}
	wantErr(t, "wrong verifier", func() error { _, err := s.RedeemAuthorizationCode(ctx, rs[1]); return err }(), store.ErrMismatch)
	wantErr(t, "replay", func() error { _, err := s.RedeemAuthorizationCode(ctx, rs[3]); return err }(), store.ErrAlreadyUsed)
}

// Under concurrency with one slot, rotations queue and run combined; each still gets
// exactly its own outcome, and replays of one token race as they do alone: one wins,
// the others see it used and revoke the family.
func TestConcurrentRotationsCombine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, storetest.URL(t), store.Options{CombineSlots: 1, MaxConns: 8})
	web := mustClient(t, s, "web")
	alice := mustUser(t, s, "alice")
	const n = 60
	tokens := make([]*store.RefreshToken, n)
	for i := range tokens {
		tokens[i] = mustRefresh(t, s, fmt.Sprint("t", i), web.ID, alice.ID, "offline_access")
	}
	replayed := tokens[0]
	var (
		mu      sync.Mutex
		results = map[string]int{}
	)
	var wg sync.WaitGroup
	for round := range 3 {
		for i, tok := range tokens {
			if round > 0 && tok != replayed {
				continue
			}
			wg.Go(func() {
				old, err := s.RotateRefreshToken(ctx, rotation(tok, fmt.Sprintf("next-%d-%d", i, round)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && string(old.Hash) == string(tok.Hash):
					results["ok"]++
				case err == nil:
					t.Errorf("rotation of token %d returned token %x", i, old.Hash)
				default:
					results[err.Error()]++
				}
			})
		}
	}
	wg.Wait()
	if results["ok"] != n || results[store.ErrAlreadyUsed.Error()] != 2 || len(results) != 2 {
		t.Errorf("outcomes %v, want %d ok and 2 %q", results, n, store.ErrAlreadyUsed)
	}
	if live := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`, replayed.FamilyID); live != 0 {
		t.Errorf("%d tokens of the replayed family still live", live)
	}
	if live := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL AND revoked_at IS NULL`); live != n-1 {
		t.Errorf("%d live tokens, want one successor for each of the %d other families", live, n-1)
	}
}
