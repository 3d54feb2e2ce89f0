/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/authly-dev/authly-operator/server"
)

// The operator renders AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL (controllers); the server reads
// it into its reuse interval, which stays within its bounds.
func TestServerRefreshTokenReuseInterval(t *testing.T) {
	parse := func(t *testing.T, env string) server.Config {
		t.Helper()
		cfg := server.DefaultConfig()
		fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
		_ = server.BindFlags(fs, &cfg)
		if env != "" {
			t.Setenv("AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL", env)
		}
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := envFlags(fs); err != nil {
			t.Fatal(err)
		}
		cfg.DatabaseURL, cfg.Issuer = "postgres://db", "https://auth.example.com"
		return cfg
	}
	if cfg := parse(t, ""); cfg.RefreshTokenReuseInterval != 0 || cfg.Validate() != nil {
		t.Errorf("default: interval %v, Validate %v; want 0 and valid", cfg.RefreshTokenReuseInterval, cfg.Validate())
	}
	if cfg := parse(t, "45s"); cfg.RefreshTokenReuseInterval != 45*time.Second || cfg.Validate() != nil {
		t.Errorf("45s: interval %v, Validate %v", cfg.RefreshTokenReuseInterval, cfg.Validate())
	}
	for _, bad := range []string{"6m", "-1s"} {
		cfg := parse(t, bad)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "refresh-token-reuse-interval") {
			t.Errorf("%s: Validate = %v, want an error naming refresh-token-reuse-interval", bad, err)
		}
	}
}
