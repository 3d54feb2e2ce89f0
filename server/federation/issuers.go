/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package federation keeps the keys of federated issuers (a Kubernetes cluster's
// ServiceAccount issuer) in memory for the token endpoint, loaded from the database where
// the operator or an administrator stored them. It never fetches keys from the issuer:
// the server does not talk to the Kubernetes API. When a token names a key it does not
// know, it asks, through the database, for the keys to be fetched again.
package federation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authly-dev/authly-operator/server/store"
)

// Errors of Issuers.Key. Both mean the token cannot be verified: the client's
// authentication fails.
var (
	// ErrUnknownIssuer: no keys are stored for the issuer.
	ErrUnknownIssuer = errors.New("federation: issuer not registered")
	// ErrUnknownKey: the issuer's stored keys have no key with that kid (and algorithm).
	ErrUnknownKey = errors.New("federation: unknown key")
)

// Store is what Issuers reads and writes (store.Store does).
type Store interface {
	GetFederatedIssuer(ctx context.Context, issuer string) (*store.FederatedIssuer, error)
	RequestFederatedIssuerRefresh(ctx context.Context, issuer string, now time.Time) error
}

// Defaults of Issuers' periods.
const (
	// DefaultTTL is how long loaded keys are used before they are read again even without
	// a change notification (which normally comes at once).
	DefaultTTL = time.Minute
	// DefaultRefreshInterval is the least time between two refresh requests of one issuer
	// from this replica.
	DefaultRefreshInterval = 10 * time.Second
)

// Key is a public key of a federated issuer.
type Key struct {
	Public crypto.PublicKey
	// Algorithm is the JWK's alg, or empty when it names none (then the key's type
	// decides, see Allows).
	Algorithm string
}

// Allows reports whether a token signed with alg may be verified with the key: the JWK's
// alg when it has one; else RS256, RS384 or RS512 for an RSA key and the ES algorithm of
// its curve for an EC key.
func (k Key) Allows(alg string) bool {
	if k.Algorithm != "" {
		return alg == k.Algorithm
	}
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "RS384" || alg == "RS512"
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	}
	return false
}

// Issuers is a read-through cache of federated issuers' keys. The server calls
// Invalidate when the store announces that an issuer's keys changed, and Reset when its
// listener reconnects.
type Issuers struct {
	// Store is the database; required.
	Store Store
	// Clock; nil means time.Now.
	Clock func() time.Time
	// TTL and RefreshInterval; zero means DefaultTTL and DefaultRefreshInterval.
	TTL, RefreshInterval time.Duration

	mu      sync.Mutex
	entries map[string]*issuerKeys
	// asked is when this replica last requested a refresh, by issuer.
	asked map[string]time.Time
	// gen counts invalidations: a load that raced with one does not store its result.
	gen uint64
}

type issuerKeys struct {
	keys     map[string]Key // by kid
	loadedAt time.Time
	missing  bool // no such issuer in the store
}

func (is *Issuers) now() time.Time {
	if is.Clock == nil {
		return time.Now()
	}
	return is.Clock()
}

// Key returns the issuer's key with that kid. ErrUnknownIssuer when no keys are stored for
// the issuer, ErrUnknownKey when they have no such kid; other errors are the store's.
func (is *Issuers) Key(ctx context.Context, issuer, kid string) (Key, error) {
	keys, err := is.keys(ctx, issuer)
	if err != nil {
		return Key{}, err
	}
	if keys.missing {
		return Key{}, fmt.Errorf("%w: %q", ErrUnknownIssuer, issuer)
	}
	k, ok := keys.keys[kid]
	if !ok {
		return Key{}, fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(kid))
	}
	return k, nil
}

func (is *Issuers) keys(ctx context.Context, issuer string) (*issuerKeys, error) {
	ttl := is.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := is.now()
	is.mu.Lock()
	e, ok := is.entries[issuer]
	gen := is.gen
	is.mu.Unlock()
	if ok && now.Sub(e.loadedAt) < ttl {
		return e, nil
	}
	fi, err := is.Store.GetFederatedIssuer(ctx, issuer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = &issuerKeys{missing: true, loadedAt: now}
	case err != nil:
		return nil, fmt.Errorf("federation: load issuer keys: %w", err)
	default:
		keys, perr := ParseJWKS(fi.JWKS)
		if perr != nil {
			return nil, fmt.Errorf("federation: stored keys of %q: %w", issuer, perr)
		}
		e = &issuerKeys{keys: keys, loadedAt: now}
	}
	is.mu.Lock()
	if is.gen == gen {
		if is.entries == nil {
			is.entries = map[string]*issuerKeys{}
		}
		is.entries[issuer] = e
	}
	is.mu.Unlock()
	return e, nil
}

// RequestRefresh asks, through the database, for the issuer's keys to be fetched again,
// at most once per RefreshInterval from this replica (a failed attempt counts, so that a
// failing database is not asked at every token). It reports whether it wrote the request.
func (is *Issuers) RequestRefresh(ctx context.Context, issuer string) (bool, error) {
	interval := is.RefreshInterval
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	now := is.now()
	is.mu.Lock()
	last, ok := is.asked[issuer]
	if ok && now.Sub(last) < interval {
		is.mu.Unlock()
		return false, nil
	}
	if is.asked == nil {
		is.asked = map[string]time.Time{}
	}
	is.asked[issuer] = now
	is.mu.Unlock()
	if err := is.Store.RequestFederatedIssuerRefresh(ctx, issuer, now); err != nil {
		return false, fmt.Errorf("federation: request a refresh of %q: %w", issuer, err)
	}
	return true, nil
}

// Invalidate drops the keys of one issuer.
func (is *Issuers) Invalidate(issuer string) {
	is.mu.Lock()
	delete(is.entries, issuer)
	is.gen++
	is.mu.Unlock()
}

// Reset drops every issuer's keys.
func (is *Issuers) Reset() {
	is.mu.Lock()
	clear(is.entries)
	is.gen++
	is.mu.Unlock()
}

// maxKeys bounds the keys of one issuer that are kept; a cluster has one or two.
const maxKeys = 100

// ParseJWKS reads a JSON Web Key Set into public signing keys by kid. Keys without kid,
// for encryption (use "enc"), private or of other types than RSA and EC are skipped; a
// set that is not JSON or has no usable key is an error.
func ParseJWKS(raw json.RawMessage) (map[string]Key, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("federation: JWKS: %w", err)
	}
	keys := map[string]Key{}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Use == "enc" || !k.IsPublic() || len(keys) >= maxKeys {
			continue
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			keys[k.KeyID] = Key{Public: k.Key, Algorithm: k.Algorithm}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("federation: JWKS has no public RSA or EC signing key with a kid")
	}
	return keys, nil
}

// truncate shortens a value from a request for an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
