/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const codeColumns = `code_hash, client_id, user_id::text, redirect_uri, scopes, nonce, code_challenge,
	auth_time, expires_at, created_at, used_at, access_jti, access_expires_at, refresh_family_id`

func scanCode(row pgx.Row, extra ...any) (*AuthorizationCode, error) {
	c := &AuthorizationCode{}
	dest := []any{&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Scopes, &c.Nonce, &c.CodeChallenge,
		scanTime{&c.AuthTime}, &c.ExpiresAt, &c.CreatedAt, scanTime{&c.UsedAt}, &c.AccessTokenJTI,
		scanTime{&c.AccessExpiresAt}, &c.RefreshFamilyID}
	err := row.Scan(append(dest, extra...)...)
	return c, err
}

// redeemedSelect ends both redemption statements: the redeemed codes and, for those
// granted openid, their users' claims (the ID token needs them; reading them here saves
// the exchange a round trip).
const redeemedSelect = `SELECT c.*, u.user_id IS NOT NULL, coalesce(u.username, ''), coalesce(u.email, ''),
	coalesce(u.email_verified, false), coalesce(u.name, ''), coalesce(u.given_name, ''), coalesce(u.family_name, ''),
	coalesce(u.disabled, false), coalesce(u.admin, false), coalesce(u.groups, '{}'), coalesce(u.created_at, 'epoch'),
	coalesce(u.updated_at, 'epoch')
FROM (SELECT ` + codeColumns + ` FROM code) AS c
LEFT JOIN users u ON u.user_id = c.user_id::uuid AND 'openid' = ANY(c.scopes)`

// scanRedeemed scans a row of redeemedSelect.
func scanRedeemed(row pgx.Row) (*AuthorizationCode, error) {
	var found bool
	u := &User{}
	c, err := scanCode(row, &found, &u.Username, &u.Email, &u.EmailVerified, &u.Name, &u.GivenName, &u.FamilyName,
		&u.Disabled, &u.Admin, &u.Groups, &u.CreatedAt, &u.UpdatedAt)
	if err == nil && found {
		u.ID = c.UserID
		c.User = u
	}
	return c, err
}

const insertCodeSQL = `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scopes, nonce,
	code_challenge, auth_time, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()))
RETURNING created_at`

// CreateAuthorizationCode stores an issued code (by its hash). CreatedAt defaults to the
// database's clock and is set on c. ErrNotFound when the client or user does not exist,
// ErrConflict when the hash does.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *AuthorizationCode) error {
	defer s.done("code_create", s.start())
	err := s.pool.QueryRow(ctx, insertCodeSQL, c.Hash, c.ClientID, c.UserID, c.RedirectURI, nonNil(c.Scopes),
		c.Nonce, c.CodeChallenge, optTime(c.AuthTime), c.ExpiresAt, optTime(c.CreatedAt)).Scan(&c.CreatedAt)
	return wrap("code_create", err)
}

// CodeRedemption is one attempt to exchange an authorization code for tokens.
type CodeRedemption struct {
	// Hash is the SHA-256 of the code the client presented.
	Hash []byte
	// ClientID, RedirectURI and CodeChallenge must equal what the code was issued for.
	// CodeChallenge is S256(code_verifier), computed by the caller.
	ClientID, RedirectURI, CodeChallenge string
	Now                                  time.Time
	// The access token issued for the code, recorded on it so that a replay revokes it.
	AccessTokenJTI  string
	AccessExpiresAt time.Time
	// Refresh, when set, is inserted in the same statement. The caller sets Hash, FamilyID,
	// ExpiresAt, AccessTokenJTI and AccessExpiresAt; the store sets ClientID, UserID,
	// Scopes and AuthTime from the code and CreatedAt to Now.
	Refresh *RefreshToken
}

// The whole success path is this one statement: the UPDATE claims the code (of N
// concurrent redemptions, the row lock lets exactly one see used_at IS NULL), and the
// refresh token is inserted from its result, so a failed check inserts nothing.
const redeemCodeSQL = `WITH code AS (
	UPDATE authorization_codes
	SET used_at = $5, access_jti = $6, access_expires_at = $7, refresh_family_id = $8
	WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $5
		AND client_id = $2 AND redirect_uri = $3 AND code_challenge = $4
	RETURNING *
), refresh AS (
	INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	SELECT $9, $8, client_id, user_id, scopes, auth_time, $10, $11, $12, $5
	FROM code WHERE $9::bytea IS NOT NULL
	RETURNING token_hash
)
` + redeemedSelect

