/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error VerifyAccessToken returns; the rest of the
// message says why (and errors.Is also matches the jwt package's errors, such as
// jwt.ErrTokenExpired).
var ErrInvalidToken = errors.New("tokens: invalid token")

// maxTokenLen bounds what is parsed at all. Access tokens are a few hundred bytes.
const maxTokenLen = 8 << 10

// Verifier checks access tokens this server issued.
type Verifier struct {
	// Issuer is the iss the token must carry.
	Issuer string
	Keys   *KeySet
	// Clock gives the time exp and iat are checked against; nil means time.Now.
	Clock func() time.Time
	// Leeway is the clock skew tolerated on exp and iat.
	Leeway time.Duration
}

// VerifiedAccess is what a valid access token says.
type VerifiedAccess struct {
	Subject   string
	ClientID  string
	Scopes    []string
	JTI       string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	AuthTime  time.Time // zero when the token has no auth_time
}

// parsedAccessClaims is what the jwt package decodes a payload into.
type parsedAccessClaims struct {
	jwt.RegisteredClaims
	ClientID string           `json:"client_id"`
	Scope    string           `json:"scope"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
}

// Validate checks the claims RFC 9068 section 2.2 requires and the jwt package does not
// (it checks exp, iat and iss).
func (c *parsedAccessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.ClientID == "":
		return errors.New("missing client_id")
	case c.ID == "":
		return errors.New("missing jti")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	case len(c.Audience) == 0:
		return errors.New("missing aud")
	}
	return nil
}

// validMethods are the only algorithms accepted: never "none", never HMAC (whose "secret"
// an attacker would pick to be our public key).
var validMethods = []string{ES256, RS256}

// VerifyAccessToken checks token and returns its claims. The token must be a JWS in compact
// form with typ at+jwt (or application/at+jwt), signed with ES256 or RS256 by a key of
// Keys whose algorithm is the token's alg, name Issuer as iss, be unexpired (exp required)
// and not issued in the future, and carry sub, aud, client_id and jti.
//
// Revocation is not checked here: the caller consults the deny-list.
func (v *Verifier) VerifyAccessToken(token string) (*VerifiedAccess, error) {
	va, _, err := v.verify(token)
	return va, err
}

// verify returns the claims and the key that signed the token.
func (v *Verifier) verify(token string) (*VerifiedAccess, *keyEntry, error) {
	if v.Issuer == "" || v.Keys == nil {
		return nil, nil, fmt.Errorf("%w: verifier has no issuer or keys", ErrInvalidToken)
	}
	if len(token) > maxTokenLen {
		return nil, nil, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(validMethods),
		jwt.WithIssuer(v.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithStrictDecoding(),
	)
	var (
		claims parsedAccessClaims
		signer *keyEntry
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !isAccessTokenType(typ) {
			return nil, fmt.Errorf("typ %q is not at+jwt", truncate(typ))
		}
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 section 4.1.11: a critical extension we do not know means reject.
			return nil, errors.New("unsupported crit header")
		}
		kid, _ := t.Header["kid"].(string)
		e, ok := v.Keys.lookupEntry(kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", truncate(kid))
		}
		if alg := t.Method.Alg(); alg != e.key.Algorithm {
			return nil, fmt.Errorf("alg %s does not match key %q (%s)", alg, kid, e.key.Algorithm)
		}
		signer = e
		return e.public, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	va := &VerifiedAccess{
		Subject:   claims.Subject,
		ClientID:  claims.ClientID,
		Scopes:    strings.Fields(claims.Scope),
		JTI:       claims.ID,
		Audience:  []string(claims.Audience),
		ExpiresAt: claims.ExpiresAt.Time,
		IssuedAt:  claims.IssuedAt.Time,
	}
	if claims.AuthTime != nil {
		va.AuthTime = claims.AuthTime.Time
	}
	return va, signer, nil
}

// isAccessTokenType accepts "at+jwt" and its full media type, case-insensitively
// (RFC 9068 section 4, RFC 7515 section 4.1.9).
func isAccessTokenType(typ string) bool {
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == typAccessToken
}

func (v *Verifier) now() time.Time {
	if v.Clock == nil {
		return time.Now()
	}
	return v.Clock()
}

// truncate keeps attacker-chosen strings in error messages short.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
