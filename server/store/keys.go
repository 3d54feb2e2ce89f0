/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const keyColumns = `kid, alg, private_key, encrypted, state, created_at, retire_after`

func scanKey(row pgx.Row) (*SigningKey, error) {
	k := &SigningKey{}
	err := row.Scan(&k.KID, &k.Algorithm, &k.PrivateKey, &k.Encrypted, (*string)(&k.State), &k.CreatedAt,
		scanTime{&k.RetireAfter})
	return k, err
}

// ListSigningKeys returns every key, oldest first. Replicas cache them and reload on a
// ChangeKey.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*SigningKey, error) {
	defer s.done("key_list", s.start())
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, wrap("key_list", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*SigningKey, error) { return scanKey(row) })
	return list, wrap("key_list", err)
}

var insertKeySQL = `WITH ins AS (
	INSERT INTO signing_keys (kid, alg, private_key, encrypted, state, created_at, retire_after)
	VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7)
	RETURNING kid, created_at)
SELECT created_at, ` + notifySQL(ChangeKey, "kid") + ` FROM ins`

func insertKey(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, k *SigningKey) error {
	return q.QueryRow(ctx, insertKeySQL, k.KID, k.Algorithm, k.PrivateKey, k.Encrypted, string(k.State),
		optTime(k.CreatedAt), optTime(k.RetireAfter)).Scan(&k.CreatedAt, nil)
}

// InsertSigningKey stores k as it is (state included) and sets its CreatedAt when unset.
// ErrConflict when the kid exists, or when k would be a second active or next key of its
// algorithm; ErrInvalid for an unknown state.
func (s *Store) InsertSigningKey(ctx context.Context, k *SigningKey) error {
	defer s.done("key_insert", s.start())
	return wrap("key_insert", insertKey(ctx, s.pool, k))
}

// keyRotationLockID is the transaction advisory lock that serialises key rotations.
const keyRotationLockID = 0x617574686c7901 // "authly" 1

var retireActiveKeySQL = `WITH upd AS (
	UPDATE signing_keys SET state = 'retired', retire_after = $2 WHERE alg = $1 AND state = 'active'
	RETURNING kid)
SELECT ` + notifySQL(ChangeKey, "kid") + ` FROM upd`

var promoteNextKeySQL = `WITH upd AS (
	UPDATE signing_keys SET state = 'active' WHERE alg = $1 AND state = 'next'
	RETURNING kid)
SELECT ` + notifySQL(ChangeKey, "kid") + ` FROM upd`

// RotateSigningKeys moves the keys of alg one step on, in one transaction that concurrent
// rotations wait for: the active key retires (deletable after retireAfter), the next key
// becomes active, and newNext (when not nil) is inserted as the next key, so that it is
// published before it signs. newNext's Algorithm defaults to alg and its State is set to
// KeyNext.
//
// With no keys of alg yet, it only inserts newNext; the next rotation activates it.
// It refuses (ErrNotFound) to retire an active key when there is no next key to take its
// place.
func (s *Store) RotateSigningKeys(ctx context.Context, alg string, newNext *SigningKey, retireAfter time.Time) error {
	defer s.done("key_rotate", s.start())
	if newNext != nil {
		if newNext.Algorithm == "" {
			newNext.Algorithm = alg
		}
		if newNext.Algorithm != alg {
			return fmt.Errorf("%w: new %s key for a rotation of %s keys", ErrInvalid, newNext.Algorithm, alg)
		}
		newNext.State, newNext.RetireAfter = KeyNext, time.Time{}
	}
	var refused bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(keyRotationLockID)); err != nil {
			return err
		}
		var hasActive, hasNext bool
		if err := tx.QueryRow(ctx, `SELECT coalesce(bool_or(state = 'active'), false), coalesce(bool_or(state = 'next'), false)
			FROM signing_keys WHERE alg = $1`, alg).Scan(&hasActive, &hasNext); err != nil {
			return err
		}
		if hasActive && !hasNext {
			refused = true
			return nil
		}
		if _, err := tx.Exec(ctx, retireActiveKeySQL, alg, optTime(retireAfter)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, promoteNextKeySQL, alg); err != nil {
			return err
		}
		if newNext == nil {
			return nil
		}
		return insertKey(ctx, tx, newNext)
	})
	if err != nil {
		return wrap("key_rotate", err)
	}
	if refused {
		return fmt.Errorf("%w: no next %s key to activate", ErrNotFound, alg)
	}
	return nil
}

var deleteExpiredKeysSQL = `WITH del AS (
	DELETE FROM signing_keys WHERE state = 'retired' AND retire_after <= $1 RETURNING kid)
SELECT ` + notifySQL(ChangeKey, "kid") + ` FROM del`

// DeleteExpiredKeys deletes the retired keys that no token can need any more at now, and
// returns how many: those whose RetireAfter lies tokenLifetime or more before now. A key
// signs nothing after it retires, and RetireAfter is never before its retirement (the
// rotation sets it to the retirement time plus how long the key stays published), so a
// token it signed, valid for at most tokenLifetime, has expired by then. A retired key
// without RetireAfter is kept.
func (s *Store) DeleteExpiredKeys(ctx context.Context, now time.Time, tokenLifetime time.Duration) (int64, error) {
	defer s.done("key_delete_expired", s.start())
	tag, err := s.pool.Exec(ctx, deleteExpiredKeysSQL, now.Add(-max(tokenLifetime, 0)))
	if err != nil {
		return 0, wrap("key_delete_expired", err)
	}
	return tag.RowsAffected(), nil
}
