/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package server assembles the Authly OAuth 2.1 / OpenID Connect server: it opens the
// database, loads the signing keys, keeps the caches in step with other replicas and serves
// the protocol, admin, health and metrics endpoints over HTTP.
package server

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/authly-dev/authly-operator/server/settings"
)

// GCPercent is the server's garbage collection target unless GOGC says otherwise
// (the `authly server` command applies it; the load tool times its ceilings under it too).
// Its live heap is small (caches of clients, keys and revoked ids), but every request
// allocates (an ES256 signature inside crypto/ecdsa, an argon2id verification its whole
// memory cost). At the default of 100 the collector runs many times a second under load; at
// 400 it runs a quarter as often, for a heap a few tens of MiB larger. What that buys in
// requests per CPU-second was measured when it was chosen (its commit says how much);
// bench/results/REPORT.md has the server's current figures.
const GCPercent = 400

// Config is everything the server is told; the `authly server` command fills it from flags
// and AUTHLY_* environment variables, the operator through the Deployment it renders.
type Config struct {
	// Version of the binary, reported by the admin API's status.
	Version string

	DatabaseURL string
	Listen      string

	// Database pool of this replica.
	PoolMinConns int32
	PoolMaxConns int32

	// Protocol: issuer, lifetimes, algorithms, password hashing, lockout.
	settings.Protocol

	// KeyEncryptionKey encrypts the private signing keys at rest (32 bytes, base64 or
	// hex). Empty stores them unencrypted, for development only.
	KeyEncryptionKey string

	// Rate limits are for the whole AuthServer; each replica enforces its share.
	settings.RateLimits

	// CORSOrigins may call the token, JWKS, discovery and userinfo endpoints from a browser.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// Bootstrap admin: created at start when no user has that name. An empty password
	// generates one and writes it once to AdminPasswordFile.
	AdminUsername     string
	AdminPassword     string
	AdminPasswordFile string

	TLSCertFile string
	TLSKeyFile  string

	ShutdownGrace time.Duration
	PurgeInterval time.Duration

	// LogFormat (json or text) and LogLevel are read by the command that builds the
	// server's logger.
	LogFormat string
	LogLevel  string

	// DebugListen, when set, serves net/http/pprof on its own address (keep it on
	// loopback): profiles of a server under load, without exposing them on the main port.
	DebugListen string

	// Clock is the protocol's time (token lifetimes, the refresh-token reuse interval);
	// nil is time.Now. Tests move it instead of waiting.
	Clock func() time.Time
}

// DefaultConfig returns the defaults of every optional setting.
func DefaultConfig() Config {
	return Config{
		Listen:        ":8000",
		PoolMinConns:  2,
		PoolMaxConns:  20,
		Protocol:      settings.DefaultProtocol(),
		RateLimits:    settings.DefaultRateLimits(),
		ShutdownGrace: 20 * time.Second,
		PurgeInterval: 5 * time.Minute,
		LogFormat:     "json",
		LogLevel:      "info",
	}
}

// Validate reports every invalid setting at once, naming each.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.DatabaseURL == "" {
		bad("%s (%s) is required", settings.FlagDatabaseURL, settings.Env(settings.FlagDatabaseURL))
	}
	if err := c.Protocol.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.PoolMaxConns < 1 || c.PoolMinConns < 0 || c.PoolMinConns > c.PoolMaxConns {
		bad("pool sizes: need 0 <= pool-min-conns (%d) <= pool-max-conns (%d), and pool-max-conns >= 1", c.PoolMinConns, c.PoolMaxConns)
	}
	if err := c.RateLimits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls-cert-file and tls-key-file go together")
	}
	return errors.Join(errs...)
}
