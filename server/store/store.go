/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package store is the Postgres storage of the Authly server: the only package that writes
// SQL, and the owner of the schema (migrations are embedded, see Migrate).
//
// Secrets never reach the database in clear: callers pass the SHA-256 of codes, refresh
// tokens, session cookies and client secrets. Single-use credentials (authorization codes,
// refresh tokens) are consumed by one SQL statement each, so that of many concurrent
// attempts exactly one wins, and a replay revokes what the first use issued. Under load,
// concurrent consumptions of different credentials share a statement (combine.go).
//
// Every write of something replicas cache (clients, scopes, signing keys, users, the
// access-token deny-list and cutoffs) sends a NOTIFY on NotifyChannel in the same
// transaction; Listen turns those into Changes.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Pool sizes; zero keeps the pgx defaults.
	MaxConns, MinConns int32
	// MaxConnLifetime and MaxConnIdleTime; zero keeps the pgx defaults.
	MaxConnLifetime, MaxConnIdleTime time.Duration
	// ConnectTimeout bounds each connection attempt; zero means the URL's connect_timeout,
	// or DefaultConnectTimeout when it has none.
	ConnectTimeout time.Duration
	// ApplicationName is reported to Postgres (pg_stat_activity); default "authly". The
	// Listen connection reports it with ListenerSuffix appended.
	ApplicationName string
	// ObserveQuery, when set, is called after each store operation with a short stable
	// operation name (e.g. "client_get", "code_redeem") and its duration; metrics hook.
	ObserveQuery func(operation string, d time.Duration)
	// OnListenError, when set, is called with the error each time the Listen connection
	// fails, before it reconnects; a logging hook.
	OnListenError func(err error)
	// CombineSlots bounds the combined statements of one kind (refresh-token rotations,
	// code redemptions) running at once; zero means an eighth of the pool, at least one.
	// Fewer slots make larger batches under load, so more refreshes and code exchanges per
	// CPU-second and a lower p95 (measured when this default was chosen; its commit has the
	// figures, bench/results/REPORT.md the current ones).
	CombineSlots int
}

// maxCombined is the most operations one combined statement carries.
const maxCombined = 64

// combinedStatementTimeout bounds a combined statement, which runs under no caller's
// context.
const combinedStatementTimeout = 30 * time.Second

// DefaultConnectTimeout bounds a connection attempt unless told otherwise. Without a bound,
// a database host that drops packets holds every request that needs a new connection until
// TCP gives up, minutes later; with it, the request fails with ErrUnavailable (a 503).
const DefaultConnectTimeout = 10 * time.Second

// DefaultApplicationName is the application_name of the store's connections unless
// Options.ApplicationName says otherwise.
const DefaultApplicationName = "authly"

// ListenerSuffix is appended to the application name of the connection Listen holds, so
// that operators (and tests) can tell it apart in pg_stat_activity.
const ListenerSuffix = "-listener"

// Store is the database of one Authly installation. It is safe for concurrent use.
type Store struct {
	pool          *pgxpool.Pool
	appName       string
	observe       func(operation string, d time.Duration)
	onListenError func(error)
	rotations     *combiner[RefreshRotation, consumed[RefreshToken]]
	redemptions   *combiner[CodeRedemption, consumed[AuthorizationCode]]
}

// Open connects a pool to databaseURL and checks that the database answers. It does not
// migrate; see Migrate.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	if opts.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = opts.MaxConnIdleTime
	}
	switch {
	case opts.ConnectTimeout > 0:
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	case cfg.ConnConfig.ConnectTimeout == 0:
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	appName := opts.ApplicationName
	if appName == "" {
		appName = DefaultApplicationName
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	s := &Store{pool: pool, appName: appName, observe: opts.ObserveQuery, onListenError: opts.OnListenError}
	slots := opts.CombineSlots
	if slots <= 0 {
		slots = int(cfg.MaxConns) / 8
	}
	s.rotations = newCombiner(slots, maxCombined, sameRefreshToken, s.rotateBatch)
	s.redemptions = newCombiner(slots, maxCombined, sameCode, s.redeemBatch)
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every connection of the pool. Listen connections end with their context.
func (s *Store) Close() { s.pool.Close() }

// Pool is the underlying connection pool, for health checks and pool statistics. Other
// packages must not run SQL on it, but for server/store/storebench, the store's own
// benchmark data.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	defer s.done("ping", s.start())
	return wrap("ping", s.pool.Ping(ctx))
}

// SchemaVersion reports the highest migration applied to the database; compare it with
// the package-level SchemaVersion, the one this binary expects.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	defer s.done("schema_version", s.start())
	return CurrentVersion(ctx, s.pool)
}

