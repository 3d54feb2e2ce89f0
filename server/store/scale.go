/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"fmt"
)

// Names of the rows SeedScaleData makes, so that a benchmark (and its test) can find them.
const (
	// ScaleClientPrefix + a 7-digit number (0000000, 0000001, ...) is a seeded client id.
	ScaleClientPrefix = "scale-client-"
	// ScaleRefreshPrefix + a number, hashed with SHA-256, ends a seeded refresh token's
	// key, after the 6-byte time prefix that credentials.StorageKey puts first.
	ScaleRefreshPrefix = "scale-refresh:"
	// ScaleRevokedPrefix + a number is a seeded deny-listed access token id.
	ScaleRevokedPrefix = "scale-revoked-"
)

// scaleBatch is how many rows one statement of SeedScaleData inserts, so that no single
// transaction holds millions of rows.
const scaleBatch = 500_000

// SeedScaleData fills the database with data of a large installation, for the growth
// benchmark (`make bench-scale`); it is not used by the server. It adds clients
// confidential clients, refreshTokens refresh tokens spread over those clients (no user,
// issued evenly over the 28 days up to a day ago, valid for 30 more days, every other one
// already rotated; keys and family ids ordered by issue time as the server makes them, see
// credentials.StorageKey) and revoked deny-listed access
// token ids expiring in a day, all generated inside Postgres with generate_series, then
// analyzes the tables as autovacuum would. Rows that exist already are left alone, so it
// can run again. No change is announced: run it before the server starts, which then
// loads the deny-list.
func (s *Store) SeedScaleData(ctx context.Context, refreshTokens, clients, revoked int) error {
	defer s.done("seed_scale_data", s.start())
	if refreshTokens < 0 || clients < 0 || revoked < 0 {
		return fmt.Errorf("%w: negative scale", ErrInvalid)
	}
	if refreshTokens > 0 && clients == 0 {
		clients = 1 // refresh tokens need a client to belong to
	}
	steps := []struct {
		sql string
		n   int
		// extra are parameters after $1 and $2, the first and last number of a batch.
		extra []any
	}{
		{`INSERT INTO clients (client_id, name, client_type, redirect_uris, grant_types, response_types, scopes,
			token_endpoint_auth_method, secret_hash)
		SELECT '` + ScaleClientPrefix + `' || lpad(i::text, 7, '0'), 'Scale client ' || i, 'confidential',
			ARRAY['https://scale-' || i || '.example.com/callback'],
			ARRAY['authorization_code', 'refresh_token', 'client_credentials'], ARRAY['code'],
			ARRAY['openid', 'profile', 'email', 'offline_access'], 'client_secret_basic',
			sha256(convert_to('scale-secret:' || i, 'UTF8'))
		FROM generate_series($1::bigint, $2::bigint) AS i
		ON CONFLICT (client_id) DO NOTHING`, clients, nil},
		{`INSERT INTO refresh_tokens (token_hash, family_id, client_id, scopes, auth_time, access_jti,
			access_expires_at, expires_at, created_at, used_at)
		SELECT substring(int8send(floor(extract(epoch FROM t.at) * 1000)::bigint) FROM 3 FOR 6)
				|| sha256(convert_to('` + ScaleRefreshPrefix + `' || i, 'UTF8')),
			lpad(to_hex(floor(extract(epoch FROM f.at) * 1000)::bigint), 12, '0') || lpad(to_hex(i / 2), 20, '0'),
			'` + ScaleClientPrefix + `' || lpad((i % $3)::text, 7, '0'), ARRAY['openid', 'offline_access'],
			t.at, 'scale-jti-' || i, now() - interval '1 hour', now() + interval '30 days',
			t.at, CASE WHEN i % 2 = 0 THEN t.at + s.step END
		FROM generate_series($1::bigint, $2::bigint) AS i,
			-- Token i is issued at t.at, one step after token i - 1; its family began with
			-- token i / 2 * 2, at f.at. The times count from when the first client was
			-- seeded, so that seeding again makes the same keys and finds them.
			LATERAL (SELECT created_at - interval '29 days', interval '28 days' / $4::float8
				FROM clients WHERE client_id = '` + ScaleClientPrefix + `0000000') AS s(start, step),
			LATERAL (SELECT s.start + i * s.step) AS t(at),
			LATERAL (SELECT s.start + (i / 2 * 2) * s.step) AS f(at)
		ON CONFLICT (token_hash) DO NOTHING`, refreshTokens, []any{clients, refreshTokens}},
		{`INSERT INTO revoked_tokens (jti, expires_at)
		SELECT '` + ScaleRevokedPrefix + `' || i, now() + interval '1 day'
		FROM generate_series($1::bigint, $2::bigint) AS i
		ON CONFLICT (jti) DO NOTHING`, revoked, nil},
	}
	for _, step := range steps {
		for from := 0; from < step.n; from += scaleBatch {
			to := min(from+scaleBatch, step.n) - 1
			args := append([]any{from, to}, step.extra...)
			if _, err := s.pool.Exec(ctx, step.sql, args...); err != nil {
				return wrap("seed_scale_data", err)
			}
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE clients, refresh_tokens, revoked_tokens`); err != nil {
		return wrap("seed_scale_data", err)
	}
	return nil
}

// VacuumAnalyze vacuums and analyzes every table of the store, as autovacuum eventually
// would, for the benchmark: it runs before each measured point, so that the dead rows
// and fresh inserts of what ran before (earlier points, the codes and tokens prepared for
// this one) are not cleaned up by autovacuum during the point and counted against it. It
// is not used by the server.
func (s *Store) VacuumAnalyze(ctx context.Context) error {
	defer s.done("vacuum_analyze", s.start())
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return wrap("vacuum_analyze", err)
	}
	return nil
}
