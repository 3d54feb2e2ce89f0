/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

var revokeAccessTokenSQL = `WITH ins AS (
	INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
	ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)
	RETURNING jti)
SELECT ` + notifySQL(ChangeRevoked, "jti") + ` FROM ins`

// RevokeAccessToken deny-lists the access token jti until expiresAt, when it would expire
// anyway. Revoking it again succeeds (and keeps the later expiry).
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	defer s.done("access_revoke", s.start())
	_, err := s.pool.Exec(ctx, revokeAccessTokenSQL, jti, expiresAt)
	return wrap("access_revoke", err)
}

// ListRevokedTokens returns the deny-list entries that have not expired at now, soonest
// expiry first.
func (s *Store) ListRevokedTokens(ctx context.Context, now time.Time) ([]RevokedToken, error) {
	defer s.done("access_list_revoked", s.start())
	rows, err := s.pool.Query(ctx, `SELECT jti, expires_at FROM revoked_tokens
		WHERE expires_at > $1 ORDER BY expires_at, jti`, now)
	if err != nil {
		return nil, wrap("access_list_revoked", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RevokedToken, error) {
		var t RevokedToken
		err := row.Scan(&t.JTI, &t.ExpiresAt)
		return t, err
	})
	return list, wrap("access_list_revoked", err)
}

// revokeSubjectSQL sets a cutoff for kind $1 and subject $2 at $3 and revokes what the
// subject still holds: refresh tokens, and codes and approved device authorizations not
// yet redeemed (they would otherwise yield fresh tokens after the cutoff; such a device is
// told access_denied). $4 is the subject as a client_id and $5 as a user
// id; exactly one of them is non-NULL.
var revokeSubjectSQL = `WITH cut AS (
	INSERT INTO token_cutoffs (kind, subject, not_before) VALUES ($1, $2, $3)
	ON CONFLICT (kind, subject) DO UPDATE SET not_before = greatest(token_cutoffs.not_before, excluded.not_before)
	RETURNING kind, subject
), refresh AS (
	UPDATE refresh_tokens SET revoked_at = $3
	WHERE revoked_at IS NULL AND (client_id = $4::text OR user_id = $5::uuid)
	RETURNING token_hash
), codes AS (
	UPDATE authorization_codes SET used_at = $3
	WHERE used_at IS NULL AND (client_id = $4::text OR user_id = $5::uuid)
	RETURNING code_hash
), devices AS (
	UPDATE device_codes SET state = 'denied', decided_at = $3
	WHERE state = 'approved' AND (client_id = $4::text OR user_id = $5::uuid)
	RETURNING device_code_hash
)
SELECT ` + notifySQL(ChangeCutoff, "kind || ':' || subject") + ` FROM cut`

// RevokeUserTokens revokes every token of the user, across clients: a cutoff at now for
// their access tokens, and their refresh tokens, unredeemed codes and approved device
// authorizations. Their sessions stay
// (see DeleteUserSessions). ErrNotFound for an id that is no UUID.
func (s *Store) RevokeUserTokens(ctx context.Context, userID string, now time.Time) error {
	defer s.done("user_revoke_tokens", s.start())
	if !validUUID(userID) {
		return ErrNotFound
	}
	_, err := s.pool.Exec(ctx, revokeSubjectSQL, string(CutoffUser), canonicalUUID(userID), now, nil, userID)
	return wrap("user_revoke_tokens", err)
}

// ListCutoffs returns every cutoff, ordered by kind and subject.
func (s *Store) ListCutoffs(ctx context.Context) ([]Cutoff, error) {
	defer s.done("cutoff_list", s.start())
	rows, err := s.pool.Query(ctx, `SELECT kind, subject, not_before FROM token_cutoffs ORDER BY kind, subject`)
	if err != nil {
		return nil, wrap("cutoff_list", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Cutoff, error) {
		var c Cutoff
		err := row.Scan((*string)(&c.Kind), &c.Subject, &c.NotBefore)
		return c, err
	})
	return list, wrap("cutoff_list", err)
}
