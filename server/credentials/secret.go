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
	"fmt"
	"io"
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
