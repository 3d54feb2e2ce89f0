/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

const rootPassword = "root-Pa55word!"

// newAdminEnv is a server with a bootstrap admin, and an admin token got the way the
// README tells: the password grant of the bootstrap CLI client.
func newAdminEnv(t *testing.T) (*testEnv, *admin.Remote) {
	t.Helper()
	e := newTestEnv(t, func(c *server.Config) {
		c.AdminUsername, c.AdminPassword, c.Version = "root", rootPassword, "v1.2.3-e2e"
		// These tests exercise the API, and poll; the rate limits have tests of their own.
		c.AdminPerIPPerSecond, c.TokenPerIPPerSecond, c.TokenPerClientPerSecond = 10_000, 10_000, 10_000
	})
	res := e.tokenRequest("", "", url.Values{
		"grant_type": {"password"}, "client_id": {admin.CLIClientID},
		"username": {"root"}, "password": {rootPassword},
	})
	if res.status != http.StatusOK || res.AccessToken == "" {
		t.Fatalf("admin token: %d %s %s", res.status, res.Error, res.ErrorDescription)
	}
	for _, s := range admin.ScopeNames() {
		if !slices.Contains(strings.Fields(res.Scope), s) {
			t.Fatalf("admin token lacks %s: scope %q", s, res.Scope)
		}
	}
	return e, &admin.Remote{BaseURL: e.URL, Token: res.AccessToken}
}

