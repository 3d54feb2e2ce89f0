/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync/atomic"
)

// ErrNoActiveKey is returned by KeySet.Active when no active key has the algorithm.
var ErrNoActiveKey = errors.New("tokens: no active signing key")

// KeySet is the server's keys, as every handler sees them. Reads take no lock: a KeySet
// holds an immutable snapshot that Replace swaps atomically, so a reader sees either the
// old set or the new one, whole. Safe for concurrent use.
type KeySet struct {
	snap atomic.Pointer[keySnapshot]
}

// keySnapshot is one immutable generation of a KeySet, with everything derived from the
// keys computed once.
type keySnapshot struct {
	byKID  map[string]*keyEntry
	active map[string]*keyEntry // by algorithm
	jwks   []byte
}

// keyEntry is a key with what signing and verifying need, computed once per Replace.
type keyEntry struct {
	key    *Key
	public crypto.PublicKey
	// fingerprint is the SHA-256 of the public key's PKIX DER: a cheap way to tell whether
	// a kid still names the same key after a reload.
	fingerprint [sha256.Size]byte
	// Encoded JOSE headers for the two token types this key signs.
	accessHeader string // {"alg":..,"kid":..,"typ":"at+jwt"}
	idHeader     string // {"alg":..,"kid":..,"typ":"JWT"}
}

// NewKeySet returns a KeySet holding keys (see Replace for what is checked).
func NewKeySet(keys []*Key) (*KeySet, error) {
	ks := &KeySet{}
	if err := ks.Replace(keys); err != nil {
		return nil, err
	}
	return ks, nil
}

// Replace swaps in a new set of keys, after a rotation or a change another replica
// announced. Each key must have a kid (unique in the set), a supported algorithm, a private
// key that fits it and a known state. If several keys of one algorithm are active, the most
// recently created one signs. On error the set is left as it was.
func (ks *KeySet) Replace(keys []*Key) error {
	snap := &keySnapshot{
		byKID:  make(map[string]*keyEntry, len(keys)),
		active: make(map[string]*keyEntry, 2),
	}
	for i, k := range keys {
		if k == nil {
			return fmt.Errorf("tokens: key set: key %d is nil", i)
		}
		if k.KID == "" {
			return fmt.Errorf("tokens: key set: key %d has no kid", i)
		}
		if _, dup := snap.byKID[k.KID]; dup {
			return fmt.Errorf("tokens: key set: kid %q appears twice", k.KID)
		}
		if k.Private == nil {
			return fmt.Errorf("tokens: key set: key %q has no private key", k.KID)
		}
		if err := checkSigner(k.Algorithm, k.Private); err != nil {
			return fmt.Errorf("tokens: key set: key %q: %w", k.KID, err)
		}
		switch k.State {
		case StateNext, StateActive, StateRetired:
		default:
			return fmt.Errorf("tokens: key set: key %q has unknown state %q", k.KID, k.State)
		}
		e := &keyEntry{key: k, public: k.Private.Public()}
		der, err := x509.MarshalPKIXPublicKey(e.public)
		if err != nil {
			return fmt.Errorf("tokens: key set: key %q: %w", k.KID, err)
		}
		e.fingerprint = sha256.Sum256(der)
		if e.accessHeader, err = encodeHeader(k.Algorithm, k.KID, typAccessToken); err != nil {
			return err
		}
		if e.idHeader, err = encodeHeader(k.Algorithm, k.KID, typJWT); err != nil {
			return err
		}
		snap.byKID[k.KID] = e
		if k.State == StateActive {
			if cur := snap.active[k.Algorithm]; cur == nil || k.CreatedAt.After(cur.key.CreatedAt) {
				snap.active[k.Algorithm] = e
			}
		}
	}
	jwks, err := marshalJWKS(keys, snap)
	if err != nil {
		return err
	}
	snap.jwks = jwks
	ks.snap.Store(snap)
	return nil
}

// emptySnapshot stands for a nil or zero KeySet, so that its methods fail cleanly.
var emptySnapshot = &keySnapshot{jwks: []byte(`{"keys":[]}`)}

func (ks *KeySet) load() *keySnapshot {
	if ks == nil {
		return emptySnapshot
	}
	if snap := ks.snap.Load(); snap != nil {
		return snap
	}
	return emptySnapshot
}

// Active returns the key that signs with alg now.
func (ks *KeySet) Active(alg string) (*Key, error) {
	e, err := ks.activeEntry(alg)
	if err != nil {
		return nil, err
	}
	return e.key, nil
}

func (ks *KeySet) activeEntry(alg string) (*keyEntry, error) {
	if e := ks.load().active[alg]; e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("%w for %q", ErrNoActiveKey, alg)
}

// Lookup returns the key with kid, whatever its state: tokens signed by a retired key stay
// valid while it is in the set, and a next key may already sign on a replica that learnt of
// its promotion first.
func (ks *KeySet) Lookup(kid string) (*Key, bool) {
	e, ok := ks.load().byKID[kid]
	if !ok {
		return nil, false
	}
	return e.key, true
}

func (ks *KeySet) lookupEntry(kid string) (*keyEntry, bool) {
	e, ok := ks.load().byKID[kid]
	return e, ok
}

// JWKS returns the public keys of the set as a JSON Web Key Set (RFC 7517 section 5):
// {"keys":[...]} with next, active and retired keys, active ones first. The bytes are
// computed by Replace and shared by every caller, who must not modify them; serving them
// costs no allocation.
func (ks *KeySet) JWKS() []byte {
	return ks.load().jwks
}

// jwk is one public key in the JWKS (RFC 7517, RFC 7518 section 6).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func marshalJWKS(keys []*Key, snap *keySnapshot) ([]byte, error) {
	// Active keys first (some clients try the first key), then next, then retired; newest
	// first within a state; kid breaks ties so the output does not depend on input order.
	order := make([]*Key, len(keys))
	copy(order, keys)
	rank := map[string]int{StateActive: 0, StateNext: 1, StateRetired: 2}
	slices.SortFunc(order, func(a, b *Key) int {
		if c := cmp.Compare(rank[a.State], rank[b.State]); c != 0 {
			return c
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.KID, b.KID)
	})
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(order))}
	for _, k := range order {
		j := jwk{Kid: k.KID, Alg: k.Algorithm, Use: "sig"}
		switch pub := snap.byKID[k.KID].public.(type) {
		case *ecdsa.PublicKey:
			point, err := pub.Bytes() // 0x04 || X || Y, each 32 bytes for P-256
			if err != nil {
				return nil, fmt.Errorf("tokens: key set: key %q: %w", k.KID, err)
			}
			size := (len(point) - 1) / 2
			j.Kty, j.Crv = "EC", "P-256"
			j.X = base64.RawURLEncoding.EncodeToString(point[1 : 1+size])
			j.Y = base64.RawURLEncoding.EncodeToString(point[1+size:])
		case *rsa.PublicKey:
			j.Kty = "RSA"
			j.N = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
			j.E = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		default:
			return nil, fmt.Errorf("tokens: key set: key %q: unsupported public key %T", k.KID, pub)
		}
		set.Keys = append(set.Keys, j)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("tokens: key set: %w", err)
	}
	return b, nil
}
