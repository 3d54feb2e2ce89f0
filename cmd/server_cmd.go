/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/settings"
	"github.com/authly-dev/authly-operator/server/store"
)

// envFlags sets each flag that was not given on the command line from its AUTHLY_*
// variable (settings.Env, or the flag's settings.EnvAnnotation), so that flags win over the
// environment and both work in a container.
func envFlags(fs *pflag.FlagSet) error {
	return settings.ApplyEnv(fs, os.LookupEnv)
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log-format must be json or text, not %q", format)
}

func newServerCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the OAuth 2.1 / OpenID Connect server",
		Long: "Run the OAuth 2.1 / OpenID Connect server against a Postgres database. It migrates\n" +
			"the schema, creates signing keys on first start, and serves until SIGTERM.\n" +
			"Every flag can also be given as AUTHLY_<FLAG> (e.g. AUTHLY_DATABASE_URL).",
		Args: cobra.NoArgs,
	}
	finish := server.BindCommandFlags(cmd.Flags(), &cfg)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := envFlags(cmd.Flags()); err != nil {
			return err
		}
		if err := finish(); err != nil {
			return err
		}
		log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
		if err != nil {
			return err
		}
		tuneGC(server.GCPercent, cgroupMemoryMax)
		cfg.Version = version()
		srv, err := server.New(cmd.Context(), cfg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
		return srv.Run(cmd.Context())
	}
	return cmd
}

func newMigrateCommand() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema (idempotent, safe to run concurrently)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envFlags(cmd.Flags()); err != nil {
				return err
			}
			if url == "" {
				return fmt.Errorf("--database-url (AUTHLY_DATABASE_URL) is required")
			}
			if err := store.Migrate(cmd.Context(), url); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "schema at version %d\n", store.SchemaVersion())
			return err
		},
	}
	server.AddDatabaseFlag(cmd.Flags(), &url)
	return cmd
}
