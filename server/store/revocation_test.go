/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestAccessTokenDenyList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	wantErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "a", t0.Add(time.Hour)), nil)
	wantErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "b", t0.Add(time.Minute)), nil)
	wantErr(t, "RevokeAccessToken(already expired)", s.RevokeAccessToken(ctx, "old", t0.Add(-time.Minute)), nil)
	// Again, with an earlier and then a later expiry: idempotent, keeps the later one.
	wantErr(t, "RevokeAccessToken again", s.RevokeAccessToken(ctx, "a", t0), nil)
	wantErr(t, "RevokeAccessToken later", s.RevokeAccessToken(ctx, "b", t0.Add(2*time.Hour)), nil)

	for jti, want := range map[string]bool{"a": true, "b": true, "old": true, "never": false} {
		got, err := s.IsAccessTokenRevoked(ctx, jti)
		wantErr(t, "IsAccessTokenRevoked", err, nil)
		if got != want {
			t.Errorf("IsAccessTokenRevoked(%q) = %v, want %v", jti, got, want)
		}
	}
	list, err := s.ListRevokedTokens(ctx, t0)
	wantErr(t, "ListRevokedTokens", err, nil)
	diff(t, "unexpired deny-list", list, []store.RevokedToken{
		{JTI: "a", ExpiresAt: t0.Add(time.Hour)},
		{JTI: "b", ExpiresAt: t0.Add(2 * time.Hour)},
	})
	list, _ = s.ListRevokedTokens(ctx, t0.Add(90*time.Minute))
	diff(t, "deny-list later", list, []store.RevokedToken{{JTI: "b", ExpiresAt: t0.Add(2 * time.Hour)}})
}

func TestRevokeClientAndUserTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	web := mustClient(t, s, "web")
	cli := mustClient(t, s, "cli")
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	mustRefresh(t, s, "web-alice", web.ID, alice.ID)
	mustRefresh(t, s, "web-bob", web.ID, bob.ID)
	mustRefresh(t, s, "cli-alice", cli.ID, alice.ID)
	mustRefresh(t, s, "cli-bob", cli.ID, bob.ID)
	mustCode(t, s, "code-web-bob", web.ID, bob.ID)
	mustCode(t, s, "code-cli-alice", cli.ID, alice.ID)
	mustCode(t, s, "code-cli-bob", cli.ID, bob.ID)

	revokedTokens := func() map[string]bool {
		out := map[string]bool{}
		for _, name := range []string{"web-alice", "web-bob", "cli-alice", "cli-bob"} {
			rt, err := s.GetRefreshToken(ctx, hash(name))
			wantErr(t, "GetRefreshToken", err, nil)
			out[name] = !rt.RevokedAt.IsZero()
		}
		return out
	}
	codeUsable := func(secret string) bool {
		return count(t, s, `SELECT count(*) FROM authorization_codes WHERE code_hash = $1 AND used_at IS NULL`, hash(secret)) == 1
	}

	wantErr(t, "RevokeClientTokens", s.RevokeClientTokens(ctx, web.ID, t0), nil)
	diff(t, "revoked after client revocation", revokedTokens(), map[string]bool{"web-alice": true, "web-bob": true, "cli-alice": false, "cli-bob": false})
	if codeUsable("code-web-bob") || !codeUsable("code-cli-alice") {
		t.Error("client revocation: want web's codes burned, cli's kept")
	}

	wantErr(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, alice.ID, t0.Add(time.Minute)), nil)
	diff(t, "revoked after user revocation", revokedTokens(), map[string]bool{"web-alice": true, "web-bob": true, "cli-alice": true, "cli-bob": false})
	if codeUsable("code-cli-alice") || !codeUsable("code-cli-bob") {
		t.Error("user revocation: want alice's codes burned, bob's kept")
	}

	// A later revocation moves a cutoff on, an earlier one does not move it back.
	wantErr(t, "RevokeClientTokens later", s.RevokeClientTokens(ctx, web.ID, t0.Add(time.Hour)), nil)
	wantErr(t, "RevokeUserTokens earlier", s.RevokeUserTokens(ctx, alice.ID, t0), nil)
	cutoffs, err := s.ListCutoffs(ctx)
	wantErr(t, "ListCutoffs", err, nil)
	diff(t, "cutoffs", cutoffs, []store.Cutoff{
		{Kind: store.CutoffClient, Subject: web.ID, NotBefore: t0.Add(time.Hour)},
		{Kind: store.CutoffUser, Subject: alice.ID, NotBefore: t0.Add(time.Minute)},
	})

	wantErr(t, "RevokeUserTokens(malformed)", s.RevokeUserTokens(ctx, "alice", t0), store.ErrNotFound)
}
