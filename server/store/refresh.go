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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

const refreshColumns = `token_hash, family_id, parent_hash, client_id, coalesce(user_id::text, ''), scopes,
	auth_time, access_jti, access_expires_at, expires_at, created_at, used_at, revoked_at`

func scanRefresh(row pgx.Row) (*RefreshToken, error) {
	t := &RefreshToken{}
	err := row.Scan(&t.Hash, &t.FamilyID, &t.ParentHash, &t.ClientID, &t.UserID, &t.Scopes,
		scanTime{&t.AuthTime}, &t.AccessTokenJTI, scanTime{&t.AccessExpiresAt}, &t.ExpiresAt, &t.CreatedAt,
		scanTime{&t.UsedAt}, scanTime{&t.RevokedAt})
	return t, err
}

// The refresh_tokens table has no foreign keys (see migration 0002): the statement checks
// that the client and user exist with plain reads, which take no row locks.
const insertRefreshSQL = `INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, client_id, user_id, scopes,
	auth_time, access_jti, access_expires_at, expires_at, created_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now())
WHERE EXISTS (SELECT 1 FROM clients WHERE client_id = $4)
	AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM users WHERE user_id = $5::uuid))
RETURNING created_at`

// CreateRefreshToken stores a refresh token that starts a new family (password grant,
// or a code redeemed without RedeemAuthorizationCode's Refresh). FamilyID is required;
// CreatedAt defaults to the database's clock and is set on t. ErrNotFound when the client
// or user does not exist, ErrConflict when the hash does.
func (s *Store) CreateRefreshToken(ctx context.Context, t *RefreshToken) error {
	defer s.done("refresh_create", s.start())
	if t.FamilyID == "" || len(t.Hash) == 0 {
		return fmt.Errorf("%w: refresh token without hash or family", ErrInvalid)
	}
	err := s.pool.QueryRow(ctx, insertRefreshSQL, t.Hash, t.FamilyID, t.ParentHash, t.ClientID, optText(t.UserID),
		nonNil(t.Scopes), optTime(t.AuthTime), t.AccessTokenJTI, optTime(t.AccessExpiresAt), t.ExpiresAt,
		optTime(t.CreatedAt)).Scan(&t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound // the client or the user does not exist
	}
	return wrap("refresh_create", err)
}

// RefreshRotation is one use of a refresh token (grant_type=refresh_token).
type RefreshRotation struct {
	// Hash is the key of the refresh token the client presented (credentials.StorageKey);
	// ClientID the authenticated client.
	Hash     []byte
	ClientID string
	// Scopes narrows the grant; nil keeps the old token's scopes. It must be a subset of
	// them.
	Scopes []string
	Now    time.Time
	// ReuseInterval, when positive, lets the client present the token again for that long
	// after its first rotation, in case the response to that rotation was lost: see
	// RotateRefresh. Zero is strict: any second use revokes the family.
	ReuseInterval time.Duration
	// New is the token to issue. The caller sets Hash, ExpiresAt, AccessTokenJTI and
	// AccessExpiresAt; the store takes FamilyID, ClientID, UserID, AuthTime and Scopes
	// (or the narrowed ones) from the old token, ParentHash is the old hash and CreatedAt
	// is Now.
	New RefreshToken
}

// One statement on the success path: the UPDATE claims the old token (row lock: one
// winner among concurrent rotations) and the new one is inserted from its result.
const rotateRefreshSQL = `WITH old AS (
	UPDATE refresh_tokens SET used_at = $4
	WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $4
		AND client_id = $2 AND ($3::text[] IS NULL OR $3::text[] <@ scopes)
	RETURNING *
), new AS (
	INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	SELECT $5, family_id, token_hash, client_id, user_id, coalesce($3::text[], scopes), auth_time,
		$6, $7, $8, $4
	FROM old
	RETURNING token_hash
)
SELECT ` + refreshColumns + ` FROM old`

// RotateRefreshToken is RotateRefresh for callers that need only the consumed token.
func (s *Store) RotateRefreshToken(ctx context.Context, r RefreshRotation) (old *RefreshToken, err error) {
	res, err := s.RotateRefresh(ctx, r)
	return res.Old, err
}

// RefreshRotated is what a successful rotation did.
type RefreshRotated struct {
	// Old is the token presented, as consumed.
	Old *RefreshToken
	// Repeated reports a second use of Old within the rotation's ReuseInterval: the
	// children Old had been rotated into before were revoked and the new token replaces
	// them. Old.UsedAt is still the time of its first rotation.
	Repeated bool
}

