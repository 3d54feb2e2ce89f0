/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FederatedIssuer is a token issuer whose JWTs clients may present instead of a secret (a
// Kubernetes cluster's ServiceAccount issuer), with the keys it signs with. The server
// never fetches them: the operator, or an administrator, stores them.
type FederatedIssuer struct {
	// Issuer is the iss of its tokens.
	Issuer string
	// Discovery is its OpenID discovery document, as fetched (nil when registered by hand).
	Discovery json.RawMessage
	// JWKS is its JSON Web Key Set (RFC 7517 section 5).
	JWKS json.RawMessage
	// FetchedAt is when Discovery and JWKS were read from the issuer.
	FetchedAt time.Time
	// RefreshRequestedAt is when the server last met a token whose kid JWKS lacks; zero when
	// no refresh is pending.
	RefreshRequestedAt time.Time
	// ManagedBy names who stores the row, e.g. "k8s:operator"; empty for an administrator.
	ManagedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const federatedIssuerColumns = `issuer, discovery, jwks, fetched_at, refresh_requested_at, managed_by, created_at, updated_at`

func scanFederatedIssuer(row pgx.Row) (*FederatedIssuer, error) {
	fi := &FederatedIssuer{}
	var discovery, jwks []byte
	err := row.Scan(&fi.Issuer, &discovery, &jwks, &fi.FetchedAt, scanTime{&fi.RefreshRequestedAt},
		&fi.ManagedBy, &fi.CreatedAt, &fi.UpdatedAt)
	fi.Discovery, fi.JWKS = discovery, jwks
	return fi, err
}

// A refresh requested after the keys were fetched stays pending: the keys stored may
// predate the rotation that made the server ask.
var upsertFederatedIssuerSQL = `WITH up AS (
	INSERT INTO federated_issuers AS f (issuer, discovery, jwks, fetched_at, managed_by)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (issuer) DO UPDATE SET
		discovery = excluded.discovery,
		jwks = excluded.jwks,
		fetched_at = excluded.fetched_at,
		refresh_requested_at = CASE WHEN f.refresh_requested_at <= excluded.fetched_at THEN NULL
			ELSE f.refresh_requested_at END,
		managed_by = excluded.managed_by,
		updated_at = now()
	RETURNING issuer, created_at, updated_at)
SELECT created_at, updated_at, ` + notifySQL(ChangeFederatedIssuer, "issuer") + ` FROM up`

// UpsertFederatedIssuer stores fi's discovery document and keys, fetched at fi.FetchedAt,
// and clears a refresh request made up to then. Every replica reloads the issuer's keys.
// JWKS must be a JSON object (ErrInvalid otherwise); the caller checks its keys.
func (s *Store) UpsertFederatedIssuer(ctx context.Context, fi *FederatedIssuer) error {
	defer s.done("federated_issuer_upsert", s.start())
	if fi.Issuer == "" || !json.Valid(fi.JWKS) || (len(fi.Discovery) > 0 && !json.Valid(fi.Discovery)) {
		return fmt.Errorf("%w: federated issuer needs an issuer and JSON documents", ErrInvalid)
	}
	var discovery any
	if len(fi.Discovery) > 0 {
		discovery = string(fi.Discovery)
	}
	err := s.pool.QueryRow(ctx, upsertFederatedIssuerSQL, fi.Issuer, discovery, string(fi.JWKS), fi.FetchedAt, fi.ManagedBy).
		Scan(&fi.CreatedAt, &fi.UpdatedAt, nil)
	return wrap("federated_issuer_upsert", err)
}

// GetFederatedIssuer returns the issuer's row, or ErrNotFound.
func (s *Store) GetFederatedIssuer(ctx context.Context, issuer string) (*FederatedIssuer, error) {
	defer s.done("federated_issuer_get", s.start())
	fi, err := scanFederatedIssuer(s.pool.QueryRow(ctx, `SELECT `+federatedIssuerColumns+` FROM federated_issuers WHERE issuer = $1`, issuer))
	if err != nil {
		return nil, wrap("federated_issuer_get", err)
	}
	return fi, nil
}

// ListFederatedIssuers returns every federated issuer, ordered by issuer. There are a
// handful (one per cluster).
func (s *Store) ListFederatedIssuers(ctx context.Context) ([]*FederatedIssuer, error) {
	defer s.done("federated_issuer_list", s.start())
	rows, err := s.pool.Query(ctx, `SELECT `+federatedIssuerColumns+` FROM federated_issuers ORDER BY issuer LIMIT 1000`)
	if err != nil {
		return nil, wrap("federated_issuer_list", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*FederatedIssuer, error) { return scanFederatedIssuer(row) })
	return list, wrap("federated_issuer_list", err)
}

// RequestFederatedIssuerRefresh records, at now, that a token named a key the issuer's
// stored JWKS lacks, for whoever stores its keys to fetch them again. A request already
// pending keeps its time, so that a burst of such tokens writes once. ErrNotFound when the
// issuer is not registered.
func (s *Store) RequestFederatedIssuerRefresh(ctx context.Context, issuer string, now time.Time) error {
	defer s.done("federated_issuer_refresh", s.start())
	tag, err := s.pool.Exec(ctx, `UPDATE federated_issuers SET refresh_requested_at = coalesce(refresh_requested_at, $2)
		WHERE issuer = $1`, issuer, now)
	if err != nil {
		return wrap("federated_issuer_refresh", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteFederatedIssuer removes the issuer; clients that name it can no longer
// authenticate. ErrNotFound when there is none.
func (s *Store) DeleteFederatedIssuer(ctx context.Context, issuer string) error {
	defer s.done("federated_issuer_delete", s.start())
	err := s.pool.QueryRow(ctx, `WITH del AS (DELETE FROM federated_issuers WHERE issuer = $1 RETURNING issuer)
		SELECT `+notifySQL(ChangeFederatedIssuer, "issuer")+` FROM del`, issuer).Scan(nil)
	return wrap("federated_issuer_delete", err)
}
