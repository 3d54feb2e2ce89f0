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

const clientColumns = `client_id, name, client_type, redirect_uris, post_logout_redirect_uris,
	grant_types, response_types, scopes, token_endpoint_auth_method, first_party,
	id_token_signed_response_alg, secret_hash, previous_secret_hash, previous_secret_expires_at,
	managed_by, jwks, jwks_uri, created_at, updated_at, federated_issuer, federated_subject, service_account_uid`

// clientValues are the parameters $1..$20 of an insert of clientColumns without the two
// timestamps.
func clientValues(c *Client) []any {
	return []any{
		c.ID, c.Name, string(c.Type), nonNil(c.RedirectURIs), nonNil(c.PostLogoutRedirectURIs),
		nonNil(c.GrantTypes), nonNil(c.ResponseTypes), nonNil(c.Scopes), c.TokenEndpointAuthMethod, c.FirstParty,
		c.IDTokenSignedResponseAlg, c.SecretHash, c.PreviousSecretHash, optTime(c.PreviousSecretExpiresAt),
		c.ManagedBy, jsonOrNil(c.JWKS), c.JWKSURI, c.FederatedIssuer, c.FederatedSubject, c.ServiceAccountUID,
	}
}

// jsonOrNil passes a JSON document to a jsonb parameter, and an empty one as NULL.
func jsonOrNil(doc []byte) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}

func scanClient(row pgx.Row) (*Client, error) {
	c := &Client{}
	err := row.Scan(&c.ID, &c.Name, (*string)(&c.Type), &c.RedirectURIs, &c.PostLogoutRedirectURIs,
		&c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.TokenEndpointAuthMethod, &c.FirstParty,
		&c.IDTokenSignedResponseAlg, &c.SecretHash, &c.PreviousSecretHash, scanTime{&c.PreviousSecretExpiresAt},
		&c.ManagedBy, &c.JWKS, &c.JWKSURI, &c.CreatedAt, &c.UpdatedAt, &c.FederatedIssuer, &c.FederatedSubject, &c.ServiceAccountUID)
	return c, err
}

var insertClientSQL = `WITH ins AS (
	INSERT INTO clients (client_id, name, client_type, redirect_uris, post_logout_redirect_uris,
		grant_types, response_types, scopes, token_endpoint_auth_method, first_party,
		id_token_signed_response_alg, secret_hash, previous_secret_hash, previous_secret_expires_at,
		managed_by, jwks, jwks_uri, federated_issuer, federated_subject, service_account_uid)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	RETURNING client_id, created_at, updated_at)
SELECT created_at, updated_at, ` + notifySQL(ChangeClient, "client_id") + ` FROM ins`

// CreateClient inserts c and sets its CreatedAt and UpdatedAt. ErrConflict when the
// client_id is taken.
func (s *Store) CreateClient(ctx context.Context, c *Client) error {
	defer s.done("client_create", s.start())
	err := s.pool.QueryRow(ctx, insertClientSQL, clientValues(c)...).Scan(&c.CreatedAt, &c.UpdatedAt, nil)
	return wrap("client_create", err)
}

// xmax is 0 on a row version an INSERT created, and set on one an ON CONFLICT UPDATE
// wrote: the usual way to tell the two apart in one statement.
var upsertClientSQL = `WITH up AS (
	INSERT INTO clients AS c (client_id, name, client_type, redirect_uris, post_logout_redirect_uris,
		grant_types, response_types, scopes, token_endpoint_auth_method, first_party,
		id_token_signed_response_alg, secret_hash, previous_secret_hash, previous_secret_expires_at,
		managed_by, jwks, jwks_uri, federated_issuer, federated_subject, service_account_uid)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	ON CONFLICT (client_id) DO UPDATE SET
		name = excluded.name,
		client_type = excluded.client_type,
		redirect_uris = excluded.redirect_uris,
		post_logout_redirect_uris = excluded.post_logout_redirect_uris,
		grant_types = excluded.grant_types,
		response_types = excluded.response_types,
		scopes = excluded.scopes,
		token_endpoint_auth_method = excluded.token_endpoint_auth_method,
		first_party = excluded.first_party,
		id_token_signed_response_alg = excluded.id_token_signed_response_alg,
		secret_hash = excluded.secret_hash,
		previous_secret_hash = excluded.previous_secret_hash,
		previous_secret_expires_at = excluded.previous_secret_expires_at,
		managed_by = excluded.managed_by,
		jwks = excluded.jwks,
		jwks_uri = excluded.jwks_uri,
		federated_issuer = excluded.federated_issuer,
		federated_subject = excluded.federated_subject,
		service_account_uid = excluded.service_account_uid,
		updated_at = now()
	RETURNING client_id, created_at, updated_at, xmax = 0 AS created)
SELECT created_at, updated_at, created, ` + notifySQL(ChangeClient, "client_id") + ` FROM up`