// RedeemAuthorizationCode consumes the code and, when r.Refresh is set, stores the refresh
// token issued with it, in one statement. It returns the code as redeemed. Concurrent
// redemptions share statements (see combiner).
//
// When the code cannot be redeemed it returns ErrNotFound (no such code), ErrExpired,
// ErrMismatch (another client, redirect URI or PKCE challenge; the code is burned so it
// cannot be tried again) or ErrAlreadyUsed. A second redemption is a sign that the code
// leaked (RFC 6749 section 4.1.2): the same call then revokes the refresh token family
// the first redemption started and deny-lists its access tokens.
func (s *Store) RedeemAuthorizationCode(ctx context.Context, r CodeRedemption) (*AuthorizationCode, error) {
	defer s.done("code_redeem", s.start())
	if t := r.Refresh; t != nil && (t.FamilyID == "" || len(t.Hash) == 0) {
		return nil, fmt.Errorf("%w: refresh token without hash or family", ErrInvalid)
	}
	res, err := s.redemptions.do(ctx, r)
	switch {
	case err != nil:
		return nil, wrap("code_redeem", err)
	case res.row != nil:
		return redeemed(r, res.row), nil
	case !res.retry:
		return nil, s.codeRedeemFailure(ctx, r)
	}
	// The batch was rolled back (a deadlock with another batch): alone this time.
	code, err := s.redeemOne(ctx, r)
	if err == nil {
		return redeemed(r, code), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("code_redeem", err)
	}
	return nil, s.codeRedeemFailure(ctx, r)
}

// redeemed completes r.Refresh from the redeemed code and returns the code.
func redeemed(r CodeRedemption, code *AuthorizationCode) *AuthorizationCode {
	if t := r.Refresh; t != nil {
		t.ClientID, t.UserID, t.Scopes, t.AuthTime, t.CreatedAt = code.ClientID, code.UserID, code.Scopes, code.AuthTime, r.Now
	}
	return code
}

// refreshParams are the parameters of the refresh token inserted with a redemption:
// NULL hash and empty family when there is none.
func (r CodeRedemption) refreshParams() (hash []byte, family, jti string, accessExp pgtype.Timestamptz, exp time.Time) {
	if t := r.Refresh; t != nil {
		return t.Hash, t.FamilyID, t.AccessTokenJTI, optTime(t.AccessExpiresAt), t.ExpiresAt
	}
	return nil, "", "", pgtype.Timestamptz{}, time.Time{}
}

// redeemOne runs redeemCodeSQL: pgx.ErrNoRows when no redeemable code matched.
func (s *Store) redeemOne(ctx context.Context, r CodeRedemption) (*AuthorizationCode, error) {
	hash, family, jti, accessExp, exp := r.refreshParams()
	return scanRedeemed(s.pool.QueryRow(ctx, redeemCodeSQL, r.Hash, r.ClientID, r.RedirectURI, r.CodeChallenge,
		r.Now, r.AccessTokenJTI, optTime(r.AccessExpiresAt), family, hash, jti, accessExp, exp))
}

