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
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// reuseInterval is the tests' refresh-token reuse interval.
const reuseInterval = 30 * time.Second

// graceful is the rotation of `from` into `to` at `at`, with the reuse interval.
func graceful(from *store.RefreshToken, to string, at time.Time) store.RefreshRotation {
	r := rotation(from, to)
	r.Now, r.ReuseInterval = at, reuseInterval
	return r
}

// liveChildren counts the unrevoked tokens rotated from the token with that hash.
func liveChildren(t *testing.T, s *store.Store, parent []byte) int {
	t.Helper()
	return count(t, s, `SELECT count(*) FROM refresh_tokens WHERE parent_hash = $1 AND revoked_at IS NULL`, parent)
}

func revokedTokens(t *testing.T, s *store.Store, family string) int {
	t.Helper()
	return count(t, s, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NOT NULL`, family)
}

// Within the reuse interval a rotated token rotates again: the child of the earlier
// rotation is revoked with its access token, and the new child is the only live one.
// Once a child has been used, the parent is a replay again and revokes the family.
func TestRefreshReuseIntervalRotatesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	from := mustRefresh(t, s, "rt", c.ID, u.ID, "openid", "email")
	first := t0.Add(time.Minute)

	res, err := s.RotateRefresh(ctx, graceful(from, "child-1", first))
	wantErr(t, "first rotation", err, nil)
	if res.Repeated {
		t.Error("the first rotation reports a repetition")
	}

	again := graceful(from, "child-2", first.Add(reuseInterval-time.Second))
	res, err = s.RotateRefresh(ctx, again)
	wantErr(t, "rotation within the interval", err, nil)
	if !res.Repeated || string(res.Old.Hash) != string(from.Hash) || !res.Old.UsedAt.Equal(first) {
		t.Errorf("rotation within the interval = %+v, want the parent, first used at %v, Repeated", res, first)
	}
	child1, err := s.GetRefreshToken(ctx, hash("child-1"))
	wantErr(t, "GetRefreshToken(child-1)", err, nil)
	if !child1.RevokedAt.Equal(again.Now) {
		t.Errorf("child-1 RevokedAt %v, want %v", child1.RevokedAt, again.Now)
	}
	if revoked, _ := s.IsAccessTokenRevoked(ctx, "jti-child-1"); !revoked {
		t.Error("child-1's access token is not deny-listed")
	}
	child2, err := s.GetRefreshToken(ctx, hash("child-2"))
	wantErr(t, "GetRefreshToken(child-2)", err, nil)
	want := again.New
	want.FamilyID, want.ParentHash, want.ClientID, want.UserID = from.FamilyID, from.Hash, c.ID, u.ID
	want.AuthTime, want.Scopes, want.CreatedAt = from.AuthTime, from.Scopes, again.Now
	diff(t, "child-2", child2, &want)
	if n := liveChildren(t, s, from.Hash); n != 1 {
		t.Errorf("%d live children, want 1", n)
	}
	if revoked, _ := s.IsAccessTokenRevoked(ctx, "jti-rt"); revoked {
		t.Error("the parent's access token was deny-listed")
	}

	// The client got child-2 this time and uses it; presenting the parent again, even
	// within the interval, is now a replay.
	_, err = s.RotateRefresh(ctx, graceful(child2, "grandchild", again.Now.Add(time.Second)))
	wantErr(t, "rotate child-2", err, nil)
	replay := graceful(from, "child-3", again.Now.Add(2*time.Second))
	_, err = s.RotateRefresh(ctx, replay)
	wantErr(t, "parent after its child was used", err, store.ErrAlreadyUsed)
	for _, name := range []string{"rt", "child-2", "grandchild"} {
		if rt, _ := s.GetRefreshToken(ctx, hash(name)); !rt.RevokedAt.Equal(replay.Now) {
			t.Errorf("%s: RevokedAt %v, want the family revoked at %v", name, rt.RevokedAt, replay.Now)
		}
	}
	if _, err := s.GetRefreshToken(ctx, hash("child-3")); err == nil {
		t.Error("the replay stored a token")
	}
}

// Outside the interval, from another client, with a used child, with the interval off
// or once the family is revoked, a second use revokes the family as it always did; an
// invalid narrowing is refused without revoking anything.
func TestRefreshReuseIntervalLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	mustClient(t, s, "other")
	u := mustUser(t, s, "alice")
	first := t0.Add(time.Minute)

	tests := []struct {
		name        string
		change      func(r *store.RefreshRotation)
		prepare     func(t *testing.T, from *store.RefreshToken)
		want        error
		wantRevoked bool
	}{
		{"within, narrowed", func(r *store.RefreshRotation) { r.Scopes = []string{"email"} }, nil, nil, false},
		{"at the end of the interval", func(r *store.RefreshRotation) { r.Now = first.Add(reuseInterval) }, nil, store.ErrAlreadyUsed, true},
		{"interval off", func(r *store.RefreshRotation) { r.ReuseInterval = 0 }, nil, store.ErrAlreadyUsed, true},
		{"another client", func(r *store.RefreshRotation) { r.ClientID = "other" }, nil, store.ErrAlreadyUsed, true},
		{"widening", func(r *store.RefreshRotation) { r.Scopes = []string{"openid", "profile"} }, nil, store.ErrScopeNotAllowed, false},
		{"parent expired", func(r *store.RefreshRotation) { r.Now = first.Add(reuseInterval / 2) }, func(t *testing.T, from *store.RefreshToken) {
			// A parent that expires within the interval: made so by hand, then rotated.
			if _, err := s.Pool().Exec(ctx, `UPDATE refresh_tokens SET expires_at = $2 WHERE token_hash = $1`,
				from.Hash, first.Add(reuseInterval/4)); err != nil {
				t.Fatal(err)
			}
		}, store.ErrAlreadyUsed, true},
		{"family revoked", nil, func(t *testing.T, from *store.RefreshToken) {
			wantErr(t, "RevokeRefreshToken", s.RevokeRefreshToken(ctx, from.Hash, c.ID, first), nil)
		}, store.ErrAlreadyUsed, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := mustRefresh(t, s, fmt.Sprint("rt", i), c.ID, u.ID, "openid", "email")
			child := fmt.Sprint("child", i)
			_, err := s.RotateRefresh(ctx, graceful(from, child, first))
			wantErr(t, "first rotation", err, nil)
			if tt.prepare != nil {
				tt.prepare(t, from)
			}
			r := graceful(from, fmt.Sprint("again", i), first.Add(time.Second))
			if tt.change != nil {
				tt.change(&r)
			}
			res, err := s.RotateRefresh(ctx, r)
			wantErr(t, "second use", err, tt.want)
			if tt.want == nil {
				if !res.Repeated {
					t.Error("not reported as repeated")
				}
				got, err := s.GetRefreshToken(ctx, r.New.Hash)
				wantErr(t, "GetRefreshToken(new)", err, nil)
				diff(t, "new token's scopes", got.Scopes, r.Scopes)
			} else if _, err := s.GetRefreshToken(ctx, r.New.Hash); err == nil {
				t.Error("a refused rotation stored the new token")
			}
			kid, err := s.GetRefreshToken(ctx, hash(child))
			wantErr(t, "GetRefreshToken(child)", err, nil)
			switch {
			case tt.wantRevoked && kid.RevokedAt.IsZero():
				t.Error("the family survived")
			case !tt.wantRevoked && tt.want != nil && !kid.RevokedAt.IsZero():
				t.Error("a refused rotation revoked the child")
			}
		})
	}
}

// Twenty replicas' worth of concurrent presentations of one token within the interval,
// over two pools (two replicas): all succeed, the parent keeps exactly one live child and
// the family lives on. The same after the interval: all are replays, the family is revoked.
func TestRefreshReuseIntervalConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t)
	replicas := []*store.Store{
		openStore(t, url, store.Options{MaxConns: 12}),
		openStore(t, url, store.Options{MaxConns: 12, CombineSlots: 1}),
	}
	s := replicas[0]
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	const n = 20

	for _, tt := range []struct {
		name  string
		delay time.Duration // after the first rotation, when there is one
		want  map[string]int
		// wantRepeated is how many rotations report Repeated.
		wantRepeated int
	}{
		{"fresh token, within", -1, map[string]int{"ok": n}, n - 1},
		{"rotated token, within", reuseInterval - time.Second, map[string]int{"ok": n}, n},
		{"rotated token, after", reuseInterval + time.Second, map[string]int{"already used": n}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from := mustRefresh(t, s, tt.name, c.ID, u.ID, "openid")
			at := t0.Add(time.Minute)
			if tt.delay >= 0 {
				_, err := s.RotateRefresh(ctx, graceful(from, tt.name+"/first", at))
				wantErr(t, "first rotation", err, nil)
				at = at.Add(tt.delay)
			}
			repeated := make([]bool, n)
			errs := parallel(n, func(i int) error {
				res, err := replicas[i%2].RotateRefresh(ctx, graceful(from, fmt.Sprintf("%s/%d", tt.name, i), at))
				repeated[i] = res.Repeated
				return err
			})
			diff(t, "outcomes", tally(errs), tt.want)
			if got := countTrue(repeated); got != tt.wantRepeated {
				t.Errorf("%d rotations report Repeated, want %d", got, tt.wantRepeated)
			}
			familyRevoked := revokedTokens(t, s, from.FamilyID)
			if tt.want["ok"] == n {
				if got := liveChildren(t, s, from.Hash); got != 1 {
					t.Errorf("%d live children, want 1", got)
				}
				if rt, _ := s.GetRefreshToken(ctx, from.Hash); !rt.RevokedAt.IsZero() {
					t.Error("the family was revoked")
				}
				// Every child but the live one is revoked, its access token deny-listed.
				children := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE parent_hash = $1`, from.Hash)
				if familyRevoked != children-1 {
					t.Errorf("%d of %d children revoked, want all but one", familyRevoked, children)
				}
				denied := count(t, s, `SELECT count(*) FROM revoked_tokens WHERE jti IN
					(SELECT access_jti FROM refresh_tokens WHERE parent_hash = $1 AND revoked_at IS NOT NULL)`, from.Hash)
				if denied != familyRevoked {
					t.Errorf("%d access tokens deny-listed, want %d", denied, familyRevoked)
				}
				return
			}
			if got := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`, from.FamilyID); got != 0 {
				t.Errorf("%d tokens of the family still live", got)
			}
		})
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
