/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package credentials

import (
	"crypto/sha256"
	"encoding/base64"
)

// PKCE (RFC 7636). Only the S256 method exists here: OAuth 2.1 drops "plain".

// S256Challenge returns the S256 code challenge of a verifier:
// base64url(SHA-256(verifier)) without padding (RFC 7636 section 4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidVerifier reports whether v is a well-formed code verifier (RFC 7636 section 4.1):
// 43 to 128 characters from the unreserved set [A-Z a-z 0-9 - . _ ~].
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// ValidChallenge reports whether c can be an S256 code challenge: the unpadded base64url
// encoding of 32 bytes, which is 43 characters whose last one carries no stray bits.
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	var b [32]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(c))
	return err == nil && n == len(b)
}
