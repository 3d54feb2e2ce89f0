/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package settings

import (
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
)

// DefaultProtocol returns the protocol's defaults; Issuer has none.
func DefaultProtocol() Protocol {
	return Protocol{
		AccessTokenTTL:  15 * time.Minute,
		RefreshTokenTTL: 30 * 24 * time.Hour,
		IDTokenTTL:      time.Hour,
		CodeTTL:         5 * time.Minute,
		SessionTTL:      24 * time.Hour,
		AccessTokenAlg:  "ES256",
		IDTokenAlg:      "RS256",
		Password:        credentials.DefaultPasswordParams,
		LockoutFailures: 5,
		LockoutWindow:   15 * time.Minute,
		LockoutDuration: 15 * time.Minute,
		// RFC 8628 section 3.2's example lifetime is 30 minutes, its default interval 5 s.
		DeviceCodeTTL:      10 * time.Minute,
		DevicePollInterval: 5 * time.Second,

		ClientAssertionMaxLifetime: 5 * time.Minute,
	}
}

// DefaultRateLimits returns the rate limits of an AuthServer that declares none.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Replicas:                1,
		TokenPerClientPerSecond: 50,
		TokenPerIPPerSecond:     100,
		LoginPerIPPerMinute:     30,
		AdminPerIPPerSecond:     20,
		// 60 misses a minute against 20^8 user codes: with 1,000 requests waiting, a
		// guess succeeds once in about 400,000 minutes (RFC 8628 section 5.1).
		UserCodeFailuresPerMinute: 60,
	}
}

// SetDefaults checks the issuer, drops its trailing slash, and gives every setting left at
// zero (or below) its default, for a Protocol built in code rather than from flags.
func (p *Protocol) SetDefaults() error {
	if err := checkIssuerURL(p.Issuer); err != nil {
		return err
	}
	p.Issuer = strings.TrimSuffix(p.Issuer, "/")
	d := DefaultProtocol()
	def := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&p.AccessTokenTTL, d.AccessTokenTTL)
	def(&p.RefreshTokenTTL, d.RefreshTokenTTL)
	def(&p.IDTokenTTL, d.IDTokenTTL)
	def(&p.CodeTTL, d.CodeTTL)
	def(&p.SessionTTL, d.SessionTTL)
	def(&p.LockoutWindow, d.LockoutWindow)
	def(&p.LockoutDuration, d.LockoutDuration)
	def(&p.DeviceCodeTTL, d.DeviceCodeTTL)
	def(&p.DevicePollInterval, d.DevicePollInterval)
	def(&p.ClientAssertionMaxLifetime, d.ClientAssertionMaxLifetime)
	if p.AccessTokenAlg == "" {
		p.AccessTokenAlg = d.AccessTokenAlg
	}
	if p.IDTokenAlg == "" {
		p.IDTokenAlg = d.IDTokenAlg
	}
	if p.Password.Memory == 0 {
		p.Password = d.Password
	}
	if p.LockoutFailures <= 0 {
		p.LockoutFailures = d.LockoutFailures
	}
	return nil
}