// redeemBatchSQL is redeemCodeSQL for many redemptions: $1 to $12 hold one element per
// redemption, and a NULL refresh hash inserts no refresh token. The codes are found
// through the primary key with = ANY, as in rotateBatchSQL.
const redeemBatchSQL = `WITH req AS (
	SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
		$7::timestamptz[], $8::text[], $9::bytea[], $10::text[], $11::timestamptz[], $12::timestamptz[])
		AS r(hash, client_id, redirect_uri, code_challenge, at, access_jti, access_expires_at, family_id,
			new_refresh_hash, new_refresh_access_jti, new_refresh_access_expires_at, new_refresh_expires_at)
), code AS (
	UPDATE authorization_codes c
	SET used_at = req.at, access_jti = req.access_jti, access_expires_at = req.access_expires_at,
		refresh_family_id = req.family_id
	FROM req
	WHERE c.code_hash = ANY($1::bytea[]) AND c.code_hash = req.hash AND c.used_at IS NULL AND c.expires_at > req.at
		AND c.client_id = req.client_id AND c.redirect_uri = req.redirect_uri AND c.code_challenge = req.code_challenge
	RETURNING c.*, req.at, req.new_refresh_hash, req.new_refresh_access_jti, req.new_refresh_access_expires_at,
		req.new_refresh_expires_at
), refresh AS (
	INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	SELECT new_refresh_hash, refresh_family_id, client_id, user_id, scopes, auth_time,
		new_refresh_access_jti, new_refresh_access_expires_at, new_refresh_expires_at, at
	FROM code WHERE new_refresh_hash IS NOT NULL
	RETURNING token_hash
)
` + redeemedSelect

// sameCode keeps two redemptions of one code out of one batch: the second must run after
// the first, see the code used, and revoke what it issued.
func sameCode(a, b CodeRedemption) bool { return bytes.Equal(a.Hash, b.Hash) }

func (s *Store) redeemBatch(batch []*combinedCall[CodeRedemption, consumed[AuthorizationCode]]) {
	consumeBatch(batch, s.redeemOne, s.redeemMany,
		func(r CodeRedemption, c *AuthorizationCode) bool { return bytes.Equal(r.Hash, c.Hash) })
}

// redeemMany runs redeemBatchSQL and returns the codes it redeemed.
func (s *Store) redeemMany(ctx context.Context, rs []CodeRedemption) ([]*AuthorizationCode, error) {
	n := len(rs)
	hashes, clients, redirects, challenges := make([][]byte, n), make([]string, n), make([]string, n), make([]string, n)
	ats, jtis, accessExps, families := make([]time.Time, n), make([]string, n), make([]pgtype.Timestamptz, n), make([]string, n)
	refreshHashes, refreshJTIs := make([][]byte, n), make([]string, n)
	refreshAccessExps, refreshExps := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	for i, r := range rs {
		hashes[i], clients[i], redirects[i], challenges[i] = r.Hash, r.ClientID, r.RedirectURI, r.CodeChallenge
		ats[i], jtis[i], accessExps[i] = r.Now, r.AccessTokenJTI, optTime(r.AccessExpiresAt)
		var exp time.Time
		refreshHashes[i], families[i], refreshJTIs[i], refreshAccessExps[i], exp = r.refreshParams()
		refreshExps[i] = optTime(exp)
	}
	rows, err := s.pool.Query(ctx, redeemBatchSQL, hashes, clients, redirects, challenges, ats, jtis, accessExps,
		families, refreshHashes, refreshJTIs, refreshAccessExps, refreshExps)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*AuthorizationCode, error) { return scanRedeemed(row) })
}

// codeRedeemFailure finds out why a redemption matched no code, under a row lock so the
// answer and what it does about it (burn, revoke) agree with any concurrent attempt.
func (s *Store) codeRedeemFailure(ctx context.Context, r CodeRedemption) error {
	var reason error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes
			WHERE code_hash = $1 FOR UPDATE`, r.Hash))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			reason = ErrNotFound
			return nil
		case err != nil:
			return err
		case !c.UsedAt.IsZero():
			reason = ErrAlreadyUsed
			return revokeFamily(ctx, tx, c.RefreshFamilyID, r.Now, c.AccessTokenJTI, c.AccessExpiresAt)
		case !c.ExpiresAt.After(r.Now):
			reason = ErrExpired
			return nil
		case c.ClientID != r.ClientID || c.RedirectURI != r.RedirectURI || c.CodeChallenge != r.CodeChallenge:
			// A code tried with the wrong verifier may be under attack: burn it.
			reason = ErrMismatch
			_, err := tx.Exec(ctx, `UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1`, r.Hash, r.Now)
			return err
		default:
			// The redemption statement would have matched this row; nothing else changes
			// a code, so this is not expected to happen.
			return errors.New("code state changed during redemption")
		}
	})
	if err != nil {
		return wrap("code_redeem", err)
	}
	return reason
}