// RotateRefresh consumes the refresh token r.Hash and stores r.New in its place, in one
// statement, and returns the old token as consumed. Concurrent rotations that keep their
// scopes share statements (see combiner).
//
// When the token cannot be used it returns, checked in this order, ErrNotFound (unknown),
// ErrMismatch (another client's, never rotated), ErrAlreadyUsed, ErrNotFound (revoked),
// ErrExpired or ErrScopeNotAllowed. A rotated token used again means it leaked (OAuth 2.1
// section 4.3.1): the same call then revokes its whole family, the newest token included,
// deny-lists the family's access tokens and returns ErrAlreadyUsed, also when another
// client presents it.
//
// Except within r.ReuseInterval after the token's first rotation, when its client presents
// it again and the child of that rotation is still unused (the client never got the
// response: a dropped connection, a killed pod): then the token rotates again, the
// earlier child is revoked with its access token, and Repeated is set. The token's row
// lock serialises such rotations, on every replica, so that the token never has more than
// one live child.
func (s *Store) RotateRefresh(ctx context.Context, r RefreshRotation) (RefreshRotated, error) {
	defer s.done("refresh_rotate", s.start())
	if len(r.New.Hash) == 0 {
		return RefreshRotated{}, fmt.Errorf("%w: new refresh token without hash", ErrInvalid)
	}
	if r.Scopes == nil {
		res, err := s.rotations.do(ctx, r)
		switch {
		case err != nil:
			return RefreshRotated{}, wrap("refresh_rotate", err)
		case res.row != nil:
			return RefreshRotated{Old: res.row}, nil
		case !res.retry:
			return s.rotateFailure(ctx, r)
		}
		// The batch was rolled back (a deadlock with another batch): alone, below.
	}
	old, err := s.rotateOne(ctx, r)
	if err == nil {
		return RefreshRotated{Old: old}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return RefreshRotated{}, wrap("refresh_rotate", err)
	}
	return s.rotateFailure(ctx, r)
}

// rotateOne runs rotateRefreshSQL: pgx.ErrNoRows when no usable token matched.
func (s *Store) rotateOne(ctx context.Context, r RefreshRotation) (*RefreshToken, error) {
	return scanRefresh(s.pool.QueryRow(ctx, rotateRefreshSQL, r.Hash, r.ClientID, r.Scopes, r.Now,
		r.New.Hash, r.New.AccessTokenJTI, optTime(r.New.AccessExpiresAt), r.New.ExpiresAt))
}

// rotateBatchSQL is rotateRefreshSQL for many rotations that keep their scopes: $1 to $7
// hold one element per rotation. The tokens are found through the primary key with
// = ANY, whose scan visits rows in index or heap order, so batches running at once lock
// the rows they share in the same order. A deadlock with a failure path's transaction
// rolls the batch back, and each rotation then runs alone.
const rotateBatchSQL = `WITH req AS (
	SELECT * FROM unnest($1::bytea[], $2::text[], $3::timestamptz[], $4::bytea[], $5::text[],
		$6::timestamptz[], $7::timestamptz[])
		AS r(hash, client_id, at, new_hash, new_access_jti, new_access_expires_at, new_expires_at)
), old AS (
	UPDATE refresh_tokens t SET used_at = req.at
	FROM req
	WHERE t.token_hash = ANY($1::bytea[]) AND t.token_hash = req.hash
		AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > req.at AND t.client_id = req.client_id
	RETURNING t.*, req.new_hash, req.new_access_jti, req.new_access_expires_at, req.new_expires_at, req.at
), new AS (
	INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	SELECT new_hash, family_id, token_hash, client_id, user_id, scopes, auth_time,
		new_access_jti, new_access_expires_at, new_expires_at, at
	FROM old
	RETURNING token_hash
)
SELECT ` + refreshColumns + ` FROM old`

// sameRefreshToken keeps two rotations of one token out of one batch: the second must
// run after the first, see it used, and revoke the family.
func sameRefreshToken(a, b RefreshRotation) bool { return bytes.Equal(a.Hash, b.Hash) }

func (s *Store) rotateBatch(batch []*combinedCall[RefreshRotation, consumed[RefreshToken]]) {
	consumeBatch(batch, s.rotateOne, s.rotateMany,
		func(r RefreshRotation, t *RefreshToken) bool { return bytes.Equal(r.Hash, t.Hash) })
}

