// Package server assembles the Authly OAuth 2.1 / OpenID Connect server: it opens the
// database, loads the signing keys, keeps the caches in step with other replicas and serves
// the protocol, admin, health and metrics endpoints over HTTP.
package server

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
)

// GCPercent is the server's garbage collection target unless GOGC says otherwise
// (the `authly server` command applies it; the load tool times its ceilings under it too).
// Its live heap is small (caches of clients, keys and revoked ids), but every request
// allocates: an ES256 signature alone allocates about 6 KiB inside crypto/ecdsa, and an
// argon2id verification its whole 19 MiB. At the default of 100 the collector runs many
// times a second under load; at 400 it runs a quarter as often, which measured 15% more
// client_credentials and 25% more authorize requests per CPU-second on the benchmark
// machine (bench/results/REPORT.md) for a heap a few tens of MiB larger.
const GCPercent = 400

// Config is everything the server is told; the `authly server` command fills it from flags
// and AUTHLY_* environment variables, the operator through the Deployment it renders.
type Config struct {
	// Version of the binary, reported by the admin API's status.
	Version string

	DatabaseURL string
	Issuer      string
	Listen      string

	// Database pool of this replica.
	PoolMinConns int32
	PoolMaxConns int32

	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	IDTokenTTL      time.Duration
	CodeTTL         time.Duration
	SessionTTL      time.Duration
	AccessTokenAlg  string
	IDTokenAlg      string

	// KeyEncryptionKey encrypts the private signing keys at rest (32 bytes, base64 or
	// hex). Empty stores them unencrypted, for development only.
	KeyEncryptionKey string

	Password        credentials.PasswordParams
	LockoutFailures int
	LockoutWindow   time.Duration
	LockoutDuration time.Duration

	// RefreshTokenReuseInterval is how long after its rotation a refresh token may be
	// presented again by its client, whose response was lost, without revoking its
	// family (0 to MaxRefreshTokenReuseInterval; 0 is strict).
	RefreshTokenReuseInterval time.Duration

	// Rate limits are for the whole AuthServer; each replica enforces its share.
	Replicas                int
	TokenPerClientPerSecond float64
	TokenPerIPPerSecond     float64
	LoginPerIPPerMinute     float64
	AdminPerIPPerSecond     float64

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

	// DebugListen, when set, serves net/http/pprof on its own address (keep it on
	// loopback): profiles of a server under load, without exposing them on the main port.
	DebugListen string

	// Clock is the protocol's time (token lifetimes, the refresh-token reuse interval);
	// nil is time.Now. Tests move it instead of waiting.
	Clock func() time.Time
}

// MaxRefreshTokenReuseInterval bounds RefreshTokenReuseInterval: a spent refresh token
// that still works is a window for a thief, meant to cover a retry, not a session.
const MaxRefreshTokenReuseInterval = 5 * time.Minute

// DefaultConfig returns the defaults of every optional setting.
func DefaultConfig() Config {
	return Config{
		Listen:                  ":8000",
		PoolMinConns:            2,
		PoolMaxConns:            20,
		AccessTokenTTL:          15 * time.Minute,
		RefreshTokenTTL:         30 * 24 * time.Hour,
		IDTokenTTL:              time.Hour,
		CodeTTL:                 5 * time.Minute,
		SessionTTL:              24 * time.Hour,
		AccessTokenAlg:          "ES256",
		IDTokenAlg:              "RS256",
		Password:                credentials.DefaultPasswordParams,
		LockoutFailures:         5,
		LockoutWindow:           15 * time.Minute,
		LockoutDuration:         15 * time.Minute,
		Replicas:                1,
		TokenPerClientPerSecond: 50,
		TokenPerIPPerSecond:     100,
		LoginPerIPPerMinute:     30,
		AdminPerIPPerSecond:     20,
		ShutdownGrace:           20 * time.Second,
		PurgeInterval:           5 * time.Minute,
	}
}

// Validate reports every invalid setting at once, naming each.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.DatabaseURL == "" {
		bad("database-url (AUTHLY_DATABASE_URL) is required")
	}
	if c.Issuer == "" {
		bad("issuer (AUTHLY_ISSUER) is required")
	} else if !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://") {
		bad("issuer %q must be an http(s) URL", c.Issuer)
	}
	for name, alg := range map[string]string{"access-token-alg": c.AccessTokenAlg, "id-token-alg": c.IDTokenAlg} {
		if alg != "ES256" && alg != "RS256" {
			bad("%s must be ES256 or RS256, not %q", name, alg)
		}
	}
	if c.PoolMaxConns < 1 || c.PoolMinConns < 0 || c.PoolMinConns > c.PoolMaxConns {
		bad("pool sizes: need 0 <= pool-min-conns (%d) <= pool-max-conns (%d), and pool-max-conns >= 1", c.PoolMinConns, c.PoolMaxConns)
	}
	if c.Replicas < 1 {
		bad("replicas must be at least 1")
	}
	for name, d := range map[string]time.Duration{
		"access-token-ttl": c.AccessTokenTTL, "refresh-token-ttl": c.RefreshTokenTTL,
		"id-token-ttl": c.IDTokenTTL, "code-ttl": c.CodeTTL, "session-ttl": c.SessionTTL,
	} {
		if d <= 0 {
			bad("%s must be positive", name)
		}
	}
	if c.RefreshTokenReuseInterval < 0 || c.RefreshTokenReuseInterval > MaxRefreshTokenReuseInterval {
		bad("refresh-token-reuse-interval must be between 0 and %s", MaxRefreshTokenReuseInterval)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls-cert-file and tls-key-file go together")
	}
	return errors.Join(errs...)
}
