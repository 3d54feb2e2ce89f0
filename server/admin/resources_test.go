/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// Scope names hold ':' and may hold '/': both route to the scope.
func TestScopesRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"orders:read", "https://api.example.com/orders.read", "a:b/c:d"} {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/admin/scopes", tokAll, mustJSON(t, admin.ScopeRequest{Name: name, Description: "Read orders"}))
			want(t, "create", r, http.StatusCreated)
			loc := r.header.Get("Location")
			if loc != "/admin/scopes/"+url.PathEscape(name) {
				t.Errorf("Location %q", loc)
			}
			// As the Location says (escaped), and with the name as it is unless it holds
			// "//", which HTTP path cleaning would fold.
			paths := []string{loc}
			if !strings.Contains(name, "//") {
				paths = append(paths, "/admin/scopes/"+name)
			}
			for _, path := range paths {
				r = e.do("GET", path, tokRead, "")
				want(t, "get "+path, r, http.StatusOK)
				var got admin.Scope
				r.json(t, &got)
				if got.Name != name || got.Description != "Read orders" || got.Default {
					t.Errorf("GET %s: %+v", path, got)
				}
			}
			r = e.do("PUT", loc, tokAll, `{"description":"Read all orders","default":true}`)
			want(t, "update", r, http.StatusOK)
			var got admin.Scope
			r.json(t, &got)
			if got.Name != name || got.Description != "Read all orders" || !got.Default {
				t.Errorf("updated: %+v", got)
			}
			stored, err := e.store.GetScope(e.ctx, name)
			if err != nil || stored.Description != "Read all orders" || !stored.Default {
				t.Errorf("stored after update: %+v, %v", stored, err)
			}
			want(t, "delete", e.do("DELETE", loc, tokAll, ""), http.StatusNoContent)
			want(t, "get deleted", e.do("GET", loc, tokAll, ""), http.StatusNotFound)
			want(t, "update deleted", e.do("PUT", loc, tokAll, `{}`), http.StatusNotFound)
			want(t, "delete again", e.do("DELETE", loc, tokAll, ""), http.StatusNotFound)
		})
	}
	// The owner of a scope survives an update through the API.
	if err := e.store.CreateScope(e.ctx, &store.Scope{Name: "k8s:owned", ManagedBy: "k8s:ns/owned"}); err != nil {
		t.Fatal(err)
	}
	want(t, "update owned", e.do("PUT", "/admin/scopes/k8s:owned", tokAll, `{"name":"k8s:owned","description":"d"}`), http.StatusOK)
	if s, _ := e.store.GetScope(e.ctx, "k8s:owned"); s.ManagedBy != "k8s:ns/owned" {
		t.Errorf("managed_by after update: %q", s.ManagedBy)
	}
	r := e.do("GET", "/admin/scopes", tokRead, "")
	want(t, "list", r, http.StatusOK)
	var list admin.List[admin.Scope]
	r.json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "k8s:owned" || list.Items[0].ManagedBy != "k8s:ns/owned" || list.Next != "" {
		t.Errorf("list: %+v", list)
	}
	want(t, "get empty name", e.do("GET", "/admin/scopes/", tokRead, ""), http.StatusNotFound)
}

func TestUsersRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/admin/users", tokAll, mustJSON(t, admin.UserRequest{
		Username: "alice", Email: "alice@example.com", Name: "Alice A", GivenName: "Alice", FamilyName: "A",
		EmailVerified: true, Password: "first password",
	}))
	want(t, "create", r, http.StatusCreated)
	if strings.Contains(r.body, "argon2") || strings.Contains(r.body, "password") {
		t.Fatalf("create shows the password or its hash: %s", r.body)
	}
	var alice admin.User
	r.json(t, &alice)
	if r.header.Get("Location") != "/admin/users/"+alice.ID || alice.Username != "alice" || alice.Admin || alice.Disabled || !alice.EmailVerified {
		t.Errorf("created: %+v (Location %q)", alice, r.header.Get("Location"))
	}
	r = e.do("GET", "/admin/users/"+alice.ID, tokRead, "")
	want(t, "get", r, http.StatusOK)
	var got admin.User
	r.json(t, &got)
	if d := cmp.Diff(alice, got, cmpTimes); d != "" {
		t.Errorf("get (-created +got):\n%s", d)
	}
	want(t, "get not a uuid", e.do("GET", "/admin/users/alice", tokRead, ""), http.StatusNotFound)
	want(t, "get unknown", e.do("GET", "/admin/users/00000000-0000-4000-8000-000000000000", tokRead, ""), http.StatusNotFound)

	// Paging is by username, case-insensitively.
	for _, name := range []string{"Bob", "carol", "dave"} {
		if err := e.reg.CreateUser(e.ctx, &store.User{Username: name}, "long enough password"); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	path := "/admin/users?limit=3"
	for range 3 {
		r = e.do("GET", path, tokRead, "")
		want(t, "list", r, http.StatusOK)
		var page admin.List[admin.User]
		r.json(t, &page)
		for _, u := range page.Items {
			names = append(names, u.Username)
		}
		if page.Next == "" {
			break
		}
		path = "/admin/users?limit=3&after=" + page.Next
	}
	if d := cmp.Diff([]string{"alice", "Bob", "carol", "dave"}, names); d != "" {
		t.Errorf("usernames (-want +got):\n%s", d)
	}

	// PUT replaces the profile; the password stays.
	r = e.do("PUT", "/admin/users/"+alice.ID, tokAll, `{"username":"alice","email":"alice@corp.example","admin":true}`)
	want(t, "update", r, http.StatusOK)
	r.json(t, &got)
	if got.Email != "alice@corp.example" || !got.Admin || got.Name != "" || got.EmailVerified || !got.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("updated: %+v", got)
	}
	stored, _ := e.store.GetUser(e.ctx, alice.ID)
	if ok, _ := credentials.VerifyPassword(stored.PasswordHash, "first password"); !ok {
		t.Error("PUT changed the password")
	}
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("groups of a user in none: %#v, want []", got.Groups)
	}

	// Groups: set on PUT with the profile, or alone on PUT .../groups; shown on every read.
	r = e.do("PUT", "/admin/users/"+alice.ID, tokAll, `{"username":"alice","email":"alice@corp.example","admin":true,"groups":["dev","ops:readers"]}`)
	want(t, "update with groups", r, http.StatusOK)
	r.json(t, &got)
	if !slices.Equal(got.Groups, []string{"dev", "ops:readers"}) {
		t.Errorf("groups after PUT: %v", got.Groups)
	}
	r = e.do("PUT", "/admin/users/"+alice.ID+"/groups", tokAll, `{"groups":["team/platform"]}`)
	want(t, "set groups", r, http.StatusOK)
	r.json(t, &got)
	if !slices.Equal(got.Groups, []string{"team/platform"}) || got.Email != "alice@corp.example" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("after set groups: %+v", got)
	}
	r = e.do("GET", "/admin/users/"+alice.ID, tokRead, "")
	var read admin.User
	r.json(t, &read)
	if d := cmp.Diff(got, read, cmpTimes); d != "" {
		t.Errorf("get after set groups (-answer +get):\n%s", d)
	}
	r = e.do("PUT", "/admin/users/"+alice.ID+"/groups", tokAll, `{"groups":[]}`)
	want(t, "clear groups", r, http.StatusOK)
	r.json(t, &got)
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("groups after clearing: %#v", got.Groups)
	}
	want(t, "set groups of unknown", e.do("PUT", "/admin/users/00000000-0000-4000-8000-000000000000/groups", tokAll, `{"groups":["dev"]}`), http.StatusNotFound)
	want(t, "set groups of not a uuid", e.do("PUT", "/admin/users/alice/groups", tokAll, `{"groups":["dev"]}`), http.StatusNotFound)

	r = e.do("PUT", "/admin/users/"+alice.ID, tokAll, `{"username":"bob"}`)
	want(t, "rename onto another user", r, http.StatusConflict)
	want(t, "update unknown", e.do("PUT", "/admin/users/00000000-0000-4000-8000-000000000000", tokAll, `{"username":"x"}`), http.StatusNotFound)

	// Sessions: listed without their hashes, ended on demand.
	now := time.Now()
	for i := range 2 {
		se := &store.Session{Hash: credentials.HashToken(fmt.Sprint("cookie", i)), UserID: alice.ID, AuthTime: now,
			ExpiresAt: now.Add(time.Hour), UserAgent: "Firefox", RemoteIP: "192.0.2.1"}
		if err := e.store.CreateSession(e.ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	r = e.do("GET", "/admin/users/"+alice.ID+"/sessions", tokRead, "")
	want(t, "sessions", r, http.StatusOK)
	var sessions admin.List[admin.Session]
	r.json(t, &sessions)
	if len(sessions.Items) != 2 || sessions.Items[0].UserAgent != "Firefox" || sessions.Items[0].RemoteIP != "192.0.2.1" {
		t.Errorf("sessions: %+v", sessions)
	}
	if strings.Contains(r.body, "hash") {
		t.Errorf("sessions show a hash: %s", r.body)
	}
	r = e.do("DELETE", "/admin/users/"+alice.ID+"/sessions", tokAll, "")
	want(t, "end sessions", r, http.StatusOK)
	var ended admin.EndedSessions
	r.json(t, &ended)
	if ended.SessionsEnded != 2 || !ended.TokensRevoked {
		t.Errorf("ended: %+v", ended)
	}
	if left, _ := e.store.ListUserSessions(e.ctx, alice.ID, time.Now()); len(left) != 0 {
		t.Errorf("%d sessions left after ending them", len(left))
	}
	wantUserCutoff(t, e, alice.ID)
	want(t, "sessions of unknown", e.do("GET", "/admin/users/00000000-0000-4000-8000-000000000000/sessions", tokRead, ""), http.StatusNotFound)

	// Disabling signs the user out.
	se := &store.Session{Hash: credentials.HashToken("cookie-x"), UserID: alice.ID, AuthTime: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateSession(e.ctx, se); err != nil {
		t.Fatal(err)
	}
	want(t, "disable", e.do("PUT", "/admin/users/"+alice.ID, tokAll, `{"username":"alice","disabled":true}`), http.StatusOK)
	if left, _ := e.store.ListUserSessions(e.ctx, alice.ID, time.Now()); len(left) != 0 {
		t.Errorf("disabling left %d sessions", len(left))
	}

	want(t, "delete", e.do("DELETE", "/admin/users/"+alice.ID, tokAll, ""), http.StatusNoContent)
	want(t, "get deleted", e.do("GET", "/admin/users/"+alice.ID, tokAll, ""), http.StatusNotFound)
	want(t, "delete again", e.do("DELETE", "/admin/users/"+alice.ID, tokAll, ""), http.StatusNotFound)
}

func TestPasswordResetEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := &store.User{Username: "carl", Email: "carl@example.com"}
	if err := e.reg.CreateUser(e.ctx, u, "old password"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.store.CreateSession(e.ctx, &store.Session{Hash: credentials.HashToken("c"), UserID: u.ID, AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A lockout from failed logins is lifted by the reset.
	if _, err := e.store.RecordLoginFailure(e.ctx, store.UserLockoutKey(u.ID), now, 1, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	want(t, "reset", e.do("POST", "/admin/users/"+u.ID+"/password", tokAll, `{"password":"new password"}`), http.StatusNoContent)
	stored, _ := e.store.GetUser(e.ctx, u.ID)
	if ok, _ := credentials.VerifyPassword(stored.PasswordHash, "new password"); !ok {
		t.Error("the new password does not verify")
	}
	if ok, _ := credentials.VerifyPassword(stored.PasswordHash, "old password"); ok {
		t.Error("the old password still verifies")
	}
	if left, _ := e.store.ListUserSessions(e.ctx, u.ID, time.Now()); len(left) != 0 {
		t.Errorf("%d sessions survived the reset", len(left))
	}
	wantUserCutoff(t, e, u.ID)
	if until, _ := e.store.LoginLockedUntil(e.ctx, store.UserLockoutKey(u.ID), time.Now()); !until.IsZero() {
		t.Errorf("still locked until %v after the reset", until)
	}
	want(t, "reset unknown", e.do("POST", "/admin/users/00000000-0000-4000-8000-000000000000/password", tokAll, `{"password":"new password"}`), http.StatusNotFound)
	if strings.Contains(e.log.String(), "new password") {
		t.Error("the log shows the password")
	}
}

func wantUserCutoff(t *testing.T, e *env, userID string) {
	t.Helper()
	cutoffs, err := e.store.ListCutoffs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cutoffs {
		if c.Kind == store.CutoffUser && c.Subject == userID {
			return
		}
	}
	t.Errorf("no token cutoff for user %s: %+v", userID, cutoffs)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.reg.CreateClient(e.ctx, &store.Client{ID: "cc-client", GrantTypes: []string{"client_credentials"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateScope(e.ctx, &store.Scope{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/admin/status", tokRead, "")
	want(t, "status", r, http.StatusOK)
	var st admin.Status
	r.json(t, &st)
	wantCounts := admin.Counts{Clients: 1, Users: 0, Scopes: 1}
	if st.Version != "v9.9.9-test" || st.Database != "ok" || st.Counts == nil || *st.Counts != wantCounts ||
		st.SchemaVersion != store.SchemaVersion() || st.ExpectedSchemaVersion != store.SchemaVersion() ||
		st.UptimeSeconds < 0 || time.Since(st.StartedAt) > time.Minute {
		t.Errorf("status: %+v (counts %+v)", st, st.Counts)
	}
	// With the database gone, the status says so instead of failing.
	e.store.Close()
	r = e.do("GET", "/admin/status", tokRead, "")
	want(t, "status without database", r, http.StatusOK)
	r.json(t, &st)
	if st.Database != "unavailable" {
		t.Errorf("status without database: %+v", st)
	}
}
