/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// CLIClientID is the first-party public client the bootstrap creates so that an admin can
// get an admin token with the password grant.
const CLIClientID = "authly-admin-cli"

// BootstrapOwner is the ManagedBy of what the bootstrap creates.
const BootstrapOwner = "authly:bootstrap"

// BootstrapConfig names the first admin user. With Username empty there is none.
type BootstrapConfig struct {
	Username string
	// Password of the admin user; empty generates one and writes it to PasswordFile.
	Password     string
	PasswordFile string
}

// Bootstrap prepares a database for the admin API, at every start and on every replica
// (each step is idempotent and safe to run concurrently):
//   - the admin:* scopes exist, with descriptions;
//   - with cfg.Username set: the client CLIClientID exists, and so does an admin user of
//     that name, created with cfg.Password or with a generated password written once to
//     cfg.PasswordFile (mode 0600, never overwritten). A user of that name that exists
//     already is left as it is. The password is never logged.
func Bootstrap(ctx context.Context, reg *registry.Registry, cfg BootstrapConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Username != "" {
		if cfg.Password == "" && cfg.PasswordFile == "" {
			return errors.New("bootstrap admin: admin-username is set but neither admin-password (AUTHLY_ADMIN_PASSWORD) nor admin-password-file (AUTHLY_ADMIN_PASSWORD_FILE, to receive a generated one) is")
		}
		if cfg.Password != "" {
			if err := registry.CheckPassword(cfg.Password); err != nil {
				return fmt.Errorf("bootstrap admin: admin-password (AUTHLY_ADMIN_PASSWORD): %w", err)
			}
		}
	}
	if err := EnsureScopes(ctx, reg); err != nil {
		return err
	}
	if cfg.Username == "" {
		return nil
	}
	if err := ensureCLIClient(ctx, reg); err != nil {
		return err
	}
	return ensureAdminUser(ctx, reg, cfg, log)
}

// EnsureScopes creates the admin scopes that are missing; existing ones are left alone.
func EnsureScopes(ctx context.Context, reg *registry.Registry) error {
	for _, s := range Scopes {
		_, err := reg.Store.GetScope(ctx, s.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("bootstrap: admin scopes: %w", err)
		}
		sc := s
		sc.ManagedBy = BootstrapOwner
		if err := reg.CreateScope(ctx, &sc); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("bootstrap: admin scope %s: %w", s.Name, err)
		}
	}
	return nil
}

func ensureCLIClient(ctx context.Context, reg *registry.Registry) error {
	_, err := reg.Store.GetClient(ctx, CLIClientID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("bootstrap: client %s: %w", CLIClientID, err)
	}
	c := &store.Client{
		ID: CLIClientID, Name: "Authly admin CLI", Type: store.Public, TokenEndpointAuthMethod: "none",
		GrantTypes: []string{"password"}, Scopes: ScopeNames(), FirstParty: true, ManagedBy: BootstrapOwner,
	}
	if _, err := reg.CreateClient(ctx, c); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("bootstrap: client %s: %w", CLIClientID, err)
	}
	return nil
}

func ensureAdminUser(ctx context.Context, reg *registry.Registry, cfg BootstrapConfig, log *slog.Logger) error {
	exists, err := userExists(ctx, reg.Store, cfg.Username, log)
	if err != nil || exists {
		return err
	}
	password, file := cfg.Password, ""
	if password == "" {
		if password, err = credentials.NewToken(reg.Rand); err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		// The file is written before the user exists: a password that reached no file
		// would lock the admin out for good, since the user is never created again. No
		// newline, so that `curl --data-urlencode password@file` sends it as it is.
		if err := writeNewFile(cfg.PasswordFile, password); err != nil {
			return err
		}
		file = cfg.PasswordFile
	}
	u := &store.User{Username: cfg.Username, Name: "Administrator", Admin: true}
	if err := reg.CreateUser(ctx, u, password); err != nil {
		if file != "" {
			_ = os.Remove(file)
		}
		if errors.Is(err, store.ErrConflict) {
			// Another replica created it in the meantime.
			if exists, err2 := userExists(ctx, reg.Store, cfg.Username, log); err2 == nil && exists {
				return nil
			}
		}
		return fmt.Errorf("bootstrap admin %q: %w", cfg.Username, err)
	}
	if file != "" {
		log.InfoContext(ctx, "bootstrap admin user created; its generated password is in the password file", "username", u.Username, "user_id", u.ID, "password_file", file)
	} else {
		log.InfoContext(ctx, "bootstrap admin user created with the configured password", "username", u.Username, "user_id", u.ID)
	}
	return nil
}

// userExists reports whether a user has that username (not merely that email).
func userExists(ctx context.Context, st *store.Store, username string, log *slog.Logger) (bool, error) {
	u, err := st.GetUserByLogin(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bootstrap admin: %w", err)
	case !strings.EqualFold(u.Username, username):
		return false, nil
	}
	if !u.Admin {
		log.WarnContext(ctx, "bootstrap admin: the user exists but is not an admin; left unchanged", "username", u.Username, "user_id", u.ID)
	}
	return true, nil
}

// writeNewFile creates path with mode 0600 and writes content, refusing to replace a
// file that exists.
func writeNewFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bootstrap admin: admin password file %s exists already and is never overwritten: remove it to have a new password generated, or set admin-password", path)
	}
	if err != nil {
		return fmt.Errorf("bootstrap admin: admin password file: %w", err)
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("bootstrap admin: write admin password file: %w", err)
	}
	return nil
}
