package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/store"
)

func init() {
	subcommands = append(subcommands, newServerCommand, newMigrateCommand)
}

// env returns the AUTHLY_* variable for a flag ("database-url" -> AUTHLY_DATABASE_URL).
func envName(flag string) string {
	return "AUTHLY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envAnnotation on a flag names its environment variable when that is not envName's.
const envAnnotation = "authly.dev/env"

// envFlags sets each flag that was not given on the command line from its AUTHLY_*
// variable, so that flags win over the environment and both work in a container.
func envFlags(fs *pflag.FlagSet) error {
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := envName(f.Name)
		if names := f.Annotations[envAnnotation]; len(names) == 1 {
			name = names[0]
		}
		if v, ok := os.LookupEnv(name); ok {
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

func addDatabaseFlag(fs *pflag.FlagSet, url *string) {
	fs.StringVar(url, "database-url", "", "Postgres URL, postgres://user:pass@host:5432/db (env AUTHLY_DATABASE_URL)")
}

// serverFlags binds every server setting to a flag and its AUTHLY_* variable.
func serverFlags(fs *pflag.FlagSet, cfg *server.Config) (finish func() error) {
	addDatabaseFlag(fs, &cfg.DatabaseURL)
	fs.StringVar(&cfg.Issuer, "issuer", "", "issuer URL clients reach the server at (env AUTHLY_ISSUER)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on")
	fs.Int32Var(&cfg.PoolMinConns, "pool-min-conns", cfg.PoolMinConns, "database connections kept open")
	fs.Int32Var(&cfg.PoolMaxConns, "pool-max-conns", cfg.PoolMaxConns, "database connections at most")
	fs.DurationVar(&cfg.AccessTokenTTL, "access-token-ttl", cfg.AccessTokenTTL, "access token lifetime")
	fs.DurationVar(&cfg.RefreshTokenTTL, "refresh-token-ttl", cfg.RefreshTokenTTL, "refresh token lifetime")
	fs.DurationVar(&cfg.RefreshTokenReuseInterval, "refresh-token-reuse-interval", cfg.RefreshTokenReuseInterval,
		"how long after its rotation a refresh token may be presented again by its client (a lost response) without revoking its grant; 0 is strict, at most 5m")
	fs.DurationVar(&cfg.IDTokenTTL, "id-token-ttl", cfg.IDTokenTTL, "ID token lifetime")
	fs.DurationVar(&cfg.CodeTTL, "code-ttl", cfg.CodeTTL, "authorization code lifetime")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "login session lifetime")
	fs.StringVar(&cfg.AccessTokenAlg, "access-token-alg", cfg.AccessTokenAlg, "access token signing algorithm: ES256 or RS256")
	fs.StringVar(&cfg.IDTokenAlg, "id-token-alg", cfg.IDTokenAlg, "default ID token signing algorithm: RS256 or ES256")
	fs.StringVar(&cfg.KeyEncryptionKey, "key-encryption-key", "", "32-byte key (base64 or hex) encrypting signing keys at rest (env AUTHLY_KEY_ENCRYPTION_KEY)")
	fs.Uint32Var(&cfg.Password.Memory, "argon2-memory", cfg.Password.Memory, "argon2id memory in KiB")
	fs.Uint32Var(&cfg.Password.Iterations, "argon2-iterations", cfg.Password.Iterations, "argon2id iterations")
	fs.Uint8Var(&cfg.Password.Parallelism, "argon2-parallelism", cfg.Password.Parallelism, "argon2id parallelism")
	fs.IntVar(&cfg.LockoutFailures, "lockout-failures", cfg.LockoutFailures, "failed logins before an account is locked")
	fs.DurationVar(&cfg.LockoutWindow, "lockout-window", cfg.LockoutWindow, "window in which failed logins are counted")
	fs.DurationVar(&cfg.LockoutDuration, "lockout-duration", cfg.LockoutDuration, "how long a locked account stays locked")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "replicas of this AuthServer (each enforces its share of the rate limits)")
	fs.Float64Var(&cfg.TokenPerClientPerSecond, "rate-token-per-client", cfg.TokenPerClientPerSecond, "token requests per second per client, whole AuthServer")
	fs.Float64Var(&cfg.TokenPerIPPerSecond, "rate-token-per-ip", cfg.TokenPerIPPerSecond, "token, introspection and revocation requests per second per source IP, whole AuthServer")
	fs.Float64Var(&cfg.LoginPerIPPerMinute, "rate-login-per-ip", cfg.LoginPerIPPerMinute, "authorize requests per minute per source IP, whole AuthServer")
	fs.Float64Var(&cfg.AdminPerIPPerSecond, "rate-admin-per-ip", cfg.AdminPerIPPerSecond, "admin API requests per second per source IP, whole AuthServer")
	fs.StringSliceVar(&cfg.CORSOrigins, "cors-origins", nil, "origins allowed to call the token, JWKS, discovery and userinfo endpoints")
	proxies := fs.StringSlice("trusted-proxies", nil, "CIDRs whose X-Forwarded-For is trusted")
	fs.StringVar(&cfg.AdminUsername, "admin-username", "", "bootstrap admin user created at start when missing")
	fs.StringVar(&cfg.AdminPassword, "admin-password", "", "bootstrap admin password (env AUTHLY_ADMIN_PASSWORD); empty generates one into --admin-password-file")
	fs.StringVar(&cfg.AdminPasswordFile, "admin-password-file", "", "file the generated bootstrap admin password is written to, once")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "serve TLS with this certificate")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key-file", "", "and this key")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "time in-flight requests get on SIGTERM")
	fs.StringVar(&cfg.DebugListen, "debug-listen", "", "serve /debug/pprof on this address (e.g. 127.0.0.1:6060); off by default")
	return func() error {
		cfg.TrustedProxies = cfg.TrustedProxies[:0]
		for _, p := range *proxies {
			prefix, err := parsePrefix(p)
			if err != nil {
				return fmt.Errorf("trusted-proxies: %w", err)
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
		}
		return nil
	}
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
	var logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the OAuth 2.1 / OpenID Connect server",
		Long: "Run the OAuth 2.1 / OpenID Connect server against a Postgres database. It migrates\n" +
			"the schema, creates signing keys on first start, and serves until SIGTERM.\n" +
			"Every flag can also be given as AUTHLY_<FLAG> (e.g. AUTHLY_DATABASE_URL).",
		Args: cobra.NoArgs,
	}
	finish := serverFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format: json or text")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := envFlags(cmd.Flags()); err != nil {
			return err
		}
		if err := finish(); err != nil {
			return err
		}
		log, err := newLogger(logFormat, logLevel)
		if err != nil {
			return err
		}
		tuneGC(server.GCPercent, cgroupMemoryMax)
		cfg.Version = version
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
	addDatabaseFlag(cmd.Flags(), &url)
	return cmd
}
