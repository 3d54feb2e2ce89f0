/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// kekLen is the size of the key encryption key: AES-256.
const kekLen = 32

// sealedVersion is the first byte of a sealed key, so that the format (or the KEK, once
// KEK rotation exists) can change without guessing.
const sealedVersion byte = 1

// sealAAD prefixes the kid in the additional data, so that a sealed key is bound both to
// its row and to this purpose.
const sealAAD = "authly signing key "

// Sealer encrypts private keys at rest with AES-256-GCM under a key encryption key (KEK).
// The kid is authenticated as additional data, so a sealed key copied into another row
// does not open. Nonces are random (96 bits); a KEK can seal far more keys than a server
// ever rotates before nonce collisions become a concern. Safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte KEK (see ParseKEK).
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != kekLen {
		return nil, fmt.Errorf("tokens: key encryption key is %d bytes, want %d", len(kek), kekLen)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("tokens: key encryption key: %w", err)
	}
	// The nonce is drawn from crypto/rand and prepended by the AEAD itself.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("tokens: key encryption key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts pkcs8 (a private key's PKCS#8 DER) for the row of kid. The result is a
// version byte, the nonce, the ciphertext and the tag.
func (s *Sealer) Seal(kid string, pkcs8 []byte) ([]byte, error) {
	if kid == "" {
		return nil, errors.New("tokens: seal: empty kid")
	}
	out := make([]byte, 1, 1+s.aead.NonceSize()+len(pkcs8)+s.aead.Overhead())
	out[0] = sealedVersion
	return s.aead.Seal(out, nil, pkcs8, aad(kid)), nil
}

// Open decrypts what Seal returned for the same kid. It fails if the KEK, the kid or any
// byte of sealed differs.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+s.aead.NonceSize()+s.aead.Overhead() {
		return nil, fmt.Errorf("tokens: open key %q: sealed key too short", kid)
	}
	if sealed[0] != sealedVersion {
		return nil, fmt.Errorf("tokens: open key %q: unknown format version %d", kid, sealed[0])
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], aad(kid))
	if err != nil {
		return nil, fmt.Errorf("tokens: open key %q: wrong key encryption key, or the row was altered or moved", kid)
	}
	return plain, nil
}

func aad(kid string) []byte {
	return append([]byte(sealAAD), kid...)
}

// ParseKEK decodes a key encryption key given as configuration: 32 bytes written as
// base64 (standard or URL alphabet, padded or not) or as 64 hexadecimal characters.
// Surrounding white space is ignored. The error never repeats the input.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*kekLen {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) == kekLen {
			return b, nil
		}
	}
	return nil, fmt.Errorf("tokens: key encryption key (%d characters) is neither 32 bytes of base64 (44 characters, or 43 unpadded) nor 64 hexadecimal characters; generate one with `openssl rand -base64 32`", len(s))
}

// MarshalPrivate returns k's private key as PKCS#8 DER, sealed for k.KID when s is not nil,
// ready for store.SigningKey.PrivateKey and Encrypted. A nil s stores the key in clear
// (development only).
func MarshalPrivate(k *Key, s *Sealer) (der []byte, encrypted bool, err error) {
	if k == nil {
		return nil, false, errors.New("tokens: marshal key: nil key")
	}
	if err := checkSigner(k.Algorithm, k.Private); err != nil {
		return nil, false, fmt.Errorf("tokens: marshal key %q: %w", k.KID, err)
	}
	der, err = x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, false, fmt.Errorf("tokens: marshal key %q: %w", k.KID, err)
	}
	if s == nil {
		return der, false, nil
	}
	sealed, err := s.Seal(k.KID, der)
	if err != nil {
		return nil, false, err
	}
	return sealed, true, nil
}

// UnmarshalPrivate is the inverse of MarshalPrivate: it opens der when encrypted (which
// needs s) and parses the PKCS#8 key, checking that it fits alg.
//
// When s is not nil, a key stored in clear is refused: with a KEK configured, someone who
// can write the keys table but does not hold the KEK must not be able to plant a key of
// their own. Re-seal development keys before turning encryption on.
func UnmarshalPrivate(kid, alg string, der []byte, encrypted bool, s *Sealer) (crypto.Signer, error) {
	switch {
	case encrypted && s == nil:
		return nil, fmt.Errorf("tokens: key %q is encrypted and no key encryption key is configured", kid)
	case !encrypted && s != nil:
		return nil, fmt.Errorf("tokens: key %q is stored unencrypted but a key encryption key is configured; refusing it", kid)
	case encrypted:
		plain, err := s.Open(kid, der)
		if err != nil {
			return nil, err
		}
		der = plain
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("tokens: key %q: %w", kid, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tokens: key %q: %T is not a signing key", kid, parsed)
	}
	if err := checkSigner(alg, signer); err != nil {
		return nil, fmt.Errorf("tokens: key %q: %w", kid, err)
	}
	return signer, nil
}
