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

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/authly-dev/authly-operator/server/store"
)

func fullClient(id string) *store.Client {
	return &store.Client{
		ID:                       id,
		Name:                     "Web " + id,
		Type:                     store.Confidential,
		RedirectURIs:             []string{"https://a.example.com/cb", "http://127.0.0.1:8080/cb"},
		PostLogoutRedirectURIs:   []string{"https://a.example.com/bye"},
		GrantTypes:               []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes:            []string{"code"},
		Scopes:                   []string{"openid", "profile"},
		TokenEndpointAuthMethod:  "client_secret_post",
		FirstParty:               true,
		IDTokenSignedResponseAlg: "ES256",
		SecretHash:               hash("current"),
		PreviousSecretHash:       hash("previous"),
		PreviousSecretExpiresAt:  t0.Add(time.Hour),
		ManagedBy:                "k8s:team-a/web",
	}
}

func TestClientCreateGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	tests := []struct {
		name   string
		client *store.Client
	}{
		{"every field", fullClient("full")},
		{"public client with nothing optional", &store.Client{ID: "spa", Type: store.Public, TokenEndpointAuthMethod: "none"}},
		{"id with odd characters", &store.Client{ID: "ns/name:ü 1", Type: store.Public}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Add(-time.Minute)
			c := tt.client
			wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
			if c.CreatedAt.Before(before) || !c.UpdatedAt.Equal(c.CreatedAt) {
				t.Errorf("CreatedAt %v, UpdatedAt %v: want both set to now", c.CreatedAt, c.UpdatedAt)
			}
			got, err := s.GetClient(ctx, c.ID)
			wantErr(t, "GetClient", err, nil)
			diff(t, "client", got, c)

			dup := *c
			dup.Name = "other"
			wantErr(t, "CreateClient again", s.CreateClient(ctx, &dup), store.ErrConflict)
		})
	}

	_, err := s.GetClient(ctx, "nope")
	wantErr(t, "GetClient(unknown)", err, store.ErrNotFound)
	wantErr(t, "CreateClient(bad type)", s.CreateClient(ctx, &store.Client{ID: "x", Type: "secretive"}), store.ErrInvalid)
}

func TestUpsertClientReplacesEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	c := fullClient("web")
	created, err := s.UpsertClient(ctx, c)
	wantErr(t, "UpsertClient(new)", err, nil)
	if !created {
		t.Error("UpsertClient of a new client reported created=false")
	}
	firstCreated := c.CreatedAt

	changed := &store.Client{
		ID:                       "web",
		Name:                     "Renamed",
		Type:                     store.Public,
		RedirectURIs:             []string{"https://b.example.com/cb"},
		GrantTypes:               []string{"authorization_code"},
		ResponseTypes:            []string{"code"},
		Scopes:                   []string{"email"},
		TokenEndpointAuthMethod:  "none",
		IDTokenSignedResponseAlg: "RS256",
		ManagedBy:                "k8s:team-b/web",
		// Secrets and the previous secret are dropped: nil replaces them too.
	}
	created, err = s.UpsertClient(ctx, changed)
	wantErr(t, "UpsertClient(existing)", err, nil)
	if created {
		t.Error("UpsertClient of an existing client reported created=true")
	}
	if !changed.CreatedAt.Equal(firstCreated) {
		t.Errorf("CreatedAt changed from %v to %v on update", firstCreated, changed.CreatedAt)
	}
	if changed.UpdatedAt.Before(changed.CreatedAt) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", changed.UpdatedAt, changed.CreatedAt)
	}
	got, err := s.GetClient(ctx, "web")
	wantErr(t, "GetClient", err, nil)
	diff(t, "upserted client", got, changed)
}

func TestListClientsPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for _, id := range []string{"d", "b", "e", "a", "c"} {
		mustClient(t, s, id)
	}
	ids := func(list []*store.Client) []string {
		var out []string
		for _, c := range list {
			out = append(out, c.ID)
		}
		return out
	}
	tests := []struct {
		page store.Page
		want []string
	}{
		{store.Page{}, []string{"a", "b", "c", "d", "e"}},
		{store.Page{Limit: 2}, []string{"a", "b"}},
		{store.Page{Limit: 2, After: "b"}, []string{"c", "d"}},
		{store.Page{Limit: 2, After: "d"}, []string{"e"}},
		{store.Page{Limit: 2, After: "e"}, nil},
		{store.Page{After: "bb"}, []string{"c", "d", "e"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.page), func(t *testing.T) {
			list, err := s.ListClients(ctx, tt.page)
			wantErr(t, "ListClients", err, nil)
			diff(t, "ids", ids(list), tt.want)
		})
	}
	// A listed client carries every field.
	list, err := s.ListClients(ctx, store.Page{Limit: 1})
	wantErr(t, "ListClients", err, nil)
	want, _ := s.GetClient(ctx, "a")
	diff(t, "listed client", list[0], want)
}

