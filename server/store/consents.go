/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Scopes are kept sorted and without duplicates, so that a grant is a set.
const grantConsentSQL = `INSERT INTO consents AS c (user_id, client_id, scopes)
VALUES ($1, $2, ARRAY(SELECT DISTINCT unnest($3::text[]) ORDER BY 1))
ON CONFLICT (user_id, client_id) DO UPDATE
SET scopes = ARRAY(SELECT DISTINCT unnest(c.scopes || excluded.scopes) ORDER BY 1)`

// GrantConsent records that the user consented to the client having scopes, on top of
// what they granted it before. ErrNotFound when the user or client does not exist.
func (s *Store) GrantConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	defer s.done("consent_grant", s.start())
	if !validUUID(userID) {
		return ErrNotFound
	}
	_, err := s.pool.Exec(ctx, grantConsentSQL, userID, clientID, nonNil(scopes))
	return wrap("consent_grant", err)
}

// ConsentedScopes returns the scopes the user granted the client, sorted; empty when
// none.
func (s *Store) ConsentedScopes(ctx context.Context, userID, clientID string) ([]string, error) {
	defer s.done("consent_get", s.start())
	if !validUUID(userID) {
		return nil, nil
	}
	var scopes []string
	err := s.pool.QueryRow(ctx, `SELECT scopes FROM consents WHERE user_id = $1 AND client_id = $2`,
		userID, clientID).Scan(&scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("consent_get", err)
	}
	return scopes, nil
}
