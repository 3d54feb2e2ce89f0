/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

const scopeColumns = `name, description, is_default, managed_by, created_at, updated_at`

func scanScope(row pgx.Row) (*Scope, error) {
	sc := &Scope{}
	err := row.Scan(&sc.Name, &sc.Description, &sc.Default, &sc.ManagedBy, &sc.CreatedAt, &sc.UpdatedAt)
	return sc, err
}

var insertScopeSQL = `WITH ins AS (
	INSERT INTO scopes (name, description, is_default, managed_by) VALUES ($1, $2, $3, $4)
	RETURNING name, created_at, updated_at)
SELECT created_at, updated_at, ` + notifySQL(ChangeScope, "name") + ` FROM ins`

// CreateScope inserts sc and sets its CreatedAt and UpdatedAt. ErrConflict when the name
// is taken.
func (s *Store) CreateScope(ctx context.Context, sc *Scope) error {
	defer s.done("scope_create", s.start())
	err := s.pool.QueryRow(ctx, insertScopeSQL, sc.Name, sc.Description, sc.Default, sc.ManagedBy).
		Scan(&sc.CreatedAt, &sc.UpdatedAt, nil)
	return wrap("scope_create", err)
}

var upsertScopeSQL = `WITH up AS (
	INSERT INTO scopes (name, description, is_default, managed_by) VALUES ($1, $2, $3, $4)
	ON CONFLICT (name) DO UPDATE SET
		description = excluded.description,
		is_default = excluded.is_default,
		managed_by = excluded.managed_by,
		updated_at = now()
	RETURNING name, created_at, updated_at, xmax = 0 AS created)
SELECT created_at, updated_at, created, ` + notifySQL(ChangeScope, "name") + ` FROM up`

// UpsertScope inserts sc or replaces every field of the scope with its name, sets its
// CreatedAt and UpdatedAt, and reports whether the row is new.
func (s *Store) UpsertScope(ctx context.Context, sc *Scope) (created bool, err error) {
	defer s.done("scope_upsert", s.start())
	err = s.pool.QueryRow(ctx, upsertScopeSQL, sc.Name, sc.Description, sc.Default, sc.ManagedBy).
		Scan(&sc.CreatedAt, &sc.UpdatedAt, &created, nil)
	return created, wrap("scope_upsert", err)
}

// GetScope returns the scope with that name, or ErrNotFound.
func (s *Store) GetScope(ctx context.Context, name string) (*Scope, error) {
	defer s.done("scope_get", s.start())
	sc, err := scanScope(s.pool.QueryRow(ctx, `SELECT `+scopeColumns+` FROM scopes WHERE name = $1`, name))
	if err != nil {
		return nil, wrap("scope_get", err)
	}
	return sc, nil
}

// ListScopes returns every scope ordered by name. Scopes are few (tens), so there is no
// paging.
func (s *Store) ListScopes(ctx context.Context) ([]*Scope, error) {
	defer s.done("scope_list", s.start())
	rows, err := s.pool.Query(ctx, `SELECT `+scopeColumns+` FROM scopes ORDER BY name`)
	if err != nil {
		return nil, wrap("scope_list", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Scope, error) { return scanScope(row) })
	return list, wrap("scope_list", err)
}

var deleteScopeSQL = `WITH del AS (DELETE FROM scopes WHERE name = $1 RETURNING name)
SELECT ` + notifySQL(ChangeScope, "name") + ` FROM del`

// DeleteScope removes the scope, or returns ErrNotFound. Clients and consents that name
// it keep the name; the server ignores scopes it does not know.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	defer s.done("scope_delete", s.start())
	tag, err := s.pool.Exec(ctx, deleteScopeSQL, name)
	if err != nil {
		return wrap("scope_delete", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