func TestDeleteClientRemovesItsGrantsAndCutsOffTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	other := mustClient(t, s, "other")
	u := mustUser(t, s, "alice")
	mustCode(t, s, "code", c.ID, u.ID)
	mustRefresh(t, s, "rt", c.ID, u.ID, "openid")
	keep := mustRefresh(t, s, "rt-other", other.ID, u.ID, "openid")
	wantErr(t, "GrantConsent", s.GrantConsent(ctx, u.ID, c.ID, []string{"openid"}), nil)

	wantErr(t, "DeleteClient", s.DeleteClient(ctx, c.ID, t0), nil)

	_, err := s.GetClient(ctx, c.ID)
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, hash("rt"))
	wantErr(t, "GetRefreshToken after delete", err, store.ErrNotFound)
	if _, err := s.GetRefreshToken(ctx, keep.Hash); err != nil {
		t.Errorf("another client's refresh token is gone: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM authorization_codes`); n != 0 {
		t.Errorf("%d authorization codes left, want 0", n)
	}
	scopes, err := s.ConsentedScopes(ctx, u.ID, c.ID)
	wantErr(t, "ConsentedScopes", err, nil)
	if len(scopes) != 0 {
		t.Errorf("consent survived the client: %v", scopes)
	}
	cutoffs, err := s.ListCutoffs(ctx)
	wantErr(t, "ListCutoffs", err, nil)
	diff(t, "cutoffs", cutoffs, []store.Cutoff{{Kind: store.CutoffClient, Subject: c.ID, NotBefore: t0}})

	wantErr(t, "DeleteClient again", s.DeleteClient(ctx, c.ID, t0), store.ErrNotFound)

	// Re-creating the id does not lift the cutoff; deleting it again later moves it on.
	mustClient(t, s, c.ID)
	wantErr(t, "DeleteClient of the new one", s.DeleteClient(ctx, c.ID, t0.Add(time.Hour)), nil)
	cutoffs, _ = s.ListCutoffs(ctx)
	diff(t, "cutoffs after second delete", cutoffs, []store.Cutoff{{Kind: store.CutoffClient, Subject: c.ID, NotBefore: t0.Add(time.Hour)}})
}

func TestSetClientSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	tests := []struct {
		name         string
		start        []byte // the client's secret before
		keepUntil    time.Time
		wantPrevious []byte
		wantUntil    time.Time
	}{
		{"keep the old one for a grace period", hash("old"), t0.Add(time.Hour), hash("old"), t0.Add(time.Hour)},
		{"drop the old one at once", hash("old"), time.Time{}, nil, time.Time{}},
		{"first secret of a client that had none", nil, t0.Add(time.Hour), nil, time.Time{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullClient(fmt.Sprintf("c%d", i))
			c.SecretHash = tt.start
			wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
			wantErr(t, "SetClientSecret", s.SetClientSecret(ctx, c.ID, hash("new"), tt.keepUntil), nil)
			got, err := s.GetClient(ctx, c.ID)
			wantErr(t, "GetClient", err, nil)
			want := *c
			want.SecretHash, want.PreviousSecretHash, want.PreviousSecretExpiresAt = hash("new"), tt.wantPrevious, tt.wantUntil
			diff(t, "client", got, &want, cmpopts.IgnoreFields(store.Client{}, "UpdatedAt"))
			if got.UpdatedAt.Before(c.UpdatedAt) {
				t.Errorf("UpdatedAt went back from %v to %v", c.UpdatedAt, got.UpdatedAt)
			}
		})
	}
	wantErr(t, "SetClientSecret(unknown)", s.SetClientSecret(ctx, "nope", hash("x"), time.Time{}), store.ErrNotFound)
}

func TestAnyClientHasGrantType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	want := func(grantType string, wantInUse bool) {
		t.Helper()
		got, err := s.AnyClientHasGrantType(ctx, grantType)
		wantErr(t, "AnyClientHasGrantType", err, nil)
		if got != wantInUse {
			t.Errorf("AnyClientHasGrantType(%q) = %v, want %v", grantType, got, wantInUse)
		}
	}
	want("password", false)
	mustClient(t, s, "web")
	legacy := mustClient(t, s, "legacy")
	want("password", false)
	want("refresh_token", true)
	legacy.GrantTypes = append(legacy.GrantTypes, "password")
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, legacy), nil)
	want("password", true)
	want("pass", false) // whole grant types only
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "legacy", t0), nil)
	want("password", false)
}
