/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"time"
)

// RotateCombined runs rotations as one combined statement, the way a busy server's
// queue is run, and returns for each the consumed token or nil when no usable token
// matched (RotateRefreshToken then finds out why).
func (s *Store) RotateCombined(rs []RefreshRotation) ([]*RefreshToken, []error) {
	return runCombined(rs, s.rotateBatch)
}

// RedeemCombined is RotateCombined for code redemptions.
func (s *Store) RedeemCombined(rs []CodeRedemption) ([]*AuthorizationCode, []error) {
	return runCombined(rs, s.redeemBatch)
}

func runCombined[In, T any](ins []In, run func([]*combinedCall[In, consumed[T]])) ([]*T, []error) {
	batch := make([]*combinedCall[In, consumed[T]], len(ins))
	for i, in := range ins {
		batch[i] = &combinedCall[In, consumed[T]]{in: in}
	}
	run(batch)
	rows, errs := make([]*T, len(ins)), make([]error, len(ins))
	for i, call := range batch {
		rows[i], errs[i] = call.out.row, call.err
	}
	return rows, errs
}

// IsAccessTokenRevoked reports whether jti is on the deny-list, from the table itself (the
// replicas answer from memory: ListRevokedTokens and Listen). Tests only.
func (s *Store) IsAccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	defer s.done("access_is_revoked", s.start())
	var revoked bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`, jti).Scan(&revoked)
	return revoked, wrap("access_is_revoked", err)
}

// RevokeClientTokens revokes every token of the client (tests only; DeleteClient does it
// with the client's removal): a cutoff at now for its access
// tokens, and its refresh tokens and unredeemed codes.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string, now time.Time) error {
	defer s.done("client_revoke_tokens", s.start())
	_, err := s.pool.Exec(ctx, revokeSubjectSQL, string(CutoffClient), clientID, now, clientID, nil)
	return wrap("client_revoke_tokens", err)
}
