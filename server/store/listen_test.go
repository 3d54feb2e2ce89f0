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
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// Every write of something replicas cache reaches the Listen of another Store on the
// same database.
func TestWritesNotifyOtherReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t)
	writer := openStore(t, url, store.Options{})
	reader := openStore(t, url, store.Options{})
	r := listen(t, reader)

	c := mustClient(t, writer, "web")
	u := mustUser(t, writer, "alice")
	userChange := store.Change{Kind: store.ChangeUser, Key: u.ID}
	r.waitFor(t, userChange, 1) // CreateUser
	change := func(kind, key string) store.Change { return store.Change{Kind: kind, Key: key} }
	tests := []struct {
		name  string
		write func() error
		want  []store.Change
	}{
		{"create client", func() error { mustClient(t, writer, "cli"); return nil }, []store.Change{change(store.ChangeClient, "cli")}},
		{"upsert client", func() error { _, err := writer.UpsertClient(ctx, c); return err }, []store.Change{change(store.ChangeClient, "web")}},
		{"set client secret", func() error { return writer.SetClientSecret(ctx, "cli", hash("s2"), t0) }, []store.Change{change(store.ChangeClient, "cli")}},
		{"delete client", func() error { return writer.DeleteClient(ctx, "cli", t0) }, []store.Change{change(store.ChangeClient, "cli"), change(store.ChangeCutoff, "client:cli")}},
		{"create scope", func() error { mustScope(t, writer, "email"); return nil }, []store.Change{change(store.ChangeScope, "email")}},
		{"upsert scope", func() error { _, err := writer.UpsertScope(ctx, &store.Scope{Name: "email"}); return err }, []store.Change{change(store.ChangeScope, "email")}},
		{"delete scope", func() error { return writer.DeleteScope(ctx, "email") }, []store.Change{change(store.ChangeScope, "email")}},
		{"update user", func() error { return writer.UpdateUser(ctx, u) }, []store.Change{userChange}},
		{"set password", func() error { return writer.SetUserPassword(ctx, u.ID, "h") }, []store.Change{userChange}},
		{"revoke user tokens", func() error { return writer.RevokeUserTokens(ctx, u.ID, t0) }, []store.Change{change(store.ChangeCutoff, "user:"+u.ID)}},
		{"delete user", func() error { return writer.DeleteUser(ctx, u.ID, t0) }, []store.Change{userChange, change(store.ChangeCutoff, "user:"+u.ID)}},
		{"revoke client tokens", func() error { return writer.RevokeClientTokens(ctx, "web", t0) }, []store.Change{change(store.ChangeCutoff, "client:web")}},
		{"revoke access token", func() error { return writer.RevokeAccessToken(ctx, "jti-1", t0) }, []store.Change{change(store.ChangeRevoked, "jti-1")}},
		{"revoke refresh family", func() error {
			mustRefresh(t, writer, "rt", "web", "")
			return writer.RevokeRefreshToken(ctx, hash("rt"), "web", t0)
		}, []store.Change{change(store.ChangeRevoked, "jti-rt")}},
		{"insert key", func() error { return writer.InsertSigningKey(ctx, key("k1", "ES256", store.KeyNext)) }, []store.Change{change(store.ChangeKey, "k1")}},
		{"rotate keys", func() error { return writer.RotateSigningKeys(ctx, "ES256", key("k2", "ES256", ""), t0) }, []store.Change{change(store.ChangeKey, "k1"), change(store.ChangeKey, "k2")}},
		{"rotate keys again", func() error { return writer.RotateSigningKeys(ctx, "ES256", nil, t0) }, []store.Change{change(store.ChangeKey, "k1"), change(store.ChangeKey, "k2")}},
		{"delete expired keys", func() error { _, err := writer.DeleteExpiredKeys(ctx, t0, 0); return err }, []store.Change{change(store.ChangeKey, "k1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[store.Change]int{}
			for _, want := range tt.want {
				before[want] = r.count(want)
			}
			wantErr(t, tt.name, tt.write(), nil)
			for _, w := range tt.want {
				r.waitFor(t, w, before[w]+1)
			}
		})
	}
	// The listener only ever connected once.
	if n := r.count(store.Change{Kind: store.ChangeReset}); n != 1 {
		t.Errorf("%d resets, want 1", n)
	}
}

// A listener whose connection dies reconnects, tells its caller to drop caches, and
// delivers later changes.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.URL(t)
	errc := make(chan error, 10)
	s := openStore(t, url, store.Options{ApplicationName: "replica-a", OnListenError: func(err error) { errc <- err }})
	r := listen(t, s)
	mustScope(t, s, "before")
	r.waitFor(t, store.Change{Kind: store.ChangeScope, Key: "before"}, 1)

	var killed int
	err := s.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, "replica-a"+store.ListenerSuffix).Scan(&killed)
	wantErr(t, "pg_terminate_backend", err, nil)
	if killed != 1 {
		t.Fatalf("terminated %d listener connections, want 1", killed)
	}
	r.waitFor(t, store.Change{Kind: store.ChangeReset}, 2)
	select {
	case err := <-errc:
		if err == nil {
			t.Error("OnListenError got a nil error")
		}
	case <-time.After(5 * time.Second):
		t.Error("OnListenError was not called for the dropped connection")
	}

	mustScope(t, s, "after")
	r.waitFor(t, store.Change{Kind: store.ChangeScope, Key: "after"}, 1)
}

// Listen returns nil when its context ends, also while it is waiting to reconnect to a
// database that is not there.
func TestListenStopsWithContext(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, func(store.Change) {}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		wantErr(t, "Listen", err, nil)
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return after cancel")
	}

	// A database that refuses new connections: Listen keeps retrying (telling
	// OnListenError each time) until cancelled.
	errc := make(chan error, 100)
	refusing := openStore(t, storetest.URL(t), store.Options{OnListenError: func(err error) {
		select {
		case errc <- err:
		default:
		}
	}})
	bg := context.Background()
	var db string
	wantErr(t, "current_database", refusing.Pool().QueryRow(bg, `SELECT current_database()`).Scan(&db), nil)
	// A database cannot lock itself out; do it from another one.
	_, err := s.Pool().Exec(bg, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	wantErr(t, "ALTER DATABASE", err, nil)
	ctx, cancel = context.WithCancel(bg)
	defer cancel()
	go func() {
		done <- refusing.Listen(ctx, func(c store.Change) { t.Errorf("change %+v from a database that refuses connections", c) })
	}()
	for i := range 2 {
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("OnListenError got a nil error")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no connection attempt #%d within 10s", i+1)
		}
	}
	cancel()
	select {
	case err := <-done:
		wantErr(t, "Listen(refused)", err, nil)
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return after cancel while reconnecting")
	}
}

func TestParseChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    store.Change
	}{
		{"client:web", store.Change{Kind: store.ChangeClient, Key: "web"}},
		{"cutoff:user:6f9619ff-8b86-d011-b42d-00c04fc964ff", store.Change{Kind: store.ChangeCutoff, Key: "user:6f9619ff-8b86-d011-b42d-00c04fc964ff"}},
		{"scope:", store.Change{Kind: store.ChangeScope}},
		{"reset", store.Change{Kind: store.ChangeReset}},
		{"", store.Change{}},
	}
	for _, tt := range tests {
		diff(t, tt.payload, store.ParseChange(tt.payload), tt.want)
	}
}
