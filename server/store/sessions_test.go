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

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	session := func(secret, userID string, created time.Duration, lifetime time.Duration) *store.Session {
		return &store.Session{
			Hash: hash(secret), UserID: userID, AuthTime: t0.Add(created), CreatedAt: t0.Add(created),
			ExpiresAt: t0.Add(created + lifetime), UserAgent: "Mozilla/5.0 " + secret, RemoteIP: "192.0.2.7",
		}
	}
	older := session("older", alice.ID, 0, 2*time.Hour)
	newer := session("newer", alice.ID, time.Minute, 2*time.Hour)
	expired := session("expired", alice.ID, -3*time.Hour, time.Hour)
	bobs := session("bobs", bob.ID, 0, time.Hour)
	for _, se := range []*store.Session{older, newer, expired, bobs} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, se), nil)
	}
	wantErr(t, "CreateSession(same hash)", s.CreateSession(ctx, session("older", bob.ID, 0, time.Hour)), store.ErrConflict)
	wantErr(t, "CreateSession(unknown user)", s.CreateSession(ctx, session("x", "00000000-0000-0000-0000-000000000000", 0, time.Hour)), store.ErrNotFound)

	got, err := s.GetSession(ctx, hash("older"), t0)
	wantErr(t, "GetSession", err, nil)
	diff(t, "session", got, older)
	_, err = s.GetSession(ctx, hash("older"), older.ExpiresAt)
	wantErr(t, "GetSession(at expiry)", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, hash("expired"), t0)
	wantErr(t, "GetSession(expired)", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, hash("unknown"), t0)
	wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)

	list, err := s.ListUserSessions(ctx, alice.ID, t0)
	wantErr(t, "ListUserSessions", err, nil)
	diff(t, "alice's live sessions, newest first", list, []*store.Session{newer, older})
	list, err = s.ListUserSessions(ctx, "not-a-uuid", t0)
	wantErr(t, "ListUserSessions(malformed)", err, nil)
	if len(list) != 0 {
		t.Errorf("sessions for a malformed id: %v", list)
	}

	wantErr(t, "DeleteSession", s.DeleteSession(ctx, hash("newer")), nil)
	wantErr(t, "DeleteSession again", s.DeleteSession(ctx, hash("newer")), store.ErrNotFound)
	_, err = s.GetSession(ctx, hash("newer"), t0)
	wantErr(t, "GetSession(deleted)", err, store.ErrNotFound)

	n, err := s.DeleteUserSessions(ctx, alice.ID)
	wantErr(t, "DeleteUserSessions", err, nil)
	if n != 2 { // older and the expired one
		t.Errorf("DeleteUserSessions deleted %d, want 2", n)
	}
	if _, err := s.GetSession(ctx, hash("bobs"), t0); err != nil {
		t.Errorf("bob's session went with alice's: %v", err)
	}
	n, err = s.DeleteUserSessions(ctx, alice.ID)
	if err != nil || n != 0 {
		t.Errorf("DeleteUserSessions again = %d, %v; want 0, nil", n, err)
	}
}