// UpsertClient inserts c, or replaces every field of the client with its id (secret hashes
// included). It sets c's CreatedAt and UpdatedAt and reports whether the row is new.
func (s *Store) UpsertClient(ctx context.Context, c *Client) (created bool, err error) {
	defer s.done("client_upsert", s.start())
	err = s.pool.QueryRow(ctx, upsertClientSQL, clientValues(c)...).Scan(&c.CreatedAt, &c.UpdatedAt, &created, nil)
	return created, wrap("client_upsert", err)
}

// GetClient returns the client with that client_id, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, clientID string) (*Client, error) {
	defer s.done("client_get", s.start())
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE client_id = $1`, clientID))
	if err != nil {
		return nil, wrap("client_get", err)
	}
	return c, nil
}

// AnyClientHasGrantType reports whether some client may use the grant type. It reads the
// whole (small) clients table; callers cache the answer until a client changes.
func (s *Store) AnyClientHasGrantType(ctx context.Context, grantType string) (bool, error) {
	defer s.done("client_any_grant_type", s.start())
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE $1 = ANY (grant_types))`, grantType).Scan(&ok)
	if err != nil {
		return false, wrap("client_any_grant_type", err)
	}
	return ok, nil
}

// pageLimit is the page size when a Page names none.
const pageLimit = 100

func limitOf(p Page) int {
	if p.Limit <= 0 {
		return pageLimit
	}
	return p.Limit
}

// listPage runs query, whose $1 is p.After and $2 the page size, as operation op and
// scans each row with scan.
func listPage[T any](ctx context.Context, s *Store, op, query string, p Page, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer s.done(op, s.start())
	rows, err := s.pool.Query(ctx, query, p.After, limitOf(p))
	if err != nil {
		return nil, wrap(op, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	return list, wrap(op, err)
}

// ListClients returns up to p.Limit clients (100 when zero) ordered by client_id, after
// p.After.
func (s *Store) ListClients(ctx context.Context, p Page) ([]*Client, error) {
	return listPage(ctx, s, "client_list", `SELECT `+clientColumns+` FROM clients
		WHERE client_id > $1 ORDER BY client_id LIMIT $2`, p, scanClient)
}

// The delete cascades to the client's codes, refresh tokens and consents; the cutoff
// revokes the access tokens already out, so that re-creating the client_id does not
// bring them back.
var deleteClientSQL = `WITH del AS (
	DELETE FROM clients WHERE client_id = $1 RETURNING client_id
), refresh AS (
	DELETE FROM refresh_tokens WHERE client_id IN (SELECT client_id FROM del)
), cut AS (
	INSERT INTO token_cutoffs (kind, subject, not_before)
	SELECT 'client', client_id, $2 FROM del
	ON CONFLICT (kind, subject) DO UPDATE SET not_before = greatest(token_cutoffs.not_before, excluded.not_before)
	RETURNING subject
)
SELECT ` + notifySQL(ChangeClient, "client_id") + `, ` + notifySQL(ChangeCutoff, "'client:' || client_id") + ` FROM del`

// DeleteClient removes the client with its authorization codes, refresh tokens and
// consents, and sets a client cutoff at now so that its access tokens stay revoked even
// if the client_id is registered again. ErrNotFound when there is no such client.
func (s *Store) DeleteClient(ctx context.Context, clientID string, now time.Time) error {
	defer s.done("client_delete", s.start())
	tag, err := s.pool.Exec(ctx, deleteClientSQL, clientID, now)
	if err != nil {
		return wrap("client_delete", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

var setClientSecretSQL = `WITH upd AS (
	UPDATE clients SET
		previous_secret_hash = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE secret_hash END,
		previous_secret_expires_at = CASE WHEN $3::timestamptz IS NULL OR secret_hash IS NULL THEN NULL ELSE $3::timestamptz END,
		secret_hash = $2,
		updated_at = now()
	WHERE client_id = $1
	RETURNING client_id)
SELECT ` + notifySQL(ChangeClient, "client_id") + ` FROM upd`

// SetClientSecret makes newHash the client's secret. The current secret stays valid as
// the previous one until keepPreviousUntil; with the zero time it stops at once.
// ErrNotFound when there is no such client.
func (s *Store) SetClientSecret(ctx context.Context, clientID string, newHash []byte, keepPreviousUntil time.Time) error {
	defer s.done("client_set_secret", s.start())
	tag, err := s.pool.Exec(ctx, setClientSecretSQL, clientID, newHash, optTime(keepPreviousUntil))
	if err != nil {
		return wrap("client_set_secret", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
