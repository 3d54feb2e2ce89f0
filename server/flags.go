/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/authly-dev/authly-operator/server/settings"
)

// AddDatabaseFlag binds --database-url (AUTHLY_DATABASE_URL) to url.
func AddDatabaseFlag(fs *pflag.FlagSet, url *string) {
	fs.StringVar(url, settings.FlagDatabaseURL, "", "Postgres URL, postgres://user:pass@host:5432/db (env AUTHLY_DATABASE_URL)")
}

// BindFlags binds every server setting to a flag of fs, named from the settings table, and
// so to its AUTHLY_* variable (settings.ApplyEnv). Call finish once the flags and the
// environment are read: it parses the settings that need more than a flag's type.
func BindFlags(fs *pflag.FlagSet, cfg *Config) (finish func() error) {
	AddDatabaseFlag(fs, &cfg.DatabaseURL)
	fs.StringVar(&cfg.Issuer, settings.FlagIssuer, "", "issuer URL clients reach the server at (env AUTHLY_ISSUER)")
	fs.StringVar(&cfg.Listen, settings.FlagListen, cfg.Listen, "address to listen on")
	fs.Int32Var(&cfg.PoolMinConns, settings.FlagPoolMinConns, cfg.PoolMinConns, "database connections kept open")
	fs.Int32Var(&cfg.PoolMaxConns, settings.FlagPoolMaxConns, cfg.PoolMaxConns, "database connections at most")
	fs.DurationVar(&cfg.AccessTokenTTL, settings.FlagAccessTokenTTL, cfg.AccessTokenTTL, "access token lifetime")
	fs.DurationVar(&cfg.RefreshTokenTTL, settings.FlagRefreshTokenTTL, cfg.RefreshTokenTTL, "refresh token lifetime")
	fs.DurationVar(&cfg.RefreshTokenReuseInterval, settings.FlagRefreshTokenReuseInterval, cfg.RefreshTokenReuseInterval,
		"how long after its rotation a refresh token may be presented again by its client (a lost response) without revoking its grant; 0 is strict, at most 5m")
	fs.DurationVar(&cfg.IDTokenTTL, settings.FlagIDTokenTTL, cfg.IDTokenTTL, "ID token lifetime")
	fs.DurationVar(&cfg.CodeTTL, settings.FlagCodeTTL, cfg.CodeTTL, "authorization code lifetime")
	fs.DurationVar(&cfg.SessionTTL, settings.FlagSessionTTL, cfg.SessionTTL, "login session lifetime")
	fs.DurationVar(&cfg.DeviceCodeTTL, settings.FlagDeviceCodeTTL, cfg.DeviceCodeTTL, "how long a device authorization request (RFC 8628) waits for the user")
	fs.DurationVar(&cfg.DevicePollInterval, settings.FlagDevicePollInterval, cfg.DevicePollInterval, "polling interval a device starts with (whole seconds)")
	fs.StringVar(&cfg.AccessTokenAlg, settings.FlagAccessTokenAlg, cfg.AccessTokenAlg, "access token signing algorithm: ES256 or RS256")
	fs.StringVar(&cfg.IDTokenAlg, settings.FlagIDTokenAlg, cfg.IDTokenAlg, "default ID token signing algorithm: RS256 or ES256")
	fs.StringVar(&cfg.KeyEncryptionKey, settings.FlagKeyEncryptionKey, "", "32-byte key (base64 or hex) encrypting signing keys at rest (env AUTHLY_KEY_ENCRYPTION_KEY)")
	fs.Uint32Var(&cfg.Password.Memory, settings.FlagArgon2Memory, cfg.Password.Memory, "argon2id memory in KiB")
	fs.Uint32Var(&cfg.Password.Iterations, settings.FlagArgon2Iterations, cfg.Password.Iterations, "argon2id iterations")
	fs.Uint8Var(&cfg.Password.Parallelism, settings.FlagArgon2Parallelism, cfg.Password.Parallelism, "argon2id parallelism")
	fs.IntVar(&cfg.LockoutFailures, settings.FlagLockoutFailures, cfg.LockoutFailures, "failed logins before an account is locked")
	fs.DurationVar(&cfg.LockoutWindow, settings.FlagLockoutWindow, cfg.LockoutWindow, "window in which failed logins are counted")
	fs.DurationVar(&cfg.LockoutDuration, settings.FlagLockoutDuration, cfg.LockoutDuration, "how long a locked account stays locked")
	fs.IntVar(&cfg.Replicas, settings.FlagReplicas, cfg.Replicas, "replicas of this AuthServer (each enforces its share of the rate limits)")
	fs.Float64Var(&cfg.TokenPerClientPerSecond, settings.FlagRateTokenPerClient, cfg.TokenPerClientPerSecond, "token requests per second per client, whole AuthServer")
	fs.Float64Var(&cfg.TokenPerIPPerSecond, settings.FlagRateTokenPerIP, cfg.TokenPerIPPerSecond, "token, introspection and revocation requests per second per source IP, whole AuthServer")
	fs.Float64Var(&cfg.LoginPerIPPerMinute, settings.FlagRateLoginPerIP, cfg.LoginPerIPPerMinute, "authorize requests per minute per source IP, whole AuthServer")
	fs.Float64Var(&cfg.UserCodeFailuresPerMinute, settings.FlagRateUserCodeFailures, cfg.UserCodeFailuresPerMinute,
		"user codes per minute entered on the device verification page that match no request, all addresses together, whole AuthServer")
	fs.Float64Var(&cfg.AdminPerIPPerSecond, settings.FlagRateAdminPerIP, cfg.AdminPerIPPerSecond, "admin API requests per second per source IP, whole AuthServer")
	fs.DurationVar(&cfg.ClientAssertionMaxLifetime, settings.FlagClientAssertionMaxLifetime, cfg.ClientAssertionMaxLifetime,
		"how far ahead a private_key_jwt client assertion's exp may be (at most 1h)")
	fs.StringSliceVar(&cfg.ClientKeysAllowedHosts, settings.FlagClientKeysAllowedHosts, nil,
		"host names, IP addresses or CIDRs a client's jwks_uri may reach although loopback, link-local, private or cluster-internal")
	fs.StringSliceVar(&cfg.CORSOrigins, settings.FlagCORSOrigins, nil, "origins allowed to call the token, JWKS, discovery and userinfo endpoints")
	proxies := fs.StringSlice(settings.FlagTrustedProxies, nil, "CIDRs whose X-Forwarded-For is trusted")
	fs.StringVar(&cfg.AdminUsername, settings.FlagAdminUsername, "", "bootstrap admin user created at start when missing")
	fs.StringVar(&cfg.AdminPassword, settings.FlagAdminPassword, "", "bootstrap admin password (env AUTHLY_ADMIN_PASSWORD); empty generates one into --admin-password-file")
	fs.StringVar(&cfg.AdminPasswordFile, settings.FlagAdminPasswordFile, "", "file the generated bootstrap admin password is written to, once")
	fs.StringVar(&cfg.TLSCertFile, settings.FlagTLSCertFile, "", "serve TLS with this certificate")
	fs.StringVar(&cfg.TLSKeyFile, settings.FlagTLSKeyFile, "", "and this key")
	fs.DurationVar(&cfg.ShutdownGrace, settings.FlagShutdownGrace, cfg.ShutdownGrace, "time in-flight requests get on SIGTERM")
	fs.StringVar(&cfg.DebugListen, settings.FlagDebugListen, "", "serve /debug/pprof on this address (e.g. 127.0.0.1:6060); off by default")
	return func() error {
		cfg.TrustedProxies = cfg.TrustedProxies[:0]
		for _, p := range *proxies {
			prefix, err := parsePrefix(p)
			if err != nil {
				return fmt.Errorf("%s: %w", settings.FlagTrustedProxies, err)
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
		}
		return nil
	}
}

// BindCommandFlags binds the flags of `authly server`: BindFlags's and the log's.
func BindCommandFlags(fs *pflag.FlagSet, cfg *Config) (finish func() error) {
	finish = BindFlags(fs, cfg)
	fs.StringVar(&cfg.LogFormat, settings.FlagLogFormat, cfg.LogFormat, "log format: json or text")
	fs.StringVar(&cfg.LogLevel, settings.FlagLogLevel, cfg.LogLevel, "log level: debug, info, warn, error")
	return finish
}

// parsePrefix accepts a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
