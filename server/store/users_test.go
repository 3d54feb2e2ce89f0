/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/authly-dev/authly-operator/server/store"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestUserCreateGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	u := &store.User{
		Username: "Alice", Email: "Alice@Example.com", EmailVerified: true, Name: "Alice Liddell",
		GivenName: "Alice", FamilyName: "Liddell", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Disabled: true, Admin: true, Groups: []string{"dev", "ops"},
	}
	wantErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	if !uuidPattern.MatchString(u.ID) {
		t.Fatalf("CreateUser set ID %q, want a UUID", u.ID)
	}
	if u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
		t.Errorf("timestamps not set: %+v", u)
	}
	got, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser", err, nil)
	diff(t, "user", got, u)

	// A caller-chosen ID is kept (and read back in canonical form).
	fixed := &store.User{ID: "6F9619FF-8B86-D011-B42D-00C04FC964FF", Username: "bob"}
	wantErr(t, "CreateUser(with ID)", s.CreateUser(ctx, fixed), nil)
	if fixed.ID != "6f9619ff-8b86-d011-b42d-00c04fc964ff" {
		t.Errorf("ID = %q, want the given one in lower case", fixed.ID)
	}
	got, err = s.GetUser(ctx, "6F9619FF-8B86-D011-B42D-00C04FC964FF")
	wantErr(t, "GetUser(upper case)", err, nil)
	diff(t, "user by upper-case id", got, fixed)

	// Users without email do not collide on it.
	wantErr(t, "CreateUser(no email)", s.CreateUser(ctx, &store.User{Username: "carol"}), nil)

	conflicts := []struct {
		name string
		user store.User
		want error
	}{
		{"same username", store.User{Username: "Alice"}, store.ErrConflict},
		{"username in other case", store.User{Username: "ALICE"}, store.ErrConflict},
		{"email in other case", store.User{Username: "alice2", Email: "alice@EXAMPLE.COM"}, store.ErrConflict},
		{"same ID", store.User{ID: fixed.ID, Username: "bob2"}, store.ErrConflict},
		{"malformed ID", store.User{ID: "not-a-uuid", Username: "dave"}, store.ErrInvalid},
		{"empty username", store.User{}, store.ErrInvalid},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user
			wantErr(t, "CreateUser", s.CreateUser(ctx, &u), tt.want)
		})
	}

	for _, id := range []string{"", "nope", "6f9619ff-8b86-d011-b42d-00c04fc964f", "6f9619ff-8b86-d011-b42d-00c04fc964fx", "00000000-0000-0000-0000-000000000000"} {
		_, err := s.GetUser(ctx, id)
		wantErr(t, "GetUser("+id+")", err, store.ErrNotFound)
	}
}

func TestGetUserByLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	alice := &store.User{Username: "Alice", Email: "alice@example.com"}
	// One user's username is another's email: a username match wins.
	tricky := &store.User{Username: "bob@example.com"}
	bob := &store.User{Username: "bob", Email: "Bob@Example.com"}
	noEmail := &store.User{Username: "carol"}
	for _, u := range []*store.User{alice, tricky, bob, noEmail} {
		wantErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	}
	tests := []struct {
		login string
		want  *store.User
	}{
		{"Alice", alice},
		{"alice", alice},
		{"ALICE", alice},
		{"alice@example.com", alice},
		{"ALICE@Example.Com", alice},
		{"bob", bob},
		{"BOB@EXAMPLE.COM", tricky},
		{"carol", noEmail},
		{"", nil},
		{"nobody", nil},
		{"alice@example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			got, err := s.GetUserByLogin(ctx, tt.login)
			if tt.want == nil {
				wantErr(t, "GetUserByLogin", err, store.ErrNotFound)
				return
			}
			wantErr(t, "GetUserByLogin", err, nil)
			diff(t, "user", got, tt.want)
		})
	}
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for _, name := range []string{"dave", "Bob", "erin", "alice", "Carol"} {
		mustUser(t, s, name)
	}
	names := func(list []*store.User) []string {
		var out []string
		for _, u := range list {
			out = append(out, u.Username)
		}
		return out
	}
	tests := []struct {
		page store.Page
		want []string
	}{
		{store.Page{}, []string{"alice", "Bob", "Carol", "dave", "erin"}},
		{store.Page{Limit: 2}, []string{"alice", "Bob"}},
		{store.Page{Limit: 2, After: "Bob"}, []string{"Carol", "dave"}},
		{store.Page{Limit: 2, After: "bob"}, []string{"Carol", "dave"}},
		{store.Page{Limit: 2, After: "dave"}, []string{"erin"}},
		{store.Page{After: "erin"}, nil},
	}
	for _, tt := range tests {
		list, err := s.ListUsers(ctx, tt.page)
		wantErr(t, "ListUsers", err, nil)
		diff(t, "usernames", names(list), tt.want)
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	u := mustUser(t, s, "alice")
	mustUser(t, s, "bob")

	changed := &store.User{
		ID: u.ID, Username: "Alicia", Email: "alicia@example.org", EmailVerified: true, Name: "Alicia L",
		GivenName: "Alicia", FamilyName: "L", Disabled: true, Admin: true, Groups: []string{"dev"},
		PasswordHash: "ignored: UpdateUser leaves the password alone",
	}
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, changed), nil)
	got, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser", err, nil)
	want := *changed
	want.PasswordHash, want.CreatedAt = u.PasswordHash, u.CreatedAt
	diff(t, "updated user", got, &want)
	if got.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v -> %v", u.UpdatedAt, got.UpdatedAt)
	}

	taken := *changed
	taken.Username = "BOB"
	wantErr(t, "UpdateUser(taken username)", s.UpdateUser(ctx, &taken), store.ErrConflict)
	taken = *changed
	taken.Email = "bob@example.com"
	wantErr(t, "UpdateUser(taken email)", s.UpdateUser(ctx, &taken), store.ErrConflict)
	gone := *changed
	gone.ID = "00000000-0000-0000-0000-000000000001"
	wantErr(t, "UpdateUser(unknown)", s.UpdateUser(ctx, &gone), store.ErrNotFound)
	gone.ID = "garbage"
	wantErr(t, "UpdateUser(malformed)", s.UpdateUser(ctx, &gone), store.ErrNotFound)

	wantErr(t, "SetUserPassword", s.SetUserPassword(ctx, u.ID, "$argon2id$new"), nil)
	got, _ = s.GetUser(ctx, u.ID)
	if got.PasswordHash != "$argon2id$new" {
		t.Errorf("PasswordHash = %q after SetUserPassword", got.PasswordHash)
	}
	diff(t, "user after password change", got, &want, cmpopts.IgnoreFields(store.User{}, "PasswordHash", "UpdatedAt"))
	wantErr(t, "SetUserPassword(unknown)", s.SetUserPassword(ctx, gone.ID, "x"), store.ErrNotFound)
	wantErr(t, "SetUserPassword(unknown uuid)", s.SetUserPassword(ctx, "00000000-0000-0000-0000-000000000001", "x"), store.ErrNotFound)
}

func TestSetUserGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	u := mustUser(t, s, "alice")
	other := mustUser(t, s, "bob")

	got, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser", err, nil)
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Fatalf("a new user's groups = %#v, want an empty, non-nil list", got.Groups)
	}

	updated, err := s.SetUserGroups(ctx, u.ID, []string{"dev", "ops:readers"})
	wantErr(t, "SetUserGroups", err, nil)
	if updated.Before(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v -> %v", u.UpdatedAt, updated)
	}
	want := *u
	want.Groups, want.UpdatedAt = []string{"dev", "ops:readers"}, updated
	got, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser", err, nil)
	diff(t, "user with groups", got, &want)
	// The groups come with the user on every read: by login and in a list.
	got, err = s.GetUserByLogin(ctx, "alice")
	wantErr(t, "GetUserByLogin", err, nil)
	diff(t, "user by login", got.Groups, want.Groups)
	list, err := s.ListUsers(ctx, store.Page{})
	wantErr(t, "ListUsers", err, nil)
	if len(list) != 2 || list[0].ID != u.ID || len(list[1].Groups) != 0 {
		t.Fatalf("ListUsers = %+v", list)
	}
	diff(t, "listed groups", list[0].Groups, want.Groups)
	got, _ = s.GetUser(ctx, other.ID)
	if len(got.Groups) != 0 {
		t.Errorf("the other user's groups = %v", got.Groups)
	}

	// Removing every group.
	_, err = s.SetUserGroups(ctx, u.ID, nil)
	wantErr(t, "SetUserGroups(nil)", err, nil)
	got, _ = s.GetUser(ctx, u.ID)
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("groups after removing all = %#v", got.Groups)
	}

	for _, id := range []string{"garbage", "00000000-0000-0000-0000-000000000001"} {
		_, err := s.SetUserGroups(ctx, id, []string{"dev"})
		wantErr(t, "SetUserGroups("+id+")", err, store.ErrNotFound)
	}
}

func TestDeleteUserRevokesEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := mustClient(t, s, "web")
	u := mustUser(t, s, "alice")
	other := mustUser(t, s, "bob")
	mustRefresh(t, s, "rt", c.ID, u.ID, "openid")
	mustRefresh(t, s, "rt-bob", c.ID, other.ID, "openid")
	mustCode(t, s, "code", c.ID, u.ID)
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: hash("sess"), UserID: u.ID, AuthTime: t0, ExpiresAt: t0.Add(time.Hour)}), nil)
	wantErr(t, "GrantConsent", s.GrantConsent(ctx, u.ID, c.ID, []string{"openid"}), nil)

	wantErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID, t0), nil)

	_, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, hash("rt"))
	wantErr(t, "GetRefreshToken", err, store.ErrNotFound)
	if _, err := s.GetRefreshToken(ctx, hash("rt-bob")); err != nil {
		t.Errorf("another user's refresh token went too: %v", err)
	}
	_, err = s.GetSession(ctx, hash("sess"), t0)
	wantErr(t, "GetSession", err, store.ErrNotFound)
	if n := count(t, s, `SELECT count(*) FROM authorization_codes`); n != 0 {
		t.Errorf("%d codes left", n)
	}
	if n := count(t, s, `SELECT count(*) FROM consents`); n != 0 {
		t.Errorf("%d consents left", n)
	}
	cutoffs, _ := s.ListCutoffs(ctx)
	diff(t, "cutoffs", cutoffs, []store.Cutoff{{Kind: store.CutoffUser, Subject: u.ID, NotBefore: t0}})

	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, u.ID, t0), store.ErrNotFound)
	wantErr(t, "DeleteUser(malformed)", s.DeleteUser(ctx, "x", t0), store.ErrNotFound)
}
