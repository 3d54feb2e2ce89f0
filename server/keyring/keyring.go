/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package keyring keeps the signing keys in the database: it creates them on first start,
// loads them on every replica, and rotates them so that a new key is published in the JWKS
// before anything is signed with it.
package keyring

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// Algorithms the server signs with. Both always have an active key, since a client may ask
// for ID tokens in either.
var Algorithms = []string{"ES256", "RS256"}

// Keyring loads and changes the keys of one database.
type Keyring struct {
	Store  *store.Store
	Sealer *tokens.Sealer // nil: private keys are stored unencrypted (development)
	Rand   io.Reader
	Clock  func() time.Time
}

func (k *Keyring) rand() io.Reader {
	if k.Rand != nil {
		return k.Rand
	}
	return rand.Reader
}

func (k *Keyring) now() time.Time {
	if k.Clock != nil {
		return k.Clock()
	}
	return time.Now()
}

// Ensure creates, for each algorithm that lacks them, an active key and a next key. Two
// replicas starting at once may both try: the loser's insert conflicts and is ignored, and
// the keys are read back from the database.
func (k *Keyring) Ensure(ctx context.Context) error {
	have, err := k.Store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, alg := range Algorithms {
		for _, state := range []store.KeyState{store.KeyActive, store.KeyNext} {
			if hasKey(have, alg, state) {
				continue
			}
			if err := k.insert(ctx, alg, state); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
	}
	return nil
}

func hasKey(keys []*store.SigningKey, alg string, state store.KeyState) bool {
	for _, k := range keys {
		if k.Algorithm == alg && k.State == state {
			return true
		}
	}
	return false
}

func (k *Keyring) newRow(alg string, state store.KeyState) (*store.SigningKey, error) {
	key, err := tokens.GenerateKey(alg, k.rand())
	if err != nil {
		return nil, err
	}
	der, encrypted, err := tokens.MarshalPrivate(key, k.Sealer)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{
		KID: key.KID, Algorithm: alg, PrivateKey: der, Encrypted: encrypted,
		State: state, CreatedAt: k.now(),
	}, nil
}

func (k *Keyring) insert(ctx context.Context, alg string, state store.KeyState) error {
	row, err := k.newRow(alg, state)
	if err != nil {
		return err
	}
	return k.Store.InsertSigningKey(ctx, row)
}

// Load reads every key of the database (expired retired keys left out).
func (k *Keyring) Load(ctx context.Context) ([]*tokens.Key, error) {
	rows, err := k.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	keys := make([]*tokens.Key, 0, len(rows))
	for _, r := range rows {
		if r.State == store.KeyRetired && !r.RetireAfter.IsZero() && now.After(r.RetireAfter) {
			continue
		}
		if r.Encrypted && k.Sealer == nil {
			return nil, fmt.Errorf("keyring: key %s is encrypted but no key encryption key is configured", r.KID)
		}
		signer, err := tokens.UnmarshalPrivate(r.KID, r.Algorithm, r.PrivateKey, r.Encrypted, k.Sealer)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %s: %w", r.KID, err)
		}
		keys = append(keys, &tokens.Key{KID: r.KID, Algorithm: r.Algorithm, Private: signer, State: string(r.State), CreatedAt: r.CreatedAt})
	}
	return keys, nil
}

// Rotate makes each algorithm's next key active, retires the active one (it stays
// published for retain, long enough for the tokens it signed to expire) and creates a new
// next key.
func (k *Keyring) Rotate(ctx context.Context, retain time.Duration) error {
	for _, alg := range Algorithms {
		next, err := k.newRow(alg, store.KeyNext)
		if err != nil {
			return err
		}
		if err := k.Store.RotateSigningKeys(ctx, alg, next, k.now().Add(retain)); err != nil {
			return fmt.Errorf("keyring: rotate %s: %w", alg, err)
		}
	}
	return nil
}
