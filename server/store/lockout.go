/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Failed logins count against a key. Once a login names a user, the key is the user's
// (UserLockoutKey), so that every spelling of the login (username, email, any case) counts
// against one total and one lock. A login that names nobody counts against the typed
// string (LoginLockoutKey): it locks after as many tries as a real account does, so the
// answers do not tell which logins exist. The prefixes keep the two kinds apart: no typed
// login can count against a user's key.

// UserLockoutKey is the lockout key of the user with that ID.
func UserLockoutKey(userID string) string { return "user:" + strings.ToLower(userID) }

// LoginLockoutKey is the lockout key of a typed login that names no user; the store
// compares keys case-insensitively.
func LoginLockoutKey(login string) string { return "login:" + login }

// One atomic upsert, so that failures on every replica count against one total.
//
// $1 key, $2 now, $3 maxFailures, $4 start of the window (now - window), $5 the lock end
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

// RecordLoginFailure counts a failed login against key (UserLockoutKey or LoginLockoutKey,
// compared case-insensitively). Failures count while they fall within window of the first one;
// the maxFailures-th locks the login until now+lockout. It returns the end of the lock,
// or the zero time when the login is not locked. maxFailures <= 0 counts but never locks.
func (s *Store) RecordLoginFailure(ctx context.Context, key string, now time.Time, maxFailures int, window, lockout time.Duration) (lockedUntil time.Time, err error) {
	defer s.done("login_failure_record", s.start())
	err = s.pool.QueryRow(ctx, recordLoginFailureSQL, key, now, maxFailures, now.Add(-window), now.Add(lockout)).
		Scan(scanTime{&lockedUntil})
	if err != nil {
		return time.Time{}, wrap("login_failure_record", err)
	}
	if !lockedUntil.After(now) {
		return time.Time{}, nil
	}
	return lockedUntil, nil
}

// LoginLockedUntil returns the end of the lock on key, or the zero time when it is not
// locked at now.
func (s *Store) LoginLockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	defer s.done("login_locked_until", s.start())
	var until time.Time
	err := s.pool.QueryRow(ctx, `SELECT locked_until FROM login_failures
		WHERE username_key = lower($1) AND locked_until > $2`, key, now).Scan(scanTime{&until})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("login_locked_until", err)
	}
	return until, nil
}

// ClearLoginFailures forgets the failures counted against key, when an administrator
// unlocks it (a successful login calls LoginSucceeded).
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	defer s.done("login_failure_clear", s.start())
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE username_key = lower($1)`, key)
	return wrap("login_failure_clear", err)
}

// One statement, so one transaction: the failures are forgotten and the hash replaced
// together or not at all. $1 the lockout key, $2 the user, $3 the hash the login was
// verified against, $4 the new hash (empty for none). The hash is replaced only while it is
// still $3: a password set meanwhile (an administrator's reset) is not overwritten by
// the old password's new hash. Neither updated_at nor a change notification: the user's
// password did not change, only how it is stored.
const loginSucceededSQL = `WITH clear AS (
	DELETE FROM login_failures WHERE username_key = lower($1)
), rehash AS (
	UPDATE users SET password_hash = $4
	WHERE $4 <> '' AND user_id = $2::uuid AND password_hash = $3
	RETURNING 1
)
SELECT count(*) FROM rehash`

// LoginSucceeded records a successful login of the user userID, whose password was
// verified against the stored hash oldHash: it forgets the failures counted against key
// and, when newHash is not empty (the hashing parameters changed), stores newHash in
// place of oldHash, in one transaction. It reports whether the hash was replaced; it is
// not when the stored hash is no longer oldHash.
func (s *Store) LoginSucceeded(ctx context.Context, key, userID, oldHash, newHash string) (rehashed bool, err error) {
	defer s.done("login_succeeded", s.start())
	if !validUUID(userID) {
		return false, ErrNotFound
	}
	var n int64
	if err := s.pool.QueryRow(ctx, loginSucceededSQL, key, userID, oldHash, newHash).Scan(&n); err != nil {
		return false, wrap("login_succeeded", err)
	}
	return n > 0, nil
}
