/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// rotation is the rotation of the token `from` by its client at t0+1m into `to`.
func rotation(from *store.RefreshToken, to string) store.RefreshRotation {
	return store.RefreshRotation{
		Hash:     from.Hash,
		ClientID: from.ClientID,
		Now:      t0.Add(time.Minute),
		New: store.RefreshToken{
			Hash:            hash(to),
			AccessTokenJTI:  "jti-" + to,
			AccessExpiresAt: t0.Add(2 * time.Hour),
			ExpiresAt:       t0.Add(48 * time.Hour),
		},
	}
}

func TestCreateRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")

	tests := []struct {
		name  string
		token store.RefreshToken
		want  error
	}{
		{"every field", store.RefreshToken{
			Hash: hash("a"), FamilyID: "fam-a", ParentHash: hash("parent"), ClientID: c.ID, UserID: u.ID,
			Scopes: []string{"openid", "email"}, AuthTime: t0.Add(-time.Hour), AccessTokenJTI: "jti-a",
			AccessExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour), CreatedAt: t0,
			UsedAt: time.Time{}, RevokedAt: time.Time{},
		}, nil},
		{"no user, nothing optional", store.RefreshToken{Hash: hash("b"), FamilyID: "fam-b", ClientID: c.ID, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}, nil},
		{"same hash", store.RefreshToken{Hash: hash("a"), FamilyID: "fam-x", ClientID: c.ID, ExpiresAt: t0}, store.ErrConflict},
		{"no family", store.RefreshToken{Hash: hash("c"), ClientID: c.ID, ExpiresAt: t0}, store.ErrInvalid},
		{"no hash", store.RefreshToken{FamilyID: "fam-d", ClientID: c.ID, ExpiresAt: t0}, store.ErrInvalid},
		{"unknown client", store.RefreshToken{Hash: hash("e"), FamilyID: "fam-e", ClientID: "nope", ExpiresAt: t0}, store.ErrNotFound},
		{"unknown user", store.RefreshToken{Hash: hash("f"), FamilyID: "fam-f", ClientID: c.ID, UserID: "00000000-0000-0000-0000-000000000000", ExpiresAt: t0}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token
			err := s.CreateRefreshToken(ctx, &tok)
			wantErr(t, "CreateRefreshToken", err, tt.want)
			if tt.want != nil {
				return
			}
			got, err := s.GetRefreshToken(ctx, tok.Hash)
			wantErr(t, "GetRefreshToken", err, nil)
			diff(t, "refresh token", got, &tok)
		})
	}
	_, err := s.GetRefreshToken(ctx, hash("unknown"))
	wantErr(t, "GetRefreshToken(unknown)", err, store.ErrNotFound)
}

func TestRotateRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")

	tests := []struct {
		name       string
		scopes     []string
		wantScopes []string
	}{
		{"keep scopes", nil, []string{"openid", "email", "offline_access"}},
		{"narrow scopes", []string{"offline_access", "openid"}, []string{"offline_access", "openid"}},
		{"narrow to the same set", []string{"email", "offline_access", "openid"}, []string{"email", "offline_access", "openid"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := mustRefresh(t, s, fmt.Sprintf("rt%d", i), c.ID, u.ID, "openid", "email", "offline_access")
			r := rotation(from, fmt.Sprintf("rt%d-next", i))
			r.Scopes = tt.scopes
			old, err := s.RotateRefreshToken(ctx, r)
			wantErr(t, "RotateRefreshToken", err, nil)
			wantOld := *from
			wantOld.UsedAt = r.Now
			diff(t, "old token", old, &wantOld)

			got, err := s.GetRefreshToken(ctx, r.New.Hash)
			wantErr(t, "GetRefreshToken(new)", err, nil)
			want := r.New
			want.FamilyID, want.ParentHash, want.ClientID, want.UserID = from.FamilyID, from.Hash, c.ID, u.ID
			want.AuthTime, want.Scopes, want.CreatedAt = from.AuthTime, tt.wantScopes, r.Now
			diff(t, "new token", got, &want)

			// The new token rotates in turn; the chain keeps its family.
			again, err := s.RotateRefreshToken(ctx, rotation(got, fmt.Sprintf("rt%d-next2", i)))
			wantErr(t, "RotateRefreshToken(new)", err, nil)
			if again.FamilyID != from.FamilyID {
				t.Errorf("family changed along the chain: %q -> %q", from.FamilyID, again.FamilyID)
			}
		})
	}
}

func TestRotateRefreshTokenFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	mustClient(t, s, "other")
	u := mustUser(t, s, "alice")

	tests := []struct {
		name    string
		prepare func(t *testing.T, from *store.RefreshToken)
		change  func(r *store.RefreshRotation)
		want    error
	}{
		{"unknown token", nil, func(r *store.RefreshRotation) { r.Hash = hash("never issued") }, store.ErrNotFound},
		{"revoked token", func(t *testing.T, from *store.RefreshToken) {
			wantErr(t, "RevokeRefreshToken", s.RevokeRefreshToken(ctx, from.Hash, from.ClientID, t0), nil)
		}, nil, store.ErrNotFound},
		{"expired", nil, func(r *store.RefreshRotation) { r.Now = t0.Add(24 * time.Hour) }, store.ErrExpired},
		{"another client", nil, func(r *store.RefreshRotation) { r.ClientID = "other" }, store.ErrMismatch},
		{"scope widening", nil, func(r *store.RefreshRotation) { r.Scopes = []string{"openid", "admin"} }, store.ErrScopeNotAllowed},
		{"already used", func(t *testing.T, from *store.RefreshToken) {
			_, err := s.RotateRefreshToken(ctx, rotation(from, "first use"))
			wantErr(t, "first rotation", err, nil)
		}, nil, store.ErrAlreadyUsed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := mustRefresh(t, s, fmt.Sprintf("rt%d", i), c.ID, u.ID, "openid", "email")
			if tt.prepare != nil {
				tt.prepare(t, from)
			}
			r := rotation(from, fmt.Sprintf("rt%d-next", i))
			if tt.change != nil {
				tt.change(&r)
			}
			old, err := s.RotateRefreshToken(ctx, r)
			wantErr(t, "RotateRefreshToken", err, tt.want)
			if old != nil {
				t.Errorf("a failed rotation returned a token: %+v", old)
			}
			if _, err := s.GetRefreshToken(ctx, r.New.Hash); err == nil {
				t.Error("a failed rotation stored the new token")
			}
			if errors.Is(tt.want, store.ErrAlreadyUsed) || errors.Is(tt.want, store.ErrNotFound) {
				return
			}
			// Nothing was consumed: the right rotation still works.
			_, err = s.RotateRefreshToken(ctx, rotation(from, fmt.Sprintf("rt%d-retry", i)))
			wantErr(t, "RotateRefreshToken(right one)", err, nil)
		})
	}
}

// Using a rotated token again revokes the whole family, the newest token included, and
// deny-lists every unexpired access token issued in it.
func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	first := mustRefresh(t, s, "first", c.ID, u.ID, "openid")
	other := mustRefresh(t, s, "unrelated", c.ID, u.ID, "openid")

	// first -> second (its access token expires early) -> third.
	r := rotation(first, "second")
	r.New.AccessExpiresAt = t0.Add(90 * time.Second)
	_, err := s.RotateRefreshToken(ctx, r)
	wantErr(t, "rotate first", err, nil)
	second, _ := s.GetRefreshToken(ctx, hash("second"))
	r = rotation(second, "third")
	r.Now = t0.Add(2 * time.Minute)
	_, err = s.RotateRefreshToken(ctx, r)
	wantErr(t, "rotate second", err, nil)

	reuse := rotation(first, "stolen")
	reuse.Now = t0.Add(5 * time.Minute)
	_, err = s.RotateRefreshToken(ctx, reuse)
	wantErr(t, "reuse of first", err, store.ErrAlreadyUsed)

	for _, name := range []string{"first", "second", "third"} {
		rt, err := s.GetRefreshToken(ctx, hash(name))
		wantErr(t, "GetRefreshToken", err, nil)
		if !rt.RevokedAt.Equal(reuse.Now) {
			t.Errorf("%s: RevokedAt %v, want %v", name, rt.RevokedAt, reuse.Now)
		}
	}
	if rt, _ := s.GetRefreshToken(ctx, other.Hash); !rt.RevokedAt.IsZero() {
		t.Errorf("a token of another family was revoked: %+v", rt)
	}
	revoked, err := s.ListRevokedTokens(ctx, reuse.Now)
	wantErr(t, "ListRevokedTokens", err, nil)
	diff(t, "deny-list (second's access token had expired)", revoked, []store.RevokedToken{
		{JTI: "jti-first", ExpiresAt: t0.Add(time.Hour)},
		{JTI: "jti-third", ExpiresAt: t0.Add(2 * time.Hour)},
	})

	// The newest token is dead too.
	_, err = s.RotateRefreshToken(ctx, rotation(&store.RefreshToken{Hash: hash("third"), ClientID: c.ID}, "fourth"))
	wantErr(t, "rotate third after the family was revoked", err, store.ErrNotFound)
}

func TestConcurrentRotationHasOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, storetest.URL(t), store.Options{MaxConns: 25})
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	from := mustRefresh(t, s, "rt", c.ID, u.ID, "openid")

	const n = 20
	errs := parallel(n, func(i int) error {
		_, err := s.RotateRefreshToken(ctx, rotation(from, fmt.Sprintf("next-%d", i)))
		return err
	})
	diff(t, "outcomes", tally(errs), map[string]int{"ok": 1, "already used": n - 1})

	var winner int
	for i, err := range errs {
		if err == nil {
			winner = i
		}
	}
	if got := count(t, s, `SELECT count(*) FROM refresh_tokens`); got != 2 {
		t.Errorf("%d refresh tokens, want the original and the winner's", got)
	}
	rt, err := s.GetRefreshToken(ctx, hash(fmt.Sprintf("next-%d", winner)))
	wantErr(t, "GetRefreshToken(winner)", err, nil)
	if rt.RevokedAt.IsZero() {
		t.Error("the winner's token survived the reuse")
	}
	for _, jti := range []string{"jti-rt", fmt.Sprintf("jti-next-%d", winner)} {
		if revoked, _ := s.IsAccessTokenRevoked(ctx, jti); !revoked {
			t.Errorf("access token %s is not deny-listed", jti)
		}
	}
}

func TestRevokeRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	mustClient(t, s, "other")
	u := mustUser(t, s, "alice")
	first := mustRefresh(t, s, "first", c.ID, u.ID, "openid")
	_, err := s.RotateRefreshToken(ctx, rotation(first, "second"))
	wantErr(t, "RotateRefreshToken", err, nil)

	wantErr(t, "RevokeRefreshToken(other client)", s.RevokeRefreshToken(ctx, hash("second"), "other", t0), store.ErrNotFound)
	wantErr(t, "RevokeRefreshToken(unknown)", s.RevokeRefreshToken(ctx, hash("nope"), c.ID, t0), store.ErrNotFound)
	if rt, _ := s.GetRefreshToken(ctx, hash("second")); !rt.RevokedAt.IsZero() {
		t.Fatal("another client revoked the token")
	}

	now := t0.Add(10 * time.Minute)
	wantErr(t, "RevokeRefreshToken", s.RevokeRefreshToken(ctx, hash("second"), c.ID, now), nil)
	for _, name := range []string{"first", "second"} {
		rt, _ := s.GetRefreshToken(ctx, hash(name))
		if !rt.RevokedAt.Equal(now) {
			t.Errorf("%s: RevokedAt %v, want %v", name, rt.RevokedAt, now)
		}
	}
	for _, jti := range []string{"jti-first", "jti-second"} {
		if revoked, _ := s.IsAccessTokenRevoked(ctx, jti); !revoked {
			t.Errorf("%s not deny-listed", jti)
		}
	}
	// Revoking again is fine (RFC 7009) and keeps the first revocation time.
	wantErr(t, "RevokeRefreshToken again", s.RevokeRefreshToken(ctx, hash("first"), c.ID, now.Add(time.Minute)), nil)
	if rt, _ := s.GetRefreshToken(ctx, hash("first")); !rt.RevokedAt.Equal(now) {
		t.Errorf("RevokedAt moved to %v", rt.RevokedAt)
	}
}
