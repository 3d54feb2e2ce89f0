/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestUpdateClientKeepsSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := fullClient("web")
	wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)

	changed := &store.Client{
		ID: "web", Name: "Renamed", Type: store.Confidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
		TokenEndpointAuthMethod: "client_secret_basic", ManagedBy: "",
		// Secrets in the argument are ignored: an update never touches them.
		SecretHash: hash("attacker"), PreviousSecretHash: hash("attacker"),
	}
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, changed), nil)
	if !changed.CreatedAt.Equal(c.CreatedAt) || changed.UpdatedAt.Before(c.UpdatedAt) {
		t.Errorf("timestamps after update: created %v (was %v), updated %v (was %v)",
			changed.CreatedAt, c.CreatedAt, changed.UpdatedAt, c.UpdatedAt)
	}
	got, err := s.GetClient(ctx, "web")
	wantErr(t, "GetClient", err, nil)
	want := *changed
	want.SecretHash, want.PreviousSecretHash, want.PreviousSecretExpiresAt = c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt
	diff(t, "updated client", got, &want, cmpopts.IgnoreFields(store.Client{}, "UpdatedAt"))

	wantErr(t, "UpdateClient(unknown)", s.UpdateClient(ctx, &store.Client{ID: "nope", Type: store.Public}), store.ErrNotFound)
	if n := count(t, s, `SELECT count(*) FROM clients`); n != 1 {
		t.Errorf("UpdateClient of an unknown client left %d clients, want 1 (no insert)", n)
	}
}

func TestUpdateScopeAndCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	counts, err := s.Count(ctx)
	wantErr(t, "Count(empty)", err, nil)
	diff(t, "counts of an empty database", counts, store.Counts{})

	sc := mustScope(t, s, "orders:read")
	mustScope(t, s, "orders:write")
	mustClient(t, s, "web")
	mustUser(t, s, "alice")
	mustUser(t, s, "bob")
	mustUser(t, s, "carol")

	changed := &store.Scope{Name: "orders:read", Description: "Read your orders", Default: true}
	wantErr(t, "UpdateScope", s.UpdateScope(ctx, changed), nil)
	if !changed.CreatedAt.Equal(sc.CreatedAt) {
		t.Errorf("CreatedAt changed on update: %v -> %v", sc.CreatedAt, changed.CreatedAt)
	}
	got, err := s.GetScope(ctx, "orders:read")
	wantErr(t, "GetScope", err, nil)
	diff(t, "updated scope", got, changed)
	wantErr(t, "UpdateScope(unknown)", s.UpdateScope(ctx, &store.Scope{Name: "nope"}), store.ErrNotFound)

	counts, err = s.Count(ctx)
	wantErr(t, "Count", err, nil)
	diff(t, "counts", counts, store.Counts{Clients: 1, Users: 3, Scopes: 2})
}
