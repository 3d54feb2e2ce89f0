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

const sessionColumns = `session_hash, user_id::text, auth_time, expires_at, created_at, user_agent, remote_ip`

func scanSession(row pgx.Row) (*Session, error) {
	se := &Session{}
	err := row.Scan(&se.Hash, &se.UserID, &se.AuthTime, &se.ExpiresAt, &se.CreatedAt, &se.UserAgent, &se.RemoteIP)
	return se, err
}

// CreateSession stores a login session (by the hash of its cookie) and sets CreatedAt
// when unset. ErrNotFound when the user does not exist, ErrConflict when the hash does.
func (s *Store) CreateSession(ctx context.Context, se *Session) error {
	defer s.done("session_create", s.start())
	err := s.pool.QueryRow(ctx, `INSERT INTO sessions (session_hash, user_id, auth_time, expires_at, created_at,
		user_agent, remote_ip) VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7) RETURNING created_at`,
		se.Hash, se.UserID, se.AuthTime, se.ExpiresAt, optTime(se.CreatedAt), se.UserAgent, se.RemoteIP).
		Scan(&se.CreatedAt)
	return wrap("session_create", err)
}

// GetSession returns the session with that hash unless it has expired at now;
// ErrNotFound otherwise.
func (s *Store) GetSession(ctx context.Context, hash []byte, now time.Time) (*Session, error) {
	defer s.done("session_get", s.start())
	se, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE session_hash = $1 AND expires_at > $2`, hash, now))
	if err != nil {
		return nil, wrap("session_get", err)
	}
	return se, nil
}

// DeleteSession ends the session (logout). ErrNotFound when there is none with that hash.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	defer s.done("session_delete", s.start())
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE session_hash = $1`, hash)
	if err != nil {
		return wrap("session_delete", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ListUserSessions returns the user's sessions that have not expired at now, newest
// first. An id that is no UUID has none.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error) {
	defer s.done("session_list_user", s.start())
	if !validUUID(userID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, session_hash`, userID, now)
	if err != nil {
		return nil, wrap("session_list_user", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Session, error) { return scanSession(row) })
	return list, wrap("session_list_user", err)
}

// DeleteUserSessions ends every session of the user and returns how many there were.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	defer s.done("session_delete_user", s.start())
	if !validUUID(userID) {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, wrap("session_delete_user", err)
	}
	return tag.RowsAffected(), nil
}