// apiStatus is the HTTP status of an admin API error, 0 for none.
func apiStatus(err error) int {
	var e *admin.Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestAdminAPIClientsEndToEnd(t *testing.T) {
	e, api := newAdminEnv(t)
	ctx := e.ctx

	var st admin.Status
	if err := api.Do(ctx, "GET", "/admin/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != "v1.2.3-e2e" || st.Database != "ok" || st.Counts == nil || st.Counts.Users != 1 ||
		st.Counts.Clients != 1 || st.Counts.Scopes != int64(len(admin.Scopes)) {
		t.Errorf("status: %+v %+v", st, st.Counts)
	}

	// A resource server that introspects, and a worker whose tokens it checks.
	rs, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "resource-server", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Do(ctx, "POST", "/admin/scopes", admin.ScopeRequest{Name: "orders:read", Description: "Read orders"}, nil); err != nil {
		t.Fatal(err)
	}
	worker, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "worker", GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	workerToken := func(secret string) tokenResult {
		return e.tokenRequest("worker", secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}})
	}
	tok := workerToken(worker.ClientSecret)
	if tok.status != http.StatusOK {
		t.Fatalf("worker token: %d %s", tok.status, tok.ErrorDescription)
	}
	if !e.introspect("resource-server", rs.ClientSecret, tok.AccessToken) {
		t.Fatal("a fresh worker token is inactive")
	}

	// Read, list, update.
	var got admin.Client
	if err := api.Do(ctx, "GET", "/admin/clients/worker", nil, &got); err != nil || got.ClientSecret != "" || got.ClientID != "worker" {
		t.Fatalf("get: %+v %v", got, err)
	}
	page, err := api.ListClients(ctx, 2, "")
	if err != nil || len(page.Items) != 2 || page.Next == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	rest, err := api.ListClients(ctx, 2, page.Next)
	if err != nil || len(rest.Items) != 1 || rest.Next != "" {
		t.Fatalf("second page: %+v %v", rest, err)
	}
	ids := []string{page.Items[0].ClientID, page.Items[1].ClientID, rest.Items[0].ClientID}
	if !slices.Equal(ids, []string{admin.CLIClientID, "resource-server", "worker"}) {
		t.Errorf("listed %v", ids)
	}
	update := admin.ClientRequest{ClientName: "Nightly worker", GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}}
	if err := api.Do(ctx, "PUT", "/admin/clients/worker", update, &got); err != nil || got.ClientName != "Nightly worker" {
		t.Fatalf("update: %+v %v", got, err)
	}
	if tok := workerToken(worker.ClientSecret); tok.status != http.StatusOK {
		t.Fatalf("the secret stopped working after an update: %d %s", tok.status, tok.ErrorDescription)
	}

	// Regenerating the secret without grace: the old one stops, the new one works.
	rotated, err := api.RotateSecret(ctx, "worker", 0)
	if err != nil || rotated.ClientSecret == "" {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	// Every replica caches clients and drops the entry on the change notification.
	waitFor(t, "the new secret to replace the old one", func() bool {
		tok = workerToken(rotated.ClientSecret)
		return tok.status == http.StatusOK && workerToken(worker.ClientSecret).status == http.StatusUnauthorized
	})

	// Deleting the client revokes its tokens on the introspection endpoint.
	if err := api.DeleteClient(ctx, "worker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted client's token to be inactive", func() bool {
		return !e.introspect("resource-server", rs.ClientSecret, tok.AccessToken)
	})
	if code := apiStatus(api.DeleteClient(ctx, "worker")); code != http.StatusNotFound {
		t.Errorf("delete again: %d", code)
	}
	if code := apiStatus(api.Do(ctx, "GET", "/admin/clients/worker", nil, nil)); code != http.StatusNotFound {
		t.Errorf("get deleted: %d", code)
	}

	// Refusals: duplicate, unknown field, wrong content type.
	_, err = api.CreateClient(ctx, admin.ClientRequest{ClientID: "resource-server", GrantTypes: []string{"client_credentials"}})
	if code := apiStatus(err); code != http.StatusConflict {
		t.Errorf("duplicate client: %v", err)
	}
	err = api.Do(ctx, "POST", "/admin/clients", map[string]any{"grant_types": []string{"client_credentials"}, "redirect_uri": "x"}, nil)
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "redirect_uri" {
		t.Errorf("unknown field: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", e.URL+"/admin/clients", strings.NewReader("grant_types=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+api.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d", resp.StatusCode)
	}

	// Scope names with ':' route as one path value.
	var sc admin.Scope
	if err := api.Do(ctx, "PUT", "/admin/scopes/"+url.PathEscape("orders:read"), admin.ScopeRequest{Description: "Read all orders"}, &sc); err != nil || sc.Description != "Read all orders" {
		t.Errorf("update scope: %+v %v", sc, err)
	}
	if err := api.Do(ctx, "GET", "/admin/scopes/orders:read", nil, &sc); err != nil || sc.Name != "orders:read" {
		t.Errorf("get scope: %+v %v", sc, err)
	}
	if err := api.Do(ctx, "DELETE", "/admin/scopes/orders:read", nil, nil); err != nil {
		t.Error(err)
	}
}

func TestAdminAPIScopesAreEnforcedEndToEnd(t *testing.T) {
	e, api := newAdminEnv(t)
	ctx := e.ctx

	// A client granted only admin:clients:read through client_credentials may read
	// clients and nothing else.
	reader, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "auditor", GrantTypes: []string{"client_credentials"},
		Scopes: []string{admin.ScopeClientsRead}})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.tokenRequest("auditor", reader.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
	if tok.status != http.StatusOK {
		t.Fatalf("auditor token: %d %s", tok.status, tok.ErrorDescription)
	}
	auditor := &admin.Remote{BaseURL: e.URL, Token: tok.AccessToken}
	if _, err := auditor.ListClients(ctx, 0, ""); err != nil {
		t.Errorf("read with the read scope: %v", err)
	}
	_, err = auditor.CreateClient(ctx, admin.ClientRequest{GrantTypes: []string{"client_credentials"}})
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != admin.ErrInsufficientScope || ae.Scope != admin.ScopeClientsWrite {
		t.Errorf("write with a read token: %v", err)
	}
	if code := apiStatus(auditor.Do(ctx, "GET", "/admin/users", nil, nil)); code != http.StatusForbidden {
		t.Errorf("users with a clients token: %d", code)
	}

	// A user who is no admin gets no admin scope, and a token without one opens nothing.
	if _, err := api.CreateUser(ctx, admin.UserRequest{Username: "mallory", Password: "mallory password"}); err != nil {
		t.Fatal(err)
	}
	res := e.tokenRequest("", "", url.Values{"grant_type": {"password"}, "client_id": {admin.CLIClientID},
		"username": {"mallory"}, "password": {"mallory password"}, "scope": {admin.ScopeUsersWrite}})
	if res.status != http.StatusBadRequest || res.Error != "invalid_scope" {
		t.Errorf("non-admin asking for an admin scope: %d %s", res.status, res.Error)
	}
	app, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "app", GrantTypes: []string{"password"}, Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	res = e.tokenRequest("app", app.ClientSecret, url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"mallory password"}, "scope": {"openid"}})
	if res.status != http.StatusOK {
		t.Fatalf("mallory token: %d %s", res.status, res.ErrorDescription)
	}
	mallory := &admin.Remote{BaseURL: e.URL, Token: res.AccessToken}
	if code := apiStatus(mallory.Do(ctx, "GET", "/admin/status", nil, nil)); code != http.StatusForbidden {
		t.Errorf("status with an openid token: %d", code)
	}
	// No token, and a forged one.
	for _, token := range []string{"", api.Token[:len(api.Token)-4] + "AAAA"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/admin/status", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %.10q: %d %q", token, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestAdminAPIUsersEndToEnd(t *testing.T) {
	e, api := newAdminEnv(t)
	ctx := e.ctx
	rs, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "resource-server", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := api.CreateClient(ctx, admin.ClientRequest{ClientID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := api.CreateUser(ctx, admin.UserRequest{Username: "alice", Email: "alice@example.com", Password: "alice password 1"})
	if err != nil {
		t.Fatal(err)
	}
	login := func(password string) tokenResult {
		return e.tokenRequest("app", app.ClientSecret, url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {password}, "scope": {"openid offline_access"}})
	}
	tok := login("alice password 1")
	if tok.status != http.StatusOK || tok.RefreshToken == "" {
		t.Fatalf("alice login: %d %s", tok.status, tok.ErrorDescription)
	}
	// A login session, as the login page would have made.
	now := time.Now()
	if err := e.store.CreateSession(ctx, &store.Session{Hash: credentials.HashToken("alice-cookie"), UserID: alice.ID,
		AuthTime: now, ExpiresAt: now.Add(time.Hour), UserAgent: "curl"}); err != nil {
		t.Fatal(err)
	}
	var sessions admin.List[admin.Session]
	if err := api.Do(ctx, "GET", "/admin/users/"+alice.ID+"/sessions", nil, &sessions); err != nil || len(sessions.Items) != 1 {
		t.Fatalf("sessions: %+v %v", sessions, err)
	}

	// The reset ends the session and revokes what the old password got.
	if err := api.Do(ctx, "POST", "/admin/users/"+alice.ID+"/password", admin.PasswordRequest{Password: "alice password 2"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := api.Do(ctx, "GET", "/admin/users/"+alice.ID+"/sessions", nil, &sessions); err != nil || len(sessions.Items) != 0 {
		t.Errorf("sessions after reset: %+v %v", sessions, err)
	}
	waitFor(t, "alice's access token to be inactive", func() bool {
		return !e.introspect("resource-server", rs.ClientSecret, tok.AccessToken)
	})
	refreshed := e.tokenRequest("app", app.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if refreshed.status != http.StatusBadRequest {
		t.Errorf("refresh after reset: %d", refreshed.status)
	}
	if res := login("alice password 1"); res.status != http.StatusBadRequest {
		t.Errorf("old password after reset: %d", res.status)
	}
	tok = login("alice password 2")
	if tok.status != http.StatusOK {
		t.Fatalf("new password: %d %s", tok.status, tok.ErrorDescription)
	}

	// Ending the sessions signs out everywhere, tokens included.
	var ended admin.EndedSessions
	if err := api.Do(ctx, "DELETE", "/admin/users/"+alice.ID+"/sessions", nil, &ended); err != nil || !ended.TokensRevoked {
		t.Fatalf("end sessions: %+v %v", ended, err)
	}
	waitFor(t, "alice's new token to be inactive", func() bool {
		return !e.introspect("resource-server", rs.ClientSecret, tok.AccessToken)
	})

	// Update, list, delete.
	var u admin.User
	if err := api.Do(ctx, "PUT", "/admin/users/"+alice.ID, admin.UserRequest{Username: "alice", Email: "alice@corp.example", Name: "Alice"}, &u); err != nil || u.Email != "alice@corp.example" {
		t.Errorf("update: %+v %v", u, err)
	}
	var users admin.List[admin.User]
	if err := api.Do(ctx, "GET", "/admin/users?limit=1", nil, &users); err != nil || len(users.Items) != 1 || users.Items[0].Username != "alice" || users.Next == "" {
		t.Errorf("first page of users: %+v %v", users, err)
	}
	var more admin.List[admin.User]
	if err := api.Do(ctx, "GET", "/admin/users?limit=1&after="+users.Next, nil, &more); err != nil || len(more.Items) != 1 || more.Items[0].Username != "root" || more.Next != "" {
		t.Errorf("second page of users: %+v %v", more, err)
	}
	if _, err := api.CreateUser(ctx, admin.UserRequest{Username: "ALICE", Password: "another password"}); apiStatus(err) != http.StatusConflict {
		t.Errorf("duplicate user: %v", err)
	}
	if err := api.Do(ctx, "DELETE", "/admin/users/"+alice.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if code := apiStatus(api.Do(ctx, "GET", "/admin/users/"+alice.ID, nil, nil)); code != http.StatusNotFound {
		t.Errorf("get deleted user: %d", code)
	}
}
