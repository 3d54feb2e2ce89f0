package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// One atomic upsert, so that failures on every replica count against one total.
//
// $1 login, $2 now, $3 maxFailures, $4 start of the window (now - window), $5 the lock end
// if this failure locks (now + lockout).
// A row starts afresh when its window is over or its lock has run out; while a lock holds,
// failures still count but do not extend it.
const recordLoginFailureSQL = `
INSERT INTO login_failures AS lf (username_key, failures, first_failure_at, locked_until)
VALUES (lower($1), 1, $2, CASE WHEN $3::int > 0 AND 1 >= $3::int THEN $5::timestamptz END)
ON CONFLICT (username_key) DO UPDATE SET
	failures = CASE
		WHEN lf.locked_until <= $2 OR lf.first_failure_at <= $4 THEN 1
		ELSE lf.failures + 1 END,
	first_failure_at = CASE
		WHEN lf.locked_until <= $2 OR lf.first_failure_at <= $4 THEN $2
		ELSE lf.first_failure_at END,
	locked_until = CASE
		WHEN lf.locked_until > $2 THEN lf.locked_until
		WHEN $3::int <= 0 THEN NULL
		WHEN (CASE WHEN lf.locked_until <= $2 OR lf.first_failure_at <= $4 THEN 1 ELSE lf.failures + 1 END) >= $3::int THEN $5::timestamptz
		ELSE NULL END
RETURNING locked_until`

// RecordLoginFailure counts a failed login for login (a username or email, compared
// case-insensitively). Failures count while they fall within window of the first one;
// the maxFailures-th locks the login until now+lockout. It returns the end of the lock,
// or the zero time when the login is not locked. maxFailures <= 0 counts but never locks.
func (s *Store) RecordLoginFailure(ctx context.Context, login string, now time.Time, maxFailures int, window, lockout time.Duration) (lockedUntil time.Time, err error) {
	defer s.done("login_failure_record", s.start())
	err = s.pool.QueryRow(ctx, recordLoginFailureSQL, login, now, maxFailures, now.Add(-window), now.Add(lockout)).
		Scan(scanTime{&lockedUntil})
	if err != nil {
		return time.Time{}, wrap("login_failure_record", err)
	}
	if !lockedUntil.After(now) {
		return time.Time{}, nil
	}
	return lockedUntil, nil
}

// LoginLockedUntil returns the end of the lock on login, or the zero time when it is not
// locked at now.
func (s *Store) LoginLockedUntil(ctx context.Context, login string, now time.Time) (time.Time, error) {
	defer s.done("login_locked_until", s.start())
	var until time.Time
	err := s.pool.QueryRow(ctx, `SELECT locked_until FROM login_failures
		WHERE username_key = lower($1) AND locked_until > $2`, login, now).Scan(scanTime{&until})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("login_locked_until", err)
	}
	return until, nil
}

// ClearLoginFailures forgets the failures of login, after a successful login or when an
// administrator unlocks it.
func (s *Store) ClearLoginFailures(ctx context.Context, login string) error {
	defer s.done("login_failure_clear", s.start())
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE username_key = lower($1)`, login)
	return wrap("login_failure_clear", err)
}
