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

// RotateRefreshToken consumes the refresh token r.Hash and stores r.New in its place, in
// one statement, and returns the old token as consumed. Concurrent rotations that keep
// their scopes share statements (see combiner).
//
// When the token cannot be used it returns, checked in this order, ErrNotFound (unknown),
// ErrMismatch (another client's), ErrAlreadyUsed, ErrNotFound (revoked), ErrExpired or
// ErrScopeNotAllowed. A rotated token
// used again means it leaked (OAuth 2.1 section 4.3.1): the same call then revokes its
// whole family, the newest token included, and deny-lists the family's access tokens.
func (s *Store) RotateRefreshToken(ctx context.Context, r RefreshRotation) (old *RefreshToken, err error) {
	defer s.done("refresh_rotate", s.start())
	if len(r.New.Hash) == 0 {
		return nil, fmt.Errorf("%w: new refresh token without hash", ErrInvalid)
	}
	if r.Scopes == nil {
		res, err := s.rotations.do(ctx, r)
		switch {
		case err != nil:
			return nil, wrap("refresh_rotate", err)
		case res.row != nil:
			return res.row, nil
		case !res.retry:
			return nil, s.rotateFailure(ctx, r)
		}
		// The batch was rolled back (a deadlock with another batch): alone, below.
	}
	old, err = s.rotateOne(ctx, r)
	if err == nil {
		return old, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("refresh_rotate", err)
	}
	return nil, s.rotateFailure(ctx, r)
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
// the family on reuse.
func (s *Store) rotateFailure(ctx context.Context, r RefreshRotation) error {
	var reason error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := scanRefresh(tx.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens
			WHERE token_hash = $1 FOR UPDATE`, r.Hash))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			reason = ErrNotFound
			return nil
		case err != nil:
			return err
		case t.ClientID != r.ClientID:
			reason = ErrMismatch
			return nil
		case !t.UsedAt.IsZero():
			// Also when the family is revoked already (by an earlier replay): a replay
			// is reported as one, and revoking again changes nothing.
			reason = ErrAlreadyUsed
			return revokeFamily(ctx, tx, t.FamilyID, r.Now, "", time.Time{})
		case !t.RevokedAt.IsZero():
			reason = ErrNotFound
			return nil
		case !t.ExpiresAt.After(r.Now):
			reason = ErrExpired
			return nil
		case r.Scopes != nil && !subset(r.Scopes, t.Scopes):
			reason = ErrScopeNotAllowed
			return nil
		default:
			return errors.New("refresh token state changed during rotation")
		}
	})
	if err != nil {
		return wrap("refresh_rotate", err)
	}
	return reason
}

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
