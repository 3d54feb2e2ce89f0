/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cache

import (
	"context"
	"sync"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// RevocationLoader reads the revocation state from the database.
type RevocationLoader interface {
	ListRevokedTokens(ctx context.Context, now time.Time) ([]store.RevokedToken, error)
	ListCutoffs(ctx context.Context) ([]store.Cutoff, error)
}

// Revocations holds the access-token deny-list (by jti) and the client and user cutoffs in
// memory, so that checking a token costs no database round trip.
type Revocations struct {
	load RevocationLoader
	now  func() time.Time
	// maxTokenTTL bounds how long a deny-listed jti learnt from a notification is kept:
	// the notification does not carry the token's expiry, and no access token lives longer.
	maxTokenTTL time.Duration

	mu      sync.RWMutex
	jtis    map[string]time.Time // jti -> when the token expires anyway
	cutoffs map[string]time.Time // "client:<id>" or "user:<id>" -> not before
}

// NewRevocations returns an empty set; call Reload before serving.
func NewRevocations(load RevocationLoader, now func() time.Time, maxTokenTTL time.Duration) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{load: load, now: now, maxTokenTTL: maxTokenTTL,
		jtis: map[string]time.Time{}, cutoffs: map[string]time.Time{}}
}

// Revoked reports whether an access token is revoked: its jti is deny-listed, or its
// client or subject has a cutoff after the token was issued.
func (r *Revocations) Revoked(jti, clientID, subject string, issuedAt time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if jti != "" {
		if _, ok := r.jtis[jti]; ok {
			return true
		}
	}
	if len(r.cutoffs) == 0 {
		return false
	}
	if nb, ok := r.cutoffs["client:"+clientID]; ok && !issuedAt.After(nb) {
		return true
	}
	if subject != "" {
		if nb, ok := r.cutoffs["user:"+subject]; ok && !issuedAt.After(nb) {
			return true
		}
	}
	return false
}

// Reload reads the whole state from the database. Deny-listed ids held already stay until
// their tokens expire; the cutoffs are replaced.
func (r *Revocations) Reload(ctx context.Context) error {
	now := r.now()
	revoked, err := r.load.ListRevokedTokens(ctx, now)
	if err != nil {
		return err
	}
	cutoffs, err := r.load.ListCutoffs(ctx)
	if err != nil {
		return err
	}
	jtis := make(map[string]time.Time, len(revoked))
	for _, t := range revoked {
		jtis[t.JTI] = t.ExpiresAt
	}
	cm := make(map[string]time.Time, len(cutoffs))
	for _, c := range cutoffs {
		cm[string(c.Kind)+":"+c.Subject] = c.NotBefore
	}
	r.mu.Lock()
	// Keep the unexpired ids held already: one denied (Deny, Apply) while the lists were
	// read is missing from them, and a revocation is never undone.
	for jti, exp := range r.jtis {
		if _, ok := jtis[jti]; !ok && !now.After(exp) {
			jtis[jti] = exp
		}
	}
	r.jtis, r.cutoffs = jtis, cm
	r.mu.Unlock()
	return nil
}

// Apply takes in a change announced by the store.
func (r *Revocations) Apply(ctx context.Context, ch store.Change) error {
	switch ch.Kind {
	case store.ChangeRevoked:
		r.mu.Lock()
		r.jtis[ch.Key] = r.now().Add(r.maxTokenTTL)
		r.mu.Unlock()
		return nil
	case store.ChangeCutoff, store.ChangeReset:
		return r.Reload(ctx)
	}
	return nil
}

// Deny deny-lists a token id at once. The replica that revokes a token calls it, so that
// it never accepts the token again, not even before its own notification comes back;
// the other replicas learn of it through Apply.
func (r *Revocations) Deny(jti string, expiresAt time.Time) {
	r.mu.Lock()
	r.jtis[jti] = expiresAt
	r.mu.Unlock()
}

// Prune forgets deny-listed ids of tokens that have expired anyway.
func (r *Revocations) Prune() {
	now := r.now()
	r.mu.Lock()
	for jti, exp := range r.jtis {
		if now.After(exp) {
			delete(r.jtis, jti)
		}
	}
	r.mu.Unlock()
}

// Size returns how many token ids and cutoffs are held.
func (r *Revocations) Size() (jtis, cutoffs int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.jtis), len(r.cutoffs)
}
