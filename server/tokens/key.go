/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package tokens signs and verifies the server's JWTs: signing keys and their encryption at
// rest, the key set and its JWKS, access tokens in the RFC 9068 profile, OpenID Connect ID
// tokens, and the verification of access tokens (with a cache for introspection).
//
// It knows nothing of HTTP or the database: keys come in as values, time through a Clock
// and randomness through an io.Reader, so every result is reproducible in tests.
package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"time"
)

// Signing algorithms (RFC 7518 section 3.1). No others are issued or accepted.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256, the default for access tokens
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, the default for ID tokens
)

// Key states, as store.KeyState spells them. A key is published as next before it signs,
// signs while active, and stays published as retired until the tokens it signed expire.
const (
	StateNext    = "next"
	StateActive  = "active"
	StateRetired = "retired"
)

// rsaBits is the size of generated RSA keys and the smallest accepted one.
const rsaBits = 2048

// Key is a signing key with its private part.
type Key struct {
	KID       string
	Algorithm string // ES256 or RS256
	// Private is an *ecdsa.PrivateKey (P-256) for ES256 or an *rsa.PrivateKey for RS256.
	Private   crypto.Signer
	State     string // StateNext, StateActive or StateRetired
	CreatedAt time.Time
}

// GenerateKey makes a new key for alg (ES256: P-256, RS256: RSA 2048) in state next, with
// its KID derived from the public key (see KeyID). CreatedAt is left to the caller, who
// owns the clock.
//
// Since Go 1.26 the key generators of crypto/ecdsa and crypto/rsa ignore rand and always
// use the system's secure source unless GODEBUG=cryptocustomrand=1; rand is passed on for
// that setting. A nil rand means crypto/rand.
func GenerateKey(alg string, rand io.Reader) (*Key, error) {
	var (
		priv crypto.Signer
		err  error
	)
	rand = orCryptoRand(rand)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case RS256:
		priv, err = rsa.GenerateKey(rand, rsaBits)
	default:
		return nil, fmt.Errorf("tokens: generate key: unsupported algorithm %q (want %s or %s)", alg, ES256, RS256)
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: generate %s key: %w", alg, err)
	}
	kid, err := KeyID(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Key{KID: kid, Algorithm: alg, Private: priv, State: StateNext}, nil
}

// KeyID returns the key id of a public key: the unpadded base64url encoding of the first
// 16 bytes of the SHA-256 of its PKIX (SubjectPublicKeyInfo) DER encoding. It is stable, so
// every replica and every restart derives the same kid from the same key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("tokens: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// checkSigner reports whether priv is a key of the kind alg signs with.
func checkSigner(alg string, priv crypto.Signer) error {
	switch alg {
	case ES256:
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%s key is a %T, want *ecdsa.PrivateKey", alg, priv)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%s key is on curve %s, want P-256", alg, k.Curve.Params().Name)
		}
	case RS256:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%s key is a %T, want *rsa.PrivateKey", alg, priv)
		}
		if k.N.BitLen() < rsaBits {
			return fmt.Errorf("%s key has %d bits, want at least %d", alg, k.N.BitLen(), rsaBits)
		}
	default:
		return fmt.Errorf("unsupported algorithm %q (want %s or %s)", alg, ES256, RS256)
	}
	return nil
}
