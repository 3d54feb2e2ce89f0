/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package credentials makes and checks the secrets the server hands out or receives: client
// secrets, opaque tokens (authorization codes, refresh tokens, session ids), user passwords
// (argon2id) and PKCE verifiers. It is pure: randomness comes in as an io.Reader and nothing
// here touches the network, the database or the clock.
package credentials

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// secretBytes is the entropy of client secrets and opaque tokens: 256 bits, so that storing
// only an unsalted SHA-256 of them is safe (nobody can enumerate a 2^256 space).
const secretBytes = 32

// NewClientSecret returns a new client secret: 32 random bytes from rand, base64url without
// padding (43 characters). A nil rand means crypto/rand.
func NewClientSecret(rand io.Reader) (string, error) {
	return randomString(rand, "client secret")
}

// HashSecret returns the SHA-256 of a client secret, the only form in which it is stored.
// A fast hash is enough because secrets are generated with 256 bits of entropy.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches reports whether secret hashes to one of hashes (the current and, during a
// rotation, the previous secret). Empty hashes are skipped, so a client without a previous
// secret can pass its empty PreviousSecretHash as is. Every non-empty hash is compared in
// constant time and all of them are compared, so the timing does not reveal which one
// matched or whether one did.
func SecretMatches(secret string, hashes ...[]byte) bool {
	sum := sha256.Sum256([]byte(secret))
	match := 0
	for _, h := range hashes {
		if len(h) == 0 {
			continue
		}
		match |= subtle.ConstantTimeCompare(sum[:], h)
	}
	return match == 1
}

// NewToken returns a new opaque token (authorization code, refresh token, session id):
// 32 random bytes from rand, base64url without padding. A nil rand means crypto/rand.
func NewToken(rand io.Reader) (string, error) {
	return randomString(rand, "token")
}

// HashToken returns the SHA-256 of an opaque token, the key under which it is stored.
func HashToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

func randomString(r io.Reader, what string) (string, error) {
	var b [secretBytes]byte
	if err := readRandom(r, b[:]); err != nil {
		return "", fmt.Errorf("credentials: new %s: %w", what, err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// readRandom fills b from r, or from crypto/rand when r is nil.
func readRandom(r io.Reader, b []byte) error {
	if r == nil {
		r = rand.Reader
	}
	_, err := io.ReadFull(r, b)
	return err
}

// orderedPrefixBytes is the issue time at the front of an ordered token or id: Unix
// milliseconds, big-endian, in 6 bytes (enough until the year 10889).
const orderedPrefixBytes = 6

// NewOrderedToken returns a new refresh token: its issue time (orderedPrefixBytes) followed
// by 32 random bytes from rand, base64url without padding (51 characters). The time is
// there for StorageKey, and is no secret: the 256 random bits are. A nil rand means
// crypto/rand.
func NewOrderedToken(rand io.Reader, now time.Time) (string, error) {
	b, err := orderedBytes(rand, now, secretBytes)
	if err != nil {
		return "", fmt.Errorf("credentials: new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// orderedTokenLen is the length of NewOrderedToken's tokens.
var orderedTokenLen = base64.RawURLEncoding.EncodedLen(orderedPrefixBytes + secretBytes)

// StorageKey returns the key under which a token is stored and looked up. For a token of
// NewOrderedToken's form, it is the token's time prefix followed by its SHA-256; for any
// other string (NewToken's tokens, or garbage a client sent), the SHA-256 alone.
//
// Why the prefix: a table of many millions of refresh tokens keyed by a plain hash puts
// every insert and every lookup on a random page of its primary key index, so the index's
// hot part is all of it. Keyed by time first, the tokens issued recently, which are the
// ones rotated, sit together at the index's right edge and stay in Postgres's buffers.
// The prefix is copied from the token, so storage keeps nothing that would help guess
// it.
func StorageKey(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	if len(tok) != orderedTokenLen {
		return sum[:]
	}
	var prefix [orderedPrefixBytes]byte
	// Decoding only the first 8 characters (6 bytes) of a 51-character string.
	if _, err := base64.RawURLEncoding.Decode(prefix[:], []byte(tok[:8])); err != nil {
		return sum[:]
	}
	return append(prefix[:], sum[:]...)
}

// NewOrderedID returns an identifier that is not secret but must be unique, such as a
// refresh token family: the time now (orderedPrefixBytes) and 10 random bytes, in
// lower-case hex (32 characters), which sorts as text in time order, for the same
// reason as StorageKey. A nil rand means crypto/rand.
func NewOrderedID(rand io.Reader, now time.Time) (string, error) {
	b, err := orderedBytes(rand, now, 10)
	if err != nil {
		return "", fmt.Errorf("credentials: new id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// orderedBytes is now in Unix milliseconds, big-endian, in orderedPrefixBytes (times
// before 1970 as 1970), followed by n bytes from rand.
func orderedBytes(rand io.Reader, now time.Time, n int) ([]byte, error) {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(max(now.UnixMilli(), 0)))
	b := make([]byte, orderedPrefixBytes+n)
	copy(b, ms[8-orderedPrefixBytes:])
	return b, readRandom(rand, b[orderedPrefixBytes:])
}