// rotateMany runs rotateBatchSQL and returns the tokens it consumed.
func (s *Store) rotateMany(ctx context.Context, rs []RefreshRotation) ([]*RefreshToken, error) {
	n := len(rs)
	hashes, clients, ats, newHashes := make([][]byte, n), make([]string, n), make([]time.Time, n), make([][]byte, n)
	jtis, accessExps, exps := make([]string, n), make([]pgtype.Timestamptz, n), make([]time.Time, n)
	for i, r := range rs {
		hashes[i], clients[i], ats[i], newHashes[i] = r.Hash, r.ClientID, r.Now, r.New.Hash
		jtis[i], accessExps[i], exps[i] = r.New.AccessTokenJTI, optTime(r.New.AccessExpiresAt), r.New.ExpiresAt
	}
	rows, err := s.pool.Query(ctx, rotateBatchSQL, hashes, clients, ats, newHashes, jtis, accessExps, exps)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*RefreshToken, error) { return scanRefresh(row) })
}

// rotateFailure finds out why a rotation matched no token, under a row lock, and revokes
// the family on reuse, or rotates the token again within the reuse interval. A
// transaction rolled back by a deadlock (with a family's revocation, which locks the
// family's rows in no particular order) runs again.
func (s *Store) rotateFailure(ctx context.Context, r RefreshRotation) (RefreshRotated, error) {
	var (
		out rotateOutcome
		err error
	)
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			out, err = rotateLocked(ctx, tx, r)
			return err
		})
		if err == nil || !rolledBack(err) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return RefreshRotated{}, wrap("refresh_rotate", err)
	}
	return out.rotated, out.reason
}

// rotateOutcome is what rotateLocked found: the token rotated again within the reuse
// interval, or the reason it cannot be used.
type rotateOutcome struct {
	rotated RefreshRotated
	reason  error
}

func failed(reason error) rotateOutcome { return rotateOutcome{reason: reason} }

// rotateLocked is rotateFailure's transaction; its error is the database's.
func rotateLocked(ctx context.Context, tx pgx.Tx, r RefreshRotation) (rotateOutcome, error) {
	t, err := scanRefresh(tx.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens
		WHERE token_hash = $1 FOR UPDATE`, r.Hash))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return failed(ErrNotFound), nil
	case err != nil:
		return rotateOutcome{}, err
	case t.ClientID != r.ClientID && t.UsedAt.IsZero():
		return failed(ErrMismatch), nil
	case t.ClientID != r.ClientID:
		// A rotated token in another client's hands leaked: reuse, whatever the interval.
		return failed(ErrAlreadyUsed), revokeFamily(ctx, tx, t.FamilyID, r.Now, "", time.Time{})
	case !t.UsedAt.IsZero():
		if withinReuseInterval(t, r) {
			if r.Scopes != nil && !subset(r.Scopes, t.Scopes) {
				return failed(ErrScopeNotAllowed), nil
			}
			again, err := rotateAgain(ctx, tx, t, r)
			if err != nil || again {
				return rotateOutcome{rotated: RefreshRotated{Old: t, Repeated: true}}, err
			}
		}
		// Also when the family is revoked already (by an earlier replay): a replay
		// is reported as one, and revoking again changes nothing.
		return failed(ErrAlreadyUsed), revokeFamily(ctx, tx, t.FamilyID, r.Now, "", time.Time{})
	case !t.RevokedAt.IsZero():
		return failed(ErrNotFound), nil
	case !t.ExpiresAt.After(r.Now):
		return failed(ErrExpired), nil
	case r.Scopes != nil && !subset(r.Scopes, t.Scopes):
		return failed(ErrScopeNotAllowed), nil
	default:
		return rotateOutcome{}, errors.New("refresh token state changed during rotation")
	}
}

// withinReuseInterval reports whether the rotated token t may rotate again: its family is
// not revoked, it has not expired and its first rotation is less than the interval ago.
// A clock behind the one that rotated it (another replica's) counts as within.
func withinReuseInterval(t *RefreshToken, r RefreshRotation) bool {
	return r.ReuseInterval > 0 && t.RevokedAt.IsZero() && t.ExpiresAt.After(r.Now) &&
		r.Now.Sub(t.UsedAt) < r.ReuseInterval
}

// rotateAgainSQL revokes the live children of token $2 (family $1) at $3, deny-lists
// their unexpired access tokens with a NOTIFY each, and inserts the new child $4 with
// access token $5 (expiring at $6), expiry $7, client $8, user $9, scopes $10 and auth
// time $11.
var rotateAgainSQL = `WITH replaced AS (
	UPDATE refresh_tokens SET revoked_at = $3
	WHERE family_id = $1 AND parent_hash = $2 AND revoked_at IS NULL
	RETURNING access_jti, access_expires_at
), ins AS (
	INSERT INTO revoked_tokens (jti, expires_at)
	SELECT access_jti, max(access_expires_at) FROM replaced
	WHERE access_jti <> '' AND access_expires_at > $3 GROUP BY access_jti
	ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)
	RETURNING jti
), new AS (
	INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	VALUES ($4, $1, $2, $8, $9::uuid, $10, $11, $5, $6, $7, $3)
)
SELECT count(` + notifySQL(ChangeRevoked, "jti") + `) FROM ins`

// rotateAgain rotates the rotated token t again, in tx, which holds t's row lock: when
// none of t's children was used (the client would have had its response then) and one
// is live, it revokes them and stores r.New as t's only live child. false when it did not.
func rotateAgain(ctx context.Context, tx pgx.Tx, t *RefreshToken, r RefreshRotation) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT used_at IS NOT NULL, revoked_at IS NULL FROM refresh_tokens
		WHERE family_id = $1 AND parent_hash = $2 FOR UPDATE`, t.FamilyID, t.Hash)
	if err != nil {
		return false, err
	}
	live := false
	var used, unrevoked bool
	_, err = pgx.ForEachRow(rows, []any{&used, &unrevoked}, func() error {
		if used {
			return errChildUsed
		}
		live = live || unrevoked
		return nil
	})
	switch {
	case errors.Is(err, errChildUsed):
		return false, nil
	case err != nil:
		return false, err
	case !live:
		return false, nil
	}
	scopes := t.Scopes
	if r.Scopes != nil {
		scopes = r.Scopes
	}
	_, err = tx.Exec(ctx, rotateAgainSQL, t.FamilyID, t.Hash, r.Now, r.New.Hash, r.New.AccessTokenJTI,
		optTime(r.New.AccessExpiresAt), r.New.ExpiresAt, t.ClientID, optText(t.UserID), nonNil(scopes), optTime(t.AuthTime))
	return err == nil, err
}

