/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package settings holds the settings of the Authly server that more than one package
// reads: their types, defaults (defaults.go), validation (validation.go) and names, each a
// flag of `authly server` and an AUTHLY_* variable derived from it (names.go). The server's
// Config embeds them, the protocol and the rate limiter take them as their configuration,
// and the operator renders the Deployment's variables from the same names.
package settings

import (
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
)

// Protocol is the configuration of the OAuth 2.1 / OpenID Connect protocol.
type Protocol struct {
	// Issuer is the server's identifier: an https URL (http only for localhost).
	Issuer          string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	IDTokenTTL      time.Duration
	CodeTTL         time.Duration
	SessionTTL      time.Duration
	// AccessTokenAlg signs access tokens (ES256 or RS256); IDTokenAlg signs ID tokens
	// unless a client asks for another.
	AccessTokenAlg string
	IDTokenAlg     string
	Password       credentials.PasswordParams
	// Lockout after LockoutFailures failed logins within LockoutWindow, for LockoutDuration.
	LockoutFailures int
	LockoutWindow   time.Duration
	LockoutDuration time.Duration
	// RefreshTokenReuseInterval is how long after a refresh token's rotation its client
	// may present it again (the response was lost) without revoking its family (0 to
	// MaxRefreshTokenReuseInterval; 0 is strict). See store.RotateRefresh.
	RefreshTokenReuseInterval time.Duration
	// DeviceCodeTTL is how long a device authorization request (RFC 8628) waits for the
	// user; DevicePollInterval is the polling interval it starts with (whole seconds).
	DeviceCodeTTL      time.Duration
	DevicePollInterval time.Duration
	// ClientAssertionMaxLifetime bounds how far ahead of now a private_key_jwt client
	// assertion's exp may be (its jti is kept that long to refuse a replay).
	ClientAssertionMaxLifetime time.Duration
	// ClientKeysAllowedHosts are host names, IP addresses or CIDRs a client's jwks_uri
	// may reach although they are loopback, link-local, private or cluster-internal
	// (which are refused otherwise). See clientkeys.ParseAllowedHosts.
	ClientKeysAllowedHosts []string
}

// MaxClientAssertionLifetime bounds ClientAssertionMaxLifetime: an assertion is a
// one-request credential, and its jti is stored until it expires.
const MaxClientAssertionLifetime = time.Hour

// MaxRefreshTokenReuseInterval bounds RefreshTokenReuseInterval: a spent refresh token
// that still works is a window for a thief, meant to cover a retry, not a session.
const MaxRefreshTokenReuseInterval = 5 * time.Minute

// RateLimits are the limits of a whole AuthServer; each replica enforces its share.
type RateLimits struct {
	// Replicas is the number of replicas the totals are shared among.
	Replicas int
	// TokenPerClientPerSecond limits the token endpoint per authenticated client.
	TokenPerClientPerSecond float64
	// TokenPerIPPerSecond limits the token, introspection and revocation endpoints
	// together, per source address.
	TokenPerIPPerSecond float64
	// LoginPerIPPerMinute limits the authorize endpoint per source address.
	LoginPerIPPerMinute float64
	// AdminPerIPPerSecond limits the admin API per source address.
	AdminPerIPPerSecond float64
	// UserCodeFailuresPerMinute limits the user codes entered on the device verification
	// page that match no request, from all addresses together: a bound on guessing that
	// spreading it over many addresses does not lift.
	UserCodeFailuresPerMinute float64
}
