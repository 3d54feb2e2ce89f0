/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package settings

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// Flags of `authly server`. Each is also an environment variable, Env(flag), which is how
// the operator sets it in the server's Deployment.
const (
	FlagDatabaseURL               = "database-url"
	FlagIssuer                    = "issuer"
	FlagListen                    = "listen"
	FlagPoolMinConns              = "pool-min-conns"
	FlagPoolMaxConns              = "pool-max-conns"
	FlagAccessTokenTTL            = "access-token-ttl"
	FlagRefreshTokenTTL           = "refresh-token-ttl"
	FlagRefreshTokenReuseInterval = "refresh-token-reuse-interval"
	FlagIDTokenTTL                = "id-token-ttl"
	FlagCodeTTL                   = "code-ttl"
	FlagSessionTTL                = "session-ttl"
	FlagDeviceCodeTTL             = "device-code-ttl"
	FlagDevicePollInterval        = "device-poll-interval"
	FlagAccessTokenAlg            = "access-token-alg"
	FlagIDTokenAlg                = "id-token-alg"
	FlagKeyEncryptionKey          = "key-encryption-key"
	FlagArgon2Memory              = "argon2-memory"
	FlagArgon2Iterations          = "argon2-iterations"
	FlagArgon2Parallelism         = "argon2-parallelism"
	FlagLockoutFailures           = "lockout-failures"
	FlagLockoutWindow             = "lockout-window"
	FlagLockoutDuration           = "lockout-duration"
	FlagReplicas                  = "replicas"
	FlagRateTokenPerClient        = "rate-token-per-client"
	FlagRateTokenPerIP            = "rate-token-per-ip"
	FlagRateLoginPerIP            = "rate-login-per-ip"
	FlagRateAdminPerIP            = "rate-admin-per-ip"
	FlagRateUserCodeFailures      = "rate-user-code-failures"
	FlagCORSOrigins               = "cors-origins"
	FlagTrustedProxies            = "trusted-proxies"
	FlagAdminUsername             = "admin-username"
	FlagAdminPassword             = "admin-password"
	FlagAdminPasswordFile         = "admin-password-file"
	FlagTLSCertFile               = "tls-cert-file"
	FlagTLSKeyFile                = "tls-key-file"
	FlagShutdownGrace             = "shutdown-grace"
	FlagDebugListen               = "debug-listen"
	FlagLogFormat                 = "log-format"
	FlagLogLevel                  = "log-level"
	// private_key_jwt client authentication (RFC 7523).
	FlagClientAssertionMaxLifetime = "client-assertion-max-lifetime"
	FlagClientKeysAllowedHosts     = "client-keys-allowed-hosts"
)

// EnvPrefix begins every environment variable of the authly binary.
const EnvPrefix = "AUTHLY_"

// Env is the environment variable of a flag: "database-url" -> AUTHLY_DATABASE_URL.
func Env(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// EnvAnnotation on a flag names its environment variable when that is not Env's.
const EnvAnnotation = "authly.dev/env"

// envOf is the environment variable a flag of fs is read from.
func envOf(f *pflag.Flag) string {
	if names := f.Annotations[EnvAnnotation]; len(names) == 1 {
		return names[0]
	}
	return Env(f.Name)
}

// EnvNames are the environment variables fs reads, each with its flag's name.
func EnvNames(fs *pflag.FlagSet) map[string]string {
	names := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) { names[envOf(f)] = f.Name })
	return names
}

// ApplyEnv sets each flag of fs that was not given on the command line from its
// environment variable, looked up with lookup (os.LookupEnv), so that flags win over the
// environment and both work in a container.
func ApplyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := envOf(f)
		if v, ok := lookup(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}
