/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &registry.Registry{Store: st, Password: fastPasswords}
}

func adminUser(t *testing.T, reg *registry.Registry, name string) *store.User {
	t.Helper()
	u, err := reg.Store.GetUserByLogin(context.Background(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	if !u.Admin || u.Username != name {
		t.Fatalf("user %s is not the admin: %+v", name, u)
	}
	return u
}

func TestBootstrapWithPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := admin.BootstrapConfig{Username: "root", Password: "Xq7-cfg-secret"}
	for range 2 { // idempotent
		if err := admin.Bootstrap(ctx, reg, cfg, log); err != nil {
			t.Fatal(err)
		}
	}
	u := adminUser(t, reg, "root")
	if ok, _ := credentials.VerifyPassword(u.PasswordHash, "Xq7-cfg-secret"); !ok {
		t.Error("the admin's password is not the configured one")
	}
	c, err := reg.Store.GetClient(ctx, admin.CLIClientID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != store.Public || !c.HasGrantType("password") || !c.FirstParty || !slices.Equal(c.Scopes, admin.ScopeNames()) {
		t.Errorf("CLI client: %+v", c)
	}
	for _, name := range admin.ScopeNames() {
		s, err := reg.Store.GetScope(ctx, name)
		if err != nil || s.Description == "" {
			t.Errorf("scope %s: %+v, %v", name, s, err)
		}
	}
	counts, _ := reg.Store.Count(ctx)
	if counts != (store.Counts{Clients: 1, Users: 1, Scopes: int64(len(admin.Scopes))}) {
		t.Errorf("after two bootstraps: %+v", counts)
	}
	if strings.Contains(logs.String(), "Xq7-cfg-secret") {
		t.Error("the log shows the password")
	}
	if !strings.Contains(logs.String(), "bootstrap admin user created") {
		t.Errorf("no log of the creation: %s", logs.String())
	}
}

func TestBootstrapGeneratesPasswordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegistry(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	file := filepath.Join(t.TempDir(), "admin-password")
	cfg := admin.BootstrapConfig{Username: "root", PasswordFile: file}
	if err := admin.Bootstrap(ctx, reg, cfg, log); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(file)
	password := string(raw)
	if len(password) < 32 {
		t.Fatalf("generated password %d characters long", len(password))
	}
	u := adminUser(t, reg, "root")
	if ok, _ := credentials.VerifyPassword(u.PasswordHash, password); !ok {
		t.Error("the password in the file is not the admin's")
	}
	if strings.Contains(logs.String(), password) {
		t.Error("the log shows the generated password")
	}
	// At the next start the user exists: the file is left as it is.
	if err := admin.Bootstrap(ctx, reg, cfg, log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, raw) {
		t.Error("the password file changed at the second start")
	}

	// A file that exists is never overwritten, even when the user is missing.
	other := newRegistry(t)
	err = admin.Bootstrap(ctx, other, cfg, log)
	if err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("bootstrap over an existing password file: %v", err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, raw) {
		t.Error("the password file was overwritten")
	}
	if _, err := other.Store.GetUserByLogin(ctx, "root"); err == nil {
		t.Error("the admin was created without a password anyone knows")
	}
}

func TestBootstrapRefusesBadConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := newRegistry(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		cfg    admin.BootstrapConfig
		errHas string
	}{
		{"neither password nor file", admin.BootstrapConfig{Username: "root"}, "admin-password-file"},
		{"short password", admin.BootstrapConfig{Username: "root", Password: "short"}, "8 to 1024"},
		{"bad username", admin.BootstrapConfig{Username: "has space", Password: "long enough password"}, "username"},
		{"file in a missing directory", admin.BootstrapConfig{Username: "root", PasswordFile: filepath.Join(dir, "no", "such", "file")}, "password file"},
	}
	for _, tt := range tests {
		err := admin.Bootstrap(ctx, reg, tt.cfg, quiet)
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.errHas)
		}
		if tt.cfg.Password != "" && strings.Contains(err.Error(), tt.cfg.Password) {
			t.Errorf("%s: the error shows the password", tt.name)
		}
	}
	if counts, _ := reg.Store.Count(ctx); counts.Users != 0 {
		t.Errorf("%d users after refused bootstraps", counts.Users)
	}
	// Without a username only the scopes are made.
	if err := admin.Bootstrap(ctx, newRegistry(t), admin.BootstrapConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	// An existing user of that name is left alone, admin or not.
	if err := reg.CreateUser(ctx, &store.User{Username: "Root"}, "users own password"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Bootstrap(ctx, reg, admin.BootstrapConfig{Username: "root", Password: "Xq7-cfg-secret"}, quiet); err != nil {
		t.Fatal(err)
	}
	u, _ := reg.Store.GetUserByLogin(ctx, "root")
	if ok, _ := credentials.VerifyPassword(u.PasswordHash, "users own password"); !ok || u.Admin {
		t.Errorf("bootstrap changed an existing user: %+v", u)
	}
}
