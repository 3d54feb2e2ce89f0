/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package clientkeys reads the public keys OAuth clients sign their private_key_jwt
// assertions with (RFC 7523 section 2.2, OIDC Core section 9): a JWK Set registered inline
// or fetched from the client's jwks_uri. A jwks_uri is a request the server makes to a
// place whoever registered the client chose, so the Fetcher goes only to public https
// endpoints unless the server allows a host explicitly.
package clientkeys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Signature algorithms a client assertion may use. Never none, and never a MAC (HS*):
// a private_key_jwt client proves possession of a private key.
const (
	ES256 = "ES256"
	ES384 = "ES384"
	EdDSA = "EdDSA"
	RS256 = "RS256"
	PS256 = "PS256"
)

// Algorithms are the assertion signature algorithms the server accepts, as discovery
// advertises them.
var Algorithms = []string{ES256, ES384, EdDSA, RS256, PS256}

// Limits of a JWK Set, registered or fetched.
const (
	// MaxKeys bounds the keys of one set: a client needs its current key and the next.
	MaxKeys = 10
	// MinRSABits is the smallest RSA modulus accepted (RFC 7518 section 3.3).
	MinRSABits = 2048
)

// maxKIDLen bounds a kid.
const maxKIDLen = 256

// printableKID reports whether kid is short and free of control characters, which the
// database refuses (NUL) or which have no business in a status or log.
func printableKID(kid string) bool {
	if len(kid) > maxKIDLen || !utf8.ValidString(kid) {
		return false
	}
	for _, r := range kid {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ErrInvalidSet is wrapped by every error Parse returns.
var ErrInvalidSet = errors.New("clientkeys: invalid JWK Set")

// Key is one public key of a set.
type Key struct {
	// KID is the key's "kid", possibly empty.
	KID string
	// Kty is EC, RSA or OKP.
	Kty string
	// Alg is the key's "alg" when it names one; a key without alg may verify any of the
	// algorithms its type allows.
	Alg string
	// Public is an *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey.
	Public any
}

// Set is a parsed JWK Set of public signature keys.
type Set struct {
	Keys []Key
}

// privateMembers are the JWK members of private or symmetric keys (RFC 7518 section 6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Parse reads a JWK Set and checks that every key is a public signature key the server
// can verify with: kty EC (P-256, P-384), RSA (at least 2048 bits) or OKP (Ed25519), no
// private members, use "sig" if any, an alg (if any) of Algorithms that fits the key, and
// kids unique. Every problem is an error wrapping ErrInvalidSet that names the key.
func Parse(raw []byte) (*Set, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with a keys array: %w", ErrInvalidSet, err)
	}
	if len(doc.Keys) == 0 {
		return nil, fmt.Errorf("%w: keys is empty", ErrInvalidSet)
	}
	if len(doc.Keys) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrInvalidSet, len(doc.Keys), MaxKeys)
	}
	set := &Set{Keys: make([]Key, 0, len(doc.Keys))}
	kids := map[string]bool{}
	for i, rawKey := range doc.Keys {
		k, err := parseKey(rawKey)
		if err != nil {
			return nil, fmt.Errorf("%w: keys[%d]: %w", ErrInvalidSet, i, err)
		}
		if k.KID != "" {
			if kids[k.KID] {
				return nil, fmt.Errorf("%w: keys[%d]: kid %q is not unique", ErrInvalidSet, i, k.KID)
			}
			kids[k.KID] = true
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

func parseKey(raw json.RawMessage) (Key, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return Key{}, errors.New("not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return Key{}, fmt.Errorf("has the private or symmetric member %q: register public keys only", m)
		}
	}
	var head struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Key{}, errors.New("kty, crv, use, alg and kid must be strings")
	}
	if !printableKID(head.Kid) {
		return Key{}, fmt.Errorf("kid must be at most %d printable characters", maxKIDLen)
	}
	switch head.Kty {
	case "EC", "RSA", "OKP":
	default:
		return Key{}, fmt.Errorf("kty %q is not EC, RSA or OKP", head.Kty)
	}
	if head.Use != "" && head.Use != "sig" {
		return Key{}, fmt.Errorf("use %q: a client assertion key has use sig", head.Use)
	}
	if head.Kty == "OKP" && head.Crv != "Ed25519" {
		return Key{}, fmt.Errorf("OKP curve %q is not Ed25519", head.Crv)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return Key{}, fmt.Errorf("key material: %s", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	k := Key{KID: head.Kid, Kty: head.Kty, Alg: head.Alg, Public: jwk.Key}
	switch pub := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return Key{}, fmt.Errorf("EC curve %s is not P-256 or P-384", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return Key{}, fmt.Errorf("RSA modulus of %d bits, at least %d", pub.N.BitLen(), MinRSABits)
		}
	case ed25519.PublicKey:
	default:
		return Key{}, errors.New("not a public signature key")
	}
	if k.Alg != "" && !k.Fits(k.Alg) {
		return Key{}, fmt.Errorf("alg %q is not one of %s for this key", k.Alg, strings.Join(k.algorithms(), ", "))
	}
	return k, nil
}

// algorithms are the algorithms the key's type and curve allow.
func (k Key) algorithms() []string {
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P384() {
			return []string{ES384}
		}
		return []string{ES256}
	case *rsa.PublicKey:
		return []string{RS256, PS256}
	case ed25519.PublicKey:
		return []string{EdDSA}
	}
	return nil
}

// Fits reports whether the key may verify a signature made with alg: the key's type and
// curve allow it, and the key's own alg, if any, is alg.
func (k Key) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	for _, a := range k.algorithms() {
		if a == alg {
			return true
		}
	}
	return false
}

// Describe names the key's algorithm for a status: its alg, or what its type allows.
func (k Key) Describe() string {
	if k.Alg != "" {
		return k.Alg
	}
	return strings.Join(k.algorithms(), ",")
}

// Candidates are the keys that may verify a signature with alg by the key kid: the one
// with that kid, or, for a token without kid, every key that fits alg.
func (s *Set) Candidates(kid, alg string) []Key {
	var out []Key
	for _, k := range s.Keys {
		if (kid == "" || k.KID == kid) && k.Fits(alg) {
			out = append(out, k)
		}
	}
	return out
}

// HasKID reports whether a key of the set has that kid.
func (s *Set) HasKID(kid string) bool {
	for _, k := range s.Keys {
		if k.KID == kid {
			return true
		}
	}
	return false
}
