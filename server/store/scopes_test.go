/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	profile := &store.Scope{Name: "profile", Description: "Your name", Default: true, ManagedBy: "k8s:ns/profile"}
	wantErr(t, "CreateScope", s.CreateScope(ctx, profile), nil)
	if profile.CreatedAt.IsZero() || profile.UpdatedAt.IsZero() {
		t.Errorf("CreateScope left timestamps unset: %+v", profile)
	}
	got, err := s.GetScope(ctx, "profile")
	wantErr(t, "GetScope", err, nil)
	diff(t, "scope", got, profile)
	wantErr(t, "CreateScope again", s.CreateScope(ctx, &store.Scope{Name: "profile"}), store.ErrConflict)
	_, err = s.GetScope(ctx, "nope")
	wantErr(t, "GetScope(unknown)", err, store.ErrNotFound)

	email := &store.Scope{Name: "email"}
	created, err := s.UpsertScope(ctx, email)
	wantErr(t, "UpsertScope(new)", err, nil)
	if !created {
		t.Error("UpsertScope of a new scope reported created=false")
	}
	changed := &store.Scope{Name: "profile", Description: "Name and picture", Default: false, ManagedBy: ""}
	created, err = s.UpsertScope(ctx, changed)
	wantErr(t, "UpsertScope(existing)", err, nil)
	if created {
		t.Error("UpsertScope of an existing scope reported created=true")
	}
	if !changed.CreatedAt.Equal(profile.CreatedAt) {
		t.Errorf("CreatedAt changed on update: %v -> %v", profile.CreatedAt, changed.CreatedAt)
	}
	got, _ = s.GetScope(ctx, "profile")
	diff(t, "upserted scope", got, changed)

	mustScope(t, s, "address")
	list, err := s.ListScopes(ctx)
	wantErr(t, "ListScopes", err, nil)
	var names []string
	for _, sc := range list {
		names = append(names, sc.Name)
	}
	diff(t, "scope names", names, []string{"address", "email", "profile"})
	diff(t, "listed scope", list[2], changed)

	wantErr(t, "DeleteScope", s.DeleteScope(ctx, "email"), nil)
	_, err = s.GetScope(ctx, "email")
	wantErr(t, "GetScope after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteScope again", s.DeleteScope(ctx, "email"), store.ErrNotFound)
}