// start and done time an operation for ObserveQuery; both cost next to nothing without
// an observer: `defer s.done("op", s.start())`.
func (s *Store) start() time.Time {
	if s.observe == nil {
		return time.Time{}
	}
	return time.Now()
}

func (s *Store) done(operation string, start time.Time) {
	if s.observe != nil {
		s.observe(operation, time.Since(start))
	}
}

// Postgres error codes the store maps to its own errors.
const (
	pgUniqueViolation           = "23505"
	pgForeignKeyViolation       = "23503"
	pgCheckViolation            = "23514"
	pgNotNullViolation          = "23502"
	pgInvalidTextRepresentation = "22P02"
	pgSerializationFailure      = "40001"
	pgDeadlockDetected          = "40P01"
	pgAdminShutdown             = "57P01"
	pgCrashShutdown             = "57P02"
	pgCannotConnectNow          = "57P03"
	pgTooManyConnections        = "53300"
)

// pgDataExceptionClass is SQLSTATE class 22, data exceptions: a value Postgres cannot take
// (NUL in text is 22021, invalid UTF-8 22021 too, a number out of range 22003...).
const pgDataExceptionClass = "22"

// pgConnectionExceptionClass is SQLSTATE class 08, connection exceptions.
const pgConnectionExceptionClass = "08"

// rolledBack reports whether err says Postgres rolled the statement back so that it may
// safely run again: it lost a serialization conflict or a deadlock.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgSerializationFailure || pgErr.Code == pgDeadlockDetected)
}

// wrap maps a database error of operation op to the store's errors: no row is ErrNotFound,
// a duplicate key ErrConflict, a malformed uuid or a missing referenced row ErrNotFound, a
// violated check ErrInvalid, any other data exception ErrInvalidInput, and a database that
// cannot be reached ErrUnavailable (see unreachable). Anything else is wrapped with the
// operation name. The original error stays in the chain for errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgUniqueViolation:
			return ErrConflict
		case pgForeignKeyViolation, pgInvalidTextRepresentation:
			return ErrNotFound
		case pgCheckViolation, pgNotNullViolation:
			return fmt.Errorf("%w: %s: %s", ErrInvalid, op, pgErr.ConstraintName)
		}
		if strings.HasPrefix(pgErr.Code, pgDataExceptionClass) {
			return fmt.Errorf("%w: %s: %w", ErrInvalidInput, op, err)
		}
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// unreachable reports whether err says the database could not do the work for reasons of
// its own state or of the network, so that the same request may succeed later: a failed
// connection attempt (refused, unknown host, authentication, no such database), a
// connection lost or closed under the statement, a timeout, Postgres shutting down or
// starting up (57P01, 57P02, 57P03), out of connections (53300), or any connection
// exception (class 08). A cancelled context is not: the caller gave up.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgTooManyConnections:
			return true
		}
		return strings.HasPrefix(pgErr.Code, pgConnectionExceptionClass)
	}
	var netErr net.Error
	return errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// notifySQL is the SQL expression that announces a change of kind with the key in the SQL
// expression key.
func notifySQL(kind, key string) string {
	return "pg_notify('" + NotifyChannel + "', '" + kind + ":' || " + key + ")"
}

// optTime encodes a time for a nullable timestamptz: the zero time is NULL.
func optTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// scanTime scans a nullable timestamptz into a time.Time, zero for NULL.
type scanTime struct{ t *time.Time }

func (s scanTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if v.Valid {
		*s.t = v.Time
	} else {
		*s.t = time.Time{}
	}
	return nil
}

// optText encodes a string for a nullable column: the empty string is NULL.
func optText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// nonNil returns list, or an empty list for nil, for NOT NULL array columns.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// validUUID reports whether s is a UUID in its canonical 8-4-4-4-12 form (any case).
// Checking in Go saves a round trip and makes a malformed id a plain ErrNotFound.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}

// canonicalUUID is the form Postgres prints a valid UUID in (lower case), so that keys
// built from a caller's id match those built from the database's.
func canonicalUUID(s string) string { return strings.ToLower(s) }