var errChildUsed = errors.New("a child of the token was used")

func subset(sub, of []string) bool {
	for _, s := range sub {
		if !contains(of, s) {
			return false
		}
	}
	return true
}

// GetRefreshToken returns the refresh token with that hash, used or revoked alike (for
// introspection), or ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (*RefreshToken, error) {
	defer s.done("refresh_get", s.start())
	t, err := scanRefresh(s.pool.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE token_hash = $1`, hash))
	if err != nil {
		return nil, wrap("refresh_get", err)
	}
	return t, nil
}

// RevokeRefreshToken revokes the token's whole family and deny-lists its access tokens
// (RFC 7009 section 2.1). ErrNotFound when the token is unknown or another client's;
// revoking a revoked token again succeeds.
func (s *Store) RevokeRefreshToken(ctx context.Context, hash []byte, clientID string, now time.Time) error {
	defer s.done("refresh_revoke", s.start())
	var family string
	err := s.pool.QueryRow(ctx, `SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2`,
		hash, clientID).Scan(&family)
	if err != nil {
		return wrap("refresh_revoke", err)
	}
	return wrap("refresh_revoke", revokeFamily(ctx, s.pool, family, now, "", time.Time{}))
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// revokeFamilySQL revokes the refresh tokens of family $1 at $2 and deny-lists, with a
// NOTIFY each, the unexpired access tokens issued with them plus the extra jti $3 (expiring
// at $4), when given.
var revokeFamilySQL = `WITH revoked AS (
	UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL
	RETURNING token_hash
), denied AS (
	SELECT access_jti AS jti, access_expires_at AS expires_at FROM refresh_tokens
	WHERE family_id = $1 AND access_jti <> '' AND access_expires_at > $2
	UNION ALL
	SELECT $3::text, $4::timestamptz WHERE $3::text <> '' AND $4::timestamptz > $2
), ins AS (
	INSERT INTO revoked_tokens (jti, expires_at)
	SELECT jti, max(expires_at) FROM denied GROUP BY jti
	ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)
	RETURNING jti
)
SELECT (SELECT count(*) FROM revoked), count(` + notifySQL(ChangeRevoked, "jti") + `) FROM ins`

func revokeFamily(ctx context.Context, q execer, family string, now time.Time, jti string, jtiExpiresAt time.Time) error {
	_, err := q.Exec(ctx, revokeFamilySQL, family, now, jti, optTime(jtiExpiresAt))
	return err
}
