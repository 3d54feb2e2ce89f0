package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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
SELECT ` + codeColumns + ` FROM code`

// RedeemAuthorizationCode consumes the code and, when r.Refresh is set, stores the refresh
// token issued with it, in one statement. It returns the code as redeemed.
//
// When the code cannot be redeemed it returns ErrNotFound (no such code), ErrExpired,
// ErrMismatch (another client, redirect URI or PKCE challenge; the code is burned so it
// cannot be tried again) or ErrAlreadyUsed. A second redemption is a sign that the code
// leaked (RFC 6749 section 4.1.2): the same call then revokes the refresh token family
// the first redemption started and deny-lists its access tokens.
func (s *Store) RedeemAuthorizationCode(ctx context.Context, r CodeRedemption) (*AuthorizationCode, error) {
	defer s.done("code_redeem", s.start())
	var refreshHash []byte
	var family, refreshJTI string
	var refreshAccessExp, refreshExp time.Time
	if r.Refresh != nil {
		if r.Refresh.FamilyID == "" || len(r.Refresh.Hash) == 0 {
			return nil, fmt.Errorf("%w: refresh token without hash or family", ErrInvalid)
		}
		refreshHash, family = r.Refresh.Hash, r.Refresh.FamilyID
		refreshJTI, refreshAccessExp, refreshExp = r.Refresh.AccessTokenJTI, r.Refresh.AccessExpiresAt, r.Refresh.ExpiresAt
	}
	code, err := scanCode(s.pool.QueryRow(ctx, redeemCodeSQL, r.Hash, r.ClientID, r.RedirectURI, r.CodeChallenge,
		r.Now, r.AccessTokenJTI, optTime(r.AccessExpiresAt), family, refreshHash, refreshJTI,
		optTime(refreshAccessExp), refreshExp))
	if err == nil {
		if t := r.Refresh; t != nil {
			t.ClientID, t.UserID, t.Scopes, t.AuthTime, t.CreatedAt = code.ClientID, code.UserID, code.Scopes, code.AuthTime, r.Now
		}
		return code, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("code_redeem", err)
	}
	return nil, s.codeRedeemFailure(ctx, r)
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
