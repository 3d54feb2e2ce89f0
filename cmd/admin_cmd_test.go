/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// cliTestJWKS is a JWK Set with one public P-256 key (RFC 7515 appendix A.3).
const cliTestJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256",` +
	`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

// runCLI runs `authly args...` with stdin and returns what it printed.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// The client, user and scope commands give the same answers against the database and
// against the admin API; --url and --token may come from AUTHLY_ADMIN_URL and
// AUTHLY_ADMIN_TOKEN.
func TestAdminCLIOverTheAPIAndTheDatabase(t *testing.T) {
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	cfg := server.DefaultConfig()
	cfg.DatabaseURL, cfg.Issuer = storetest.URL(t), ts.URL
	cfg.Password = credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	cfg.AdminUsername, cfg.AdminPassword = "root", "root-Pa55word!"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Start(ctx)
	ts.Config.Handler = srv.Handler()

	resp, err := http.PostForm(ts.URL+"/api/v1/oauth/token", url.Values{"grant_type": {"password"},
		"client_id": {admin.CLIClientID}, "username": {"root"}, "password": {"root-Pa55word!"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("admin token: %d %v", resp.StatusCode, err)
	}
	_ = resp.Body.Close()

	api := []string{"--url", ts.URL, "--token", tok.AccessToken}
	db := []string{"--database-url", cfg.DatabaseURL}
	for _, mode := range []struct {
		name  string
		flags []string
		env   map[string]string
	}{
		{"api", api, nil},
		{"database", db, nil},
		{"api from the environment", nil, map[string]string{"AUTHLY_ADMIN_URL": ts.URL, "AUTHLY_ADMIN_TOKEN": tok.AccessToken}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for k, v := range mode.env {
				t.Setenv(k, v)
			}
			id := "cli-" + strings.ReplaceAll(mode.name, " ", "-")
			run := func(stdin string, args ...string) string {
				t.Helper()
				out, err := runCLI(t, stdin, append(append([]string{"admin"}, args...), mode.flags...)...)
				if err != nil {
					t.Fatalf("authly admin %s: %v", strings.Join(args, " "), err)
				}
				return out
			}
			var c admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "create", "--client-id", id, "--grant-types", "client_credentials", "--scopes", "orders:read")), &c); err != nil {
				t.Fatal(err)
			}
			if c.ClientID != id || c.ClientSecret == "" || c.ClientType != "confidential" {
				t.Errorf("created: %+v", c)
			}
			// A command-line tool of the device flow: public, without redirect URIs.
			var device admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "create", "--client-id", id+"-device", "--public",
				"--grant-types", "urn:ietf:params:oauth:grant-type:device_code,refresh_token", "--scopes", "openid")), &device); err != nil {
				t.Fatal(err)
			}
			if device.ClientType != "public" || device.ClientSecret != "" || len(device.GrantTypes) != 2 {
				t.Errorf("device flow client: %+v", device)
			}
			// A private_key_jwt client from a JWK Set file: no secret.
			jwksFile := filepath.Join(t.TempDir(), "jwks.json")
			if err := os.WriteFile(jwksFile, []byte(cliTestJWKS), 0o600); err != nil {
				t.Fatal(err)
			}
			var signed admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "create", "--client-id", id+"-signed", "--grant-types", "client_credentials",
				"--jwks-file", jwksFile)), &signed); err != nil {
				t.Fatal(err)
			}
			if signed.ClientSecret != "" || signed.TokenEndpointAuthMethod != "private_key_jwt" || !strings.Contains(string(signed.JWKS), "k1") {
				t.Errorf("private_key_jwt client: %+v", signed)
			}
			var byURI admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "create", "--client-id", id+"-uri", "--grant-types", "client_credentials",
				"--jwks-uri", "https://keys.example.com/jwks.json")), &byURI); err != nil {
				t.Fatal(err)
			}
			if byURI.ClientSecret != "" || byURI.JWKSURI != "https://keys.example.com/jwks.json" {
				t.Errorf("private_key_jwt client by jwks_uri: %+v", byURI)
			}
			var list []admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "list")), &list); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, l := range list {
				found = found || (l.ClientID == id && l.ClientSecret == "")
			}
			if !found {
				t.Errorf("%s not in the list %+v", id, list)
			}
			var rotated admin.Client
			if err := json.Unmarshal([]byte(run("", "client", "rotate-secret", id, "--grace", "1h")), &rotated); err != nil {
				t.Fatal(err)
			}
			if rotated.ClientSecret == "" || rotated.ClientSecret == c.ClientSecret || rotated.PreviousSecretExpiresAt == nil {
				t.Errorf("rotated: %+v", rotated)
			}
			if out := run("", "client", "delete", id); !strings.Contains(out, "deleted") {
				t.Errorf("delete said %q", out)
			}
			if _, err := runCLI(t, "", append([]string{"admin", "client", "delete", id}, mode.flags...)...); err == nil {
				t.Error("deleting a deleted client succeeded")
			}
			var u admin.User
			if err := json.Unmarshal([]byte(run("user password\n", "user", "create", "--username", id, "--groups", "dev,ops:readers", "--password-stdin")), &u); err != nil {
				t.Fatal(err)
			}
			if u.Username != id || u.ID == "" || !slices.Equal(u.Groups, []string{"dev", "ops:readers"}) {
				t.Errorf("user: %+v", u)
			}
			if err := json.Unmarshal([]byte(run("", "user", "set-groups", u.ID, "--groups", "team/platform")), &u); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Groups, []string{"team/platform"}) || u.Username != id {
				t.Errorf("user after set-groups: %+v", u)
			}
			if err := json.Unmarshal([]byte(run("", "user", "set-groups", u.ID, "--groups=")), &u); err != nil {
				t.Fatal(err)
			}
			if u.Groups == nil || len(u.Groups) != 0 {
				t.Errorf("groups after set-groups --groups=: %#v", u.Groups)
			}
			for _, bad := range [][]string{{"set-groups", u.ID}, {"set-groups", u.ID, "--groups", "a b"}, {"set-groups", "00000000-0000-4000-8000-000000000000", "--groups", "dev"}} {
				if _, err := runCLI(t, "", append(append([]string{"admin", "user"}, bad...), mode.flags...)...); err == nil {
					t.Errorf("authly admin user %s succeeded", strings.Join(bad, " "))
				}
			}
			var s admin.Scope
			if err := json.Unmarshal([]byte(run("", "scope", "create", "--name", id+":read", "--description", "d")), &s); err != nil {
				t.Fatal(err)
			}
			if s.Name != id+":read" || s.Description != "d" {
				t.Errorf("scope: %+v", s)
			}
			_, err := runCLI(t, "", append([]string{"admin", "client", "create", "--grant-types", "implicit"}, mode.flags...)...)
			if err == nil || !strings.Contains(err.Error(), "grant_types[0]") {
				t.Errorf("invalid client: %v", err)
			}
		})
	}
	if _, err := runCLI(t, "", "admin", "client", "list", "--url", ts.URL); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("--url without a token: %v", err)
	}
}
