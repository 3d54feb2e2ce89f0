/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"time"
)

// CodeRetention is how long a used or expired authorization code is kept: a replay within
// it is still recognised and revokes what the code issued.
const CodeRetention = time.Hour

// LoginFailureRetention is how long an unlocked login_failures row is kept after its
// first failure. Windows longer than this are cut short by PurgeExpired.
const LoginFailureRetention = 24 * time.Hour

// DefaultPurgeBatch is PurgeExpired's batch size when it is given none.
const DefaultPurgeBatch = 1000

// purgeStep deletes at most $1 rows of one table that are of no more use; its other
// parameters come from args. The LIMITed sub-select keeps each statement (and the locks it
// takes) short.
type purgeStep struct {
	table string
	sql   string
	args  func(now time.Time) []any
}

var purgeSteps = []purgeStep{
	{"authorization_codes", `DELETE FROM authorization_codes WHERE code_hash IN (
		SELECT code_hash FROM authorization_codes WHERE expires_at < $2 OR used_at < $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now.Add(-CodeRetention)} }},
	{"refresh_tokens", `DELETE FROM refresh_tokens WHERE token_hash IN (
		SELECT token_hash FROM refresh_tokens WHERE expires_at <= $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now} }},
	{"revoked_tokens", `DELETE FROM revoked_tokens WHERE jti IN (
		SELECT jti FROM revoked_tokens WHERE expires_at <= $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now} }},
	{"device_codes", `DELETE FROM device_codes WHERE device_code_hash IN (
		SELECT device_code_hash FROM device_codes WHERE expires_at < $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now.Add(-DeviceCodeRetention)} }},
	{"client_assertion_jtis", `DELETE FROM client_assertion_jtis WHERE (client_id, jti) IN (
		SELECT client_id, jti FROM client_assertion_jtis WHERE expires_at <= $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now} }},
	{"sessions", `DELETE FROM sessions WHERE session_hash IN (
		SELECT session_hash FROM sessions WHERE expires_at <= $2 LIMIT $1)`,
		func(now time.Time) []any { return []any{now} }},
	{"login_failures", `DELETE FROM login_failures WHERE username_key IN (
		SELECT username_key FROM login_failures
		WHERE first_failure_at < $2 AND (locked_until IS NULL OR locked_until <= $3) LIMIT $1)`,
		func(now time.Time) []any { return []any{now.Add(-LoginFailureRetention), now} }},
}

// PurgeExpired deletes, in batches of batch rows (DefaultPurgeBatch when <= 0), what is
// of no more use at now: authorization codes expired or used more than CodeRetention ago,
// device authorizations expired more than DeviceCodeRetention ago, expired refresh
// tokens, expired deny-list entries, the jti of expired client assertions, expired
// sessions, and unlocked login failures older than LoginFailureRetention. It returns the number of rows deleted.
// Each table is purged until less than a batch is left.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, batch int) (int64, error) {
	defer s.done("purge_expired", s.start())
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	var total int64
	for _, step := range purgeSteps {
		args := append([]any{batch}, step.args(now)...)
		for {
			tag, err := s.pool.Exec(ctx, step.sql, args...)
			if err != nil {
				return total, wrap("purge_"+step.table, err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return total, nil
}
