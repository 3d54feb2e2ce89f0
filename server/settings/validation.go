/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package settings

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/authly-dev/authly-operator/server/clientkeys"
)

// ValidateIssuer reports an issuer that is missing or not an absolute http(s) URL without
// query or fragment.
func ValidateIssuer(issuer string) error {
	if issuer == "" {
		return fmt.Errorf("%s (%s) is required", FlagIssuer, Env(FlagIssuer))
	}
	return checkIssuerURL(issuer)
}

func checkIssuerURL(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q must be an absolute http(s) URL without query or fragment", issuer)
	}
	return nil
}

// Validate reports every invalid protocol setting at once, each by its flag's name.
func (p *Protocol) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := ValidateIssuer(p.Issuer); err != nil {
		errs = append(errs, err)
	}
	for name, alg := range map[string]string{FlagAccessTokenAlg: p.AccessTokenAlg, FlagIDTokenAlg: p.IDTokenAlg} {
		if alg != "ES256" && alg != "RS256" {
			bad("%s must be ES256 or RS256, not %q", name, alg)
		}
	}
	for name, d := range map[string]time.Duration{
		FlagAccessTokenTTL: p.AccessTokenTTL, FlagRefreshTokenTTL: p.RefreshTokenTTL,
		FlagIDTokenTTL: p.IDTokenTTL, FlagCodeTTL: p.CodeTTL, FlagSessionTTL: p.SessionTTL,
		FlagDeviceCodeTTL: p.DeviceCodeTTL,
	} {
		if d <= 0 {
			bad("%s must be positive", name)
		}
	}
	if p.DevicePollInterval < time.Second || p.DevicePollInterval%time.Second != 0 {
		bad("%s must be a whole number of seconds, at least 1s", FlagDevicePollInterval)
	}
	if p.RefreshTokenReuseInterval < 0 || p.RefreshTokenReuseInterval > MaxRefreshTokenReuseInterval {
		bad("%s must be between 0 and %s", FlagRefreshTokenReuseInterval, MaxRefreshTokenReuseInterval)
	}
	if p.ClientAssertionMaxLifetime <= 0 || p.ClientAssertionMaxLifetime > MaxClientAssertionLifetime {
		bad("%s must be positive and at most %s", FlagClientAssertionMaxLifetime, MaxClientAssertionLifetime)
	}
	if _, err := clientkeys.ParseAllowedHosts(p.ClientKeysAllowedHosts); err != nil {
		bad("%s: %w", FlagClientKeysAllowedHosts, err)
	}
	return errors.Join(errs...)
}

// Validate reports invalid rate-limit settings.
func (r *RateLimits) Validate() error {
	if r.Replicas < 1 {
		return fmt.Errorf("%s must be at least 1", FlagReplicas)
	}
	return nil
}
