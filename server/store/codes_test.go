/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// redemption is the redemption that matches a code made by mustCode, at t0, issuing a
// refresh token of family "fam-<secret>".
func redemption(code *store.AuthorizationCode, secret string) store.CodeRedemption {
	return store.CodeRedemption{
		Hash:            code.Hash,
		ClientID:        code.ClientID,
		RedirectURI:     code.RedirectURI,
		CodeChallenge:   code.CodeChallenge,
		Now:             t0.Add(10 * time.Second),
		AccessTokenJTI:  "at-" + secret,
		AccessExpiresAt: t0.Add(time.Hour),
		Refresh: &store.RefreshToken{
			Hash:            hash("rt-" + secret),
			FamilyID:        "fam-" + secret,
			AccessTokenJTI:  "at-" + secret,
			AccessExpiresAt: t0.Add(time.Hour),
			ExpiresAt:       t0.Add(30 * 24 * time.Hour),
		},
	}
}

func TestRedeemAuthorizationCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	// The groups come with the user's claims (the groups claim of the ID token).
	u.Groups = []string{"dev", "ops"}
	var err error
	u.UpdatedAt, err = s.SetUserGroups(ctx, u.ID, u.Groups)
	wantErr(t, "SetUserGroups", err, nil)

	code := mustCode(t, s, "code", c.ID, u.ID)
	r := redemption(code, "code")
	got, err := s.RedeemAuthorizationCode(ctx, r)
	wantErr(t, "RedeemAuthorizationCode", err, nil)
	want := *code
	want.UsedAt, want.AccessTokenJTI, want.AccessExpiresAt, want.RefreshFamilyID = r.Now, "at-code", t0.Add(time.Hour), "fam-code"
	// Granted openid: the user's claims come with the code, without the password hash.
	wantUser := *u
	wantUser.PasswordHash = ""
	want.User = &wantUser
	diff(t, "redeemed code", got, &want)

	wantRT := &store.RefreshToken{
		Hash: hash("rt-code"), FamilyID: "fam-code", ClientID: c.ID, UserID: u.ID, Scopes: code.Scopes,
		AuthTime: code.AuthTime, AccessTokenJTI: "at-code", AccessExpiresAt: t0.Add(time.Hour),
		ExpiresAt: t0.Add(30 * 24 * time.Hour), CreatedAt: r.Now,
	}
	diff(t, "refresh token filled in by the store", r.Refresh, wantRT)
	rt, err := s.GetRefreshToken(ctx, hash("rt-code"))
	wantErr(t, "GetRefreshToken", err, nil)
	diff(t, "stored refresh token", rt, wantRT)

	// Without Refresh no refresh token is issued.
	plain := mustCode(t, s, "plain", c.ID, u.ID)
	r = redemption(plain, "plain")
	r.Refresh = nil
	got, err = s.RedeemAuthorizationCode(ctx, r)
	wantErr(t, "RedeemAuthorizationCode(no refresh)", err, nil)
	if got.RefreshFamilyID != "" || got.AccessTokenJTI != "at-plain" {
		t.Errorf("redeemed without refresh: family %q, jti %q", got.RefreshFamilyID, got.AccessTokenJTI)
	}

	// Without openid no ID token is due, and the user is not read.
	noOpenID := &store.AuthorizationCode{Hash: hash("no-openid"), ClientID: c.ID, UserID: u.ID, RedirectURI: plain.RedirectURI,
		Scopes: []string{"offline_access"}, CodeChallenge: "challenge", ExpiresAt: t0.Add(time.Minute), CreatedAt: t0}
	if err := s.CreateAuthorizationCode(ctx, noOpenID); err != nil {
		t.Fatal(err)
	}
	r = redemption(noOpenID, "no-openid")
	r.Refresh = nil
	got, err = s.RedeemAuthorizationCode(ctx, r)
	wantErr(t, "RedeemAuthorizationCode(no openid)", err, nil)
	if got.User != nil {
		t.Errorf("redeemed without openid: user %+v read, want none", got.User)
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens`); n != 1 {
		t.Errorf("%d refresh tokens, want only the first redemption's", n)
	}

	// A refresh token without family is refused before anything is consumed.
	bad := mustCode(t, s, "bad", c.ID, u.ID)
	r = redemption(bad, "bad")
	r.Refresh.FamilyID = ""
	_, err = s.RedeemAuthorizationCode(ctx, r)
	wantErr(t, "RedeemAuthorizationCode(no family)", err, store.ErrInvalid)
	r = redemption(bad, "bad")
	_, err = s.RedeemAuthorizationCode(ctx, r)
	wantErr(t, "RedeemAuthorizationCode after a refused attempt", err, nil)
}

func TestCreateAuthorizationCodeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	code := mustCode(t, s, "code", c.ID, u.ID)

	dup := *code
	wantErr(t, "same hash", s.CreateAuthorizationCode(ctx, &dup), store.ErrConflict)
	unknownClient := *code
	unknownClient.Hash, unknownClient.ClientID = hash("other"), "nope"
	wantErr(t, "unknown client", s.CreateAuthorizationCode(ctx, &unknownClient), store.ErrNotFound)
	unknownUser := *code
	unknownUser.Hash, unknownUser.UserID = hash("other"), "00000000-0000-0000-0000-000000000000"
	wantErr(t, "unknown user", s.CreateAuthorizationCode(ctx, &unknownUser), store.ErrNotFound)
	malformedUser := *code
	malformedUser.Hash, malformedUser.UserID = hash("other"), "alice"
	wantErr(t, "malformed user", s.CreateAuthorizationCode(ctx, &malformedUser), store.ErrNotFound)

	// CreatedAt defaults to the database clock.
	now := *code
	now.Hash, now.CreatedAt = hash("now"), time.Time{}
	wantErr(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, &now), nil)
	if time.Since(now.CreatedAt).Abs() > time.Minute {
		t.Errorf("CreatedAt = %v, want about now", now.CreatedAt)
	}
}

func TestRedeemAuthorizationCodeFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	mustClient(t, s, "other")
	u := mustUser(t, s, "alice")

	tests := []struct {
		name   string
		change func(r *store.CodeRedemption)
		want   error
		burned bool // the code cannot be redeemed afterwards
	}{
		{"unknown code", func(r *store.CodeRedemption) { r.Hash = hash("never issued") }, store.ErrNotFound, false},
		{"expired", func(r *store.CodeRedemption) { r.Now = t0.Add(time.Minute) }, store.ErrExpired, false},
		{"another client", func(r *store.CodeRedemption) { r.ClientID = "other" }, store.ErrMismatch, true},
		{"another redirect URI", func(r *store.CodeRedemption) { r.RedirectURI += "x" }, store.ErrMismatch, true},
		{"wrong PKCE verifier", func(r *store.CodeRedemption) { r.CodeChallenge = "wrong" }, store.ErrMismatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := "code " + tt.name
			code := mustCode(t, s, secret, c.ID, u.ID)
			r := redemption(code, secret)
			tt.change(&r)
			got, err := s.RedeemAuthorizationCode(ctx, r)
			wantErr(t, "RedeemAuthorizationCode", err, tt.want)
			if got != nil {
				t.Errorf("a failed redemption returned a code: %+v", got)
			}
			// A failed check issues nothing.
			if _, err := s.GetRefreshToken(ctx, r.Refresh.Hash); err == nil {
				t.Error("a failed redemption stored its refresh token")
			}
			if revoked, _ := s.IsAccessTokenRevoked(ctx, r.AccessTokenJTI); revoked {
				t.Error("a failed redemption deny-listed its access token")
			}
			// Then the right redemption, in time.
			_, err = s.RedeemAuthorizationCode(ctx, redemption(code, secret))
			switch {
			case errors.Is(tt.want, store.ErrNotFound):
				wantErr(t, "RedeemAuthorizationCode(original)", err, nil)
			case tt.burned:
				wantErr(t, "RedeemAuthorizationCode after a mismatch", err, store.ErrAlreadyUsed)
			default:
				wantErr(t, "RedeemAuthorizationCode after expiry check", err, nil)
			}
		})
	}
}

func TestRedeemedCodeReplayRevokesWhatItIssued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	code := mustCode(t, s, "code", c.ID, u.ID)
	_, err := s.RedeemAuthorizationCode(ctx, redemption(code, "code"))
	wantErr(t, "first redemption", err, nil)

	// The family lives on: its first refresh token is rotated once.
	_, err = s.RotateRefreshToken(ctx, store.RefreshRotation{
		Hash: hash("rt-code"), ClientID: c.ID, Now: t0.Add(time.Minute),
		New: store.RefreshToken{Hash: hash("rt-2"), AccessTokenJTI: "at-2", AccessExpiresAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(48 * time.Hour)},
	})
	wantErr(t, "RotateRefreshToken", err, nil)

	replay := redemption(code, "replay")
	replay.Now = t0.Add(30 * time.Second) // still within the code's lifetime
	got, err := s.RedeemAuthorizationCode(ctx, replay)
	wantErr(t, "replay", err, store.ErrAlreadyUsed)
	if got != nil {
		t.Errorf("a replay returned a code: %+v", got)
	}
	for _, h := range [][]byte{hash("rt-code"), hash("rt-2")} {
		rt, err := s.GetRefreshToken(ctx, h)
		wantErr(t, "GetRefreshToken", err, nil)
		if !rt.RevokedAt.Equal(replay.Now) {
			t.Errorf("refresh token %x: RevokedAt %v, want %v", h[:4], rt.RevokedAt, replay.Now)
		}
	}
	revoked, err := s.ListRevokedTokens(ctx, replay.Now)
	wantErr(t, "ListRevokedTokens", err, nil)
	diff(t, "deny-list", revoked, []store.RevokedToken{
		{JTI: "at-code", ExpiresAt: t0.Add(time.Hour)},
		{JTI: "at-2", ExpiresAt: t0.Add(2 * time.Hour)},
	})
	if _, err := s.GetRefreshToken(ctx, hash("rt-replay")); err == nil {
		t.Error("the replay stored a refresh token")
	}

	// A replay after the code expired is still a replay.
	late := redemption(code, "late")
	late.Now = t0.Add(10 * time.Minute)
	_, err = s.RedeemAuthorizationCode(ctx, late)
	wantErr(t, "late replay", err, store.ErrAlreadyUsed)
}

// Of many concurrent redemptions of one code exactly one wins; the others see a replay,
// which revokes the winner's tokens.
func TestConcurrentCodeRedemptionHasOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, storetest.URL(t), store.Options{MaxConns: 25})
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	code := mustCode(t, s, "code", c.ID, u.ID)

	const n = 20
	redeemed := make([]*store.AuthorizationCode, n)
	errs := parallel(n, func(i int) error {
		r := redemption(code, "code")
		r.AccessTokenJTI = "at-" + string(rune('a'+i))
		r.Refresh.Hash = hash("rt-" + string(rune('a'+i)))
		r.Refresh.FamilyID = "fam-" + string(rune('a'+i))
		r.Refresh.AccessTokenJTI = r.AccessTokenJTI
		var err error
		redeemed[i], err = s.RedeemAuthorizationCode(ctx, r)
		return err
	})
	diff(t, "outcomes", tally(errs), map[string]int{"ok": 1, "already used": n - 1})

	var winner *store.AuthorizationCode
	for _, c := range redeemed {
		if c != nil {
			winner = c
		}
	}
	if winner == nil {
		t.Fatal("no winner")
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens`); n != 1 {
		t.Errorf("%d refresh tokens stored, want the winner's only", n)
	}
	rt, err := s.GetRefreshToken(ctx, hash("rt-"+winner.AccessTokenJTI[len("at-"):]))
	wantErr(t, "GetRefreshToken(winner)", err, nil)
	if rt.FamilyID != winner.RefreshFamilyID || rt.RevokedAt.IsZero() {
		t.Errorf("winner's refresh token %+v: want family %q, revoked", rt, winner.RefreshFamilyID)
	}
	revoked, err := s.IsAccessTokenRevoked(ctx, winner.AccessTokenJTI)
	wantErr(t, "IsAccessTokenRevoked", err, nil)
	if !revoked {
		t.Errorf("winner's access token %q is not deny-listed", winner.AccessTokenJTI)
	}
}
