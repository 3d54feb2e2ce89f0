/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// JOSE header "typ" values.
const (
	typAccessToken = "at+jwt" // RFC 9068 section 2.1
	typJWT         = "JWT"    // ID tokens
)

// es256SigLen is the size of a JWS ES256 signature: R and S, 32 bytes each (RFC 7518
// section 3.4), not the ASN.1 form crypto.Signer returns.
const es256SigLen = 64

// encodeHeader returns the base64url-encoded JOSE header of a token.
func encodeHeader(alg, kid, typ string) (string, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	if err != nil {
		return "", fmt.Errorf("tokens: header of key %q: %w", kid, err)
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}

// signJWS returns header.payload.signature for the JSON claims, signed by e. The token is
// built in one buffer sized up front.
func signJWS(e *keyEntry, header string, claims []byte) (string, error) {
	enc := base64.RawURLEncoding
	sigLen := es256SigLen
	if e.key.Algorithm == RS256 {
		sigLen = 512 // up to RSA 4096
	}
	buf := make([]byte, 0, len(header)+1+enc.EncodedLen(len(claims))+1+enc.EncodedLen(sigLen))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, claims)

	digest := sha256.Sum256(buf)
	// Signature randomness always comes from crypto/rand: a test or broken reader must
	// never choose ECDSA nonces.
	sig, err := e.key.Private.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("tokens: sign with key %q: %w", e.key.KID, err)
	}
	if e.key.Algorithm == ES256 {
		var raw [es256SigLen]byte
		if err := asn1ToRaw(sig, raw[:]); err != nil {
			return "", fmt.Errorf("tokens: sign with key %q: %w", e.key.KID, err)
		}
		sig = raw[:]
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// asn1ToRaw converts an ASN.1 ECDSA signature (SEQUENCE of INTEGER r, s) into the
// fixed-size big-endian r || s that JWS uses, into out.
func asn1ToRaw(sig, out []byte) error {
	var (
		inner cryptobyte.String
		r, s  []byte
	)
	in := cryptobyte.String(sig)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return errors.New("malformed ECDSA signature")
	}
	half := len(out) / 2
	if len(r) > half || len(s) > half {
		return errors.New("ECDSA signature too long for the curve")
	}
	clear(out)
	copy(out[half-len(r):half], r)
	copy(out[len(out)-len(s):], s)
	return nil
}

// orCryptoRand returns r, or crypto/rand's reader when r is nil.
func orCryptoRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
