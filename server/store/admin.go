/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
)

// The statements the admin API needs beyond create, get, list and delete: updates that
// leave credentials alone, and counts for its status page.

var updateClientSQL = `WITH upd AS (
	UPDATE clients SET
		name = $2,
		client_type = $3,
		redirect_uris = $4,
		post_logout_redirect_uris = $5,
		grant_types = $6,
		response_types = $7,
		scopes = $8,
		token_endpoint_auth_method = $9,
		first_party = $10,
		id_token_signed_response_alg = $11,
		managed_by = $12,
		jwks = $13,
		jwks_uri = $14,
		federated_issuer = $15,
		federated_subject = $16,
		service_account_uid = $17,
		updated_at = now()
	WHERE client_id = $1
	RETURNING client_id, created_at, updated_at)
SELECT created_at, updated_at, ` + notifySQL(ChangeClient, "client_id") + ` FROM upd`

// UpdateClient writes every field of the client with c.ID (its public keys included)
// except its secrets and creation time, and sets c's CreatedAt and UpdatedAt. Unlike UpsertClient it never
// creates a row, so an update racing with a delete cannot bring the client back.
// ErrNotFound when there is no such client.
func (s *Store) UpdateClient(ctx context.Context, c *Client) error {
	defer s.done("client_update", s.start())
	err := s.pool.QueryRow(ctx, updateClientSQL,
		c.ID, c.Name, string(c.Type), nonNil(c.RedirectURIs), nonNil(c.PostLogoutRedirectURIs),
		nonNil(c.GrantTypes), nonNil(c.ResponseTypes), nonNil(c.Scopes), c.TokenEndpointAuthMethod, c.FirstParty,
		c.IDTokenSignedResponseAlg, c.ManagedBy, jsonOrNil(c.JWKS), c.JWKSURI, c.FederatedIssuer, c.FederatedSubject, c.ServiceAccountUID).Scan(&c.CreatedAt, &c.UpdatedAt, nil)
	return wrap("client_update", err)
}

var updateScopeSQL = `WITH upd AS (
	UPDATE scopes SET description = $2, is_default = $3, managed_by = $4, updated_at = now()
	WHERE name = $1
	RETURNING name, created_at, updated_at)
SELECT created_at, updated_at, ` + notifySQL(ChangeScope, "name") + ` FROM upd`

// UpdateScope writes the description, default flag and owner of the scope named sc.Name
// and sets its CreatedAt and UpdatedAt. ErrNotFound when there is no such scope.
func (s *Store) UpdateScope(ctx context.Context, sc *Scope) error {
	defer s.done("scope_update", s.start())
	err := s.pool.QueryRow(ctx, updateScopeSQL, sc.Name, sc.Description, sc.Default, sc.ManagedBy).
		Scan(&sc.CreatedAt, &sc.UpdatedAt, nil)
	return wrap("scope_update", err)
}

// Counts are the number of rows of what an installation registers.
type Counts struct {
	Clients int64
	Users   int64
	Scopes  int64
}

// Count returns the number of clients, users and scopes, in one statement so that the
// three agree with each other.
func (s *Store) Count(ctx context.Context) (Counts, error) {
	defer s.done("count", s.start())
	var c Counts
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM clients), (SELECT count(*) FROM users), (SELECT count(*) FROM scopes)`).
		Scan(&c.Clients, &c.Users, &c.Scopes)
	return c, wrap("count", err)
}
