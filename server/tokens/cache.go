/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultCacheEntries is the size of a CachingVerifier's cache unless told otherwise:
// about 100k tokens, a few tens of MB.
const DefaultCacheEntries = 100_000

// CachingVerifier remembers the access tokens its Verifier accepted, until they expire, so
// that a token presented again (introspection, userinfo, resource calls) costs a hash and a
// map lookup instead of a signature verification. Only successes are cached. Safe for
// concurrent use.
//
// Revocation is not its concern: a cached token is returned even after its jti was
// deny-listed, exactly as the Verifier would accept it, so the caller consults the
// deny-list and the not-before cutoffs on every request, hit or miss. What the cache does
// follow is the key set: a token whose signing key left the set (or changed) is verified
// again, and fails.
type CachingVerifier struct {
	verifier   *Verifier
	maxEntries int

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedAccess
}

type cachedAccess struct {
	access      *VerifiedAccess
	kid         string
	fingerprint [sha256.Size]byte // of the key that signed it
}

// NewCachingVerifier wraps v with a cache of at most maxEntries tokens (0 or less means
// DefaultCacheEntries).
func NewCachingVerifier(v *Verifier, maxEntries int) *CachingVerifier {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &CachingVerifier{
		verifier:   v,
		maxEntries: maxEntries,
		entries:    make(map[[sha256.Size]byte]cachedAccess),
	}
}

// VerifyAccessToken is Verifier.VerifyAccessToken with a cache; tokens are kept by their
// SHA-256, never in clear. The result is shared with other callers of the same token and
// must not be modified.
func (c *CachingVerifier) VerifyAccessToken(token string) (*VerifiedAccess, error) {
	key := sha256.Sum256([]byte(token))
	now := c.verifier.now()

	c.mu.RLock()
	hit, ok := c.entries[key]
	c.mu.RUnlock()
	if ok {
		if c.stillValid(hit, now) {
			return hit.access, nil
		}
		c.mu.Lock()
		delete(c.entries, key)
		c.mu.Unlock()
	}

	va, signer, err := c.verifier.verify(token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.maxEntries {
		c.evictLocked(now)
	}
	c.entries[key] = cachedAccess{access: va, kid: signer.key.KID, fingerprint: signer.fingerprint}
	c.mu.Unlock()
	return va, nil
}

// stillValid reports whether a cached token would still pass the Verifier: unexpired and
// its key still in the set, unchanged.
func (c *CachingVerifier) stillValid(e cachedAccess, now time.Time) bool {
	if !now.Before(e.access.ExpiresAt.Add(c.verifier.Leeway)) {
		return false
	}
	cur, ok := c.verifier.Keys.lookupEntry(e.kid)
	return ok && cur.fingerprint == e.fingerprint
}

// evictLocked makes room: it drops expired tokens and, if the cache is still over 7/8
// full, arbitrary ones (map order) until it is not. Sweeping to 7/8 rather than to one
// below the limit keeps the O(n) sweep rare.
func (c *CachingVerifier) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.access.ExpiresAt.Add(c.verifier.Leeway)) {
			delete(c.entries, k)
		}
	}
	target := c.maxEntries - c.maxEntries/8 - 1
	for k := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

// Len returns the number of cached tokens.
func (c *CachingVerifier) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
