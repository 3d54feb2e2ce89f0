/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"time"
)

// A row whose assertion expired (and was not purged yet) may be taken again: the jti of an
// expired assertion is free, and the assertion presenting it now is checked for expiry by
// the caller.
var useClientAssertionSQL = `INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
	ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
	WHERE client_assertion_jtis.expires_at <= $4`

// UseClientAssertion records that the client presented a client assertion (RFC 7523)
// with this jti, valid until expiresAt. ErrAlreadyUsed when the client presented the same
// jti before and that assertion has not expired at now: every replica shares the table,
// so a replay is refused wherever it arrives. The purge drops rows once they expire.
func (s *Store) UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	defer s.done("client_assertion_use", s.start())
	tag, err := s.pool.Exec(ctx, useClientAssertionSQL, clientID, jti, expiresAt, now)
	if err != nil {
		return wrap("client_assertion_use", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrAlreadyUsed
	}
	return nil
}
