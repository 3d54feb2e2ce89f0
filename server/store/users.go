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

const userColumns = `user_id::text, username, email, email_verified, name, given_name, family_name,
	password_hash, disabled, admin, groups, created_at, updated_at`

func scanUser(row pgx.Row) (*User, error) {
	u := &User{}
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.EmailVerified, &u.Name, &u.GivenName, &u.FamilyName,
		&u.PasswordHash, &u.Disabled, &u.Admin, &u.Groups, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

var insertUserSQL = `WITH ins AS (
	INSERT INTO users (user_id, username, email, email_verified, name, given_name, family_name,
		password_hash, disabled, admin, groups)
	VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
	RETURNING user_id::text AS id, created_at, updated_at)
SELECT id, created_at, updated_at, ` + notifySQL(ChangeUser, "id") + ` FROM ins`

// CreateUser inserts u, with a new random UUID as its ID unless u.ID is set, and sets
// u.ID, CreatedAt and UpdatedAt. ErrConflict when the username or the (non-empty) email
// is taken, compared case-insensitively; ErrInvalid for a malformed ID or an empty
// username.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	defer s.done("user_create", s.start())
	if u.ID != "" && !validUUID(u.ID) {
		return ErrInvalid
	}
	err := s.pool.QueryRow(ctx, insertUserSQL, optText(u.ID), u.Username, u.Email, u.EmailVerified, u.Name,
		u.GivenName, u.FamilyName, u.PasswordHash, u.Disabled, u.Admin, nonNil(u.Groups)).Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt, nil)
	return wrap("user_create", err)
}

// GetUser returns the user with that ID. ErrNotFound also for an ID that is no UUID.
func (s *Store) GetUser(ctx context.Context, id string) (*User, error) {
	defer s.done("user_get", s.start())
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE user_id = $1`, id))
	if err != nil {
		return nil, wrap("user_get", err)
	}
	return u, nil
}

// A username match wins over an email match (one user's username may be another's email).
// Each branch uses its own expression index.
const userByLoginSQL = `SELECT ` + userColumns + ` FROM (
	SELECT 0 AS rank, * FROM users WHERE lower(username) = lower($1)
	UNION ALL
	SELECT 1 AS rank, * FROM users WHERE lower(email) = lower($1) AND email <> ''
) AS u ORDER BY rank LIMIT 1`

// GetUserByLogin returns the user whose username or email is login, compared
// case-insensitively, or ErrNotFound.
func (s *Store) GetUserByLogin(ctx context.Context, login string) (*User, error) {
	defer s.done("user_get_by_login", s.start())
	if login == "" {
		return nil, ErrNotFound
	}
	u, err := scanUser(s.pool.QueryRow(ctx, userByLoginSQL, login))
	if err != nil {
		return nil, wrap("user_get_by_login", err)
	}
	return u, nil
}

// ListUsers returns up to p.Limit users (100 when zero) ordered by username
// (case-insensitively, which is a total order since usernames are unique that way),
// after the username p.After.
func (s *Store) ListUsers(ctx context.Context, p Page) ([]*User, error) {
	return listPage(ctx, s, "user_list", `SELECT `+userColumns+` FROM users
		WHERE lower(username) > lower($1) ORDER BY lower(username) LIMIT $2`, p, scanUser)
}

var updateUserSQL = `WITH upd AS (
	UPDATE users SET username = $2, email = $3, email_verified = $4, name = $5, given_name = $6,
		family_name = $7, disabled = $8, admin = $9, groups = $10, updated_at = now()
	WHERE user_id = $1
	RETURNING user_id::text AS id, updated_at)
SELECT updated_at, ` + notifySQL(ChangeUser, "id") + ` FROM upd`

// UpdateUser writes every profile field of u, Disabled, Admin and Groups (not the password, see
// SetUserPassword) and sets u.UpdatedAt. ErrNotFound when there is no such user,
// ErrConflict when the new username or email is another user's.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	defer s.done("user_update", s.start())
	if !validUUID(u.ID) {
		return ErrNotFound
	}
	err := s.pool.QueryRow(ctx, updateUserSQL, u.ID, u.Username, u.Email, u.EmailVerified, u.Name,
		u.GivenName, u.FamilyName, u.Disabled, u.Admin, nonNil(u.Groups)).Scan(&u.UpdatedAt, nil)
	return wrap("user_update", err)
}

var setUserGroupsSQL = `WITH upd AS (
	UPDATE users SET groups = $2, updated_at = now() WHERE user_id = $1 RETURNING user_id::text AS id, updated_at)
SELECT updated_at, ` + notifySQL(ChangeUser, "id") + ` FROM upd`

// SetUserGroups replaces the user's groups and returns the new UpdatedAt. Tokens already
// issued keep the groups they carry; the next token issued (a refresh, a sign-in) has the
// new ones. ErrNotFound when there is no such user.
func (s *Store) SetUserGroups(ctx context.Context, id string, groups []string) (time.Time, error) {
	defer s.done("user_set_groups", s.start())
	if !validUUID(id) {
		return time.Time{}, ErrNotFound
	}
	var updated time.Time
	err := s.pool.QueryRow(ctx, setUserGroupsSQL, id, nonNil(groups)).Scan(&updated, nil)
	return updated, wrap("user_set_groups", err)
}

var setUserPasswordSQL = `WITH upd AS (
	UPDATE users SET password_hash = $2, updated_at = now() WHERE user_id = $1 RETURNING user_id::text AS id)
SELECT ` + notifySQL(ChangeUser, "id") + ` FROM upd`

// SetUserPassword replaces the user's password hash (argon2id, PHC form). ErrNotFound
// when there is no such user.
func (s *Store) SetUserPassword(ctx context.Context, id, hash string) error {
	defer s.done("user_set_password", s.start())
	if !validUUID(id) {
		return ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, setUserPasswordSQL, id, hash)
	if err != nil {
		return wrap("user_set_password", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Sessions, authorization codes and consents go with the user (ON DELETE CASCADE), refresh
// tokens by this statement (their table has no foreign keys); the cutoff revokes the
// access tokens already out.
var deleteUserSQL = `WITH del AS (
	DELETE FROM users WHERE user_id = $1 RETURNING user_id
), refresh AS (
	DELETE FROM refresh_tokens WHERE user_id IN (SELECT user_id FROM del)
), cut AS (
	INSERT INTO token_cutoffs (kind, subject, not_before)
	SELECT 'user', user_id::text, $2 FROM del
	ON CONFLICT (kind, subject) DO UPDATE SET not_before = greatest(token_cutoffs.not_before, excluded.not_before)
	RETURNING subject
)
SELECT ` + notifySQL(ChangeUser, "user_id::text") + `, ` + notifySQL(ChangeCutoff, "'user:' || user_id::text") + ` FROM del`

// DeleteUser removes the user with their sessions, refresh tokens, codes and consents,
// and sets a user cutoff at now so that their access tokens are revoked. ErrNotFound when
// there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	defer s.done("user_delete", s.start())
	if !validUUID(id) {
		return ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, deleteUserSQL, id, now)
	if err != nil {
		return wrap("user_delete", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
