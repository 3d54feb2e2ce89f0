/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Issuer signs access tokens and ID tokens with the active keys of Keys.
type Issuer struct {
	// Issuer is the iss claim: the server's issuer URL, exactly as discovery advertises it.
	Issuer string
	Keys   *KeySet
	// Clock gives iat and exp; nil means time.Now.
	Clock func() time.Time
	// Rand makes token ids; nil means crypto/rand. It must be safe for concurrent use.
	// Signatures never read it: their randomness always comes from crypto/rand.
	Rand io.Reader
}

// AccessClaims is what an access token says (RFC 9068 section 2.2).
type AccessClaims struct {
	// Subject is the user id, or the client id for the client_credentials grant.
	Subject  string
	ClientID string
	// Audience is the resource servers the token is for; at least one.
	Audience []string
	Scopes   []string
	// JTI is the token id, the key of the deny-list. Empty means a new one (NewJTI).
	JTI string
	// TTL is the lifetime, at least one second; exp is iat + TTL, in whole seconds.
	TTL time.Duration
	// AuthTime is when the user authenticated; zero leaves auth_time out.
	AuthTime time.Time
}

// Issued describes a token just signed.
type Issued struct {
	Token     string
	JTI       string // empty for ID tokens
	KID       string
	IssuedAt  time.Time // whole seconds, as in the token
	ExpiresAt time.Time // whole seconds, as in the token
}

// accessTokenClaims is the JSON payload of an access token, in the order RFC 9068 lists
// the claims. Times are integers: NumericDate in whole seconds.
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
}

// audience marshals as a single string when it has one member, as most issuers write it
// and RFC 7519 section 4.1.3 allows, and as an array otherwise.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// AccessToken signs an access token with the active key for alg ("" means ES256). See
// IssueAccessToken for the token's id and times.
func (i *Issuer) AccessToken(c AccessClaims, alg string) (token string, err error) {
	issued, err := i.IssueAccessToken(c, alg)
	return issued.Token, err
}

// IssueAccessToken signs an access token as AccessToken does and also returns its jti and
// times, which the token endpoint needs for expires_in and to record the token with a
// refresh token.
func (i *Issuer) IssueAccessToken(c AccessClaims, alg string) (Issued, error) {
	if alg == "" {
		alg = ES256
	}
	switch {
	case i.Issuer == "":
		return Issued{}, errors.New("tokens: access token: issuer has no Issuer")
	case c.Subject == "":
		return Issued{}, errors.New("tokens: access token: empty subject")
	case c.ClientID == "":
		return Issued{}, errors.New("tokens: access token: empty client_id")
	case len(c.Audience) == 0:
		return Issued{}, errors.New("tokens: access token: no audience")
	case c.TTL < time.Second:
		return Issued{}, fmt.Errorf("tokens: access token: lifetime %v is under one second", c.TTL)
	}
	if slices.Contains(c.Audience, "") {
		return Issued{}, errors.New("tokens: access token: empty audience")
	}
	for _, s := range c.Scopes {
		if !validScopeToken(s) {
			return Issued{}, fmt.Errorf("tokens: access token: invalid scope %q", s)
		}
	}
	e, err := i.Keys.activeEntry(alg)
	if err != nil {
		return Issued{}, fmt.Errorf("tokens: access token: %w", err)
	}
	jti := c.JTI
	if jti == "" {
		jti = i.NewJTI()
	}
	iat := i.now().Unix()
	exp := iat + int64(c.TTL/time.Second)
	claims := accessTokenClaims{
		Issuer:   i.Issuer,
		Subject:  c.Subject,
		Audience: audience(c.Audience),
		Expiry:   exp,
		IssuedAt: iat,
		JTI:      jti,
		ClientID: c.ClientID,
		Scope:    strings.Join(c.Scopes, " "),
	}
	if !c.AuthTime.IsZero() {
		claims.AuthTime = c.AuthTime.Unix()
	}
	var scratch [512]byte
	tok, err := signJWS(e, e.accessHeader, claims.appendJSON(scratch[:0]))
	if err != nil {
		return Issued{}, err
	}
	return Issued{
		Token:     tok,
		JTI:       jti,
		KID:       e.key.KID,
		IssuedAt:  time.Unix(iat, 0),
		ExpiresAt: time.Unix(exp, 0),
	}, nil
}

// IDClaims is what an ID token says (OpenID Connect Core 1.0 section 2 and 5.1).
type IDClaims struct {
	Subject string
	// ClientID is the audience and the authorized party (azp).
	ClientID string
	// Nonce is the authentication request's nonce; empty leaves it out.
	Nonce string
	// AuthTime is when the user authenticated; zero leaves auth_time out.
	AuthTime time.Time
	// AccessToken, when the ID token is issued with one, gives at_hash.
	AccessToken string
	// TTL is the lifetime, at least one second.
	TTL time.Duration

	// Profile and email claims, each left out when empty. EmailVerified is written only
	// with Email: set Email only when the email scope was granted.
	Name              string
	GivenName         string
	FamilyName        string
	PreferredUsername string
	Email             string
	EmailVerified     bool

	// Extra claims to add (for example "locale" or "groups"). A name this package writes
	// or a registered JWT claim is refused, so Extra cannot override iss, sub, aud, exp...
	Extra map[string]any
}

type idTokenClaims struct {
	Issuer            string `json:"iss"`
	Subject           string `json:"sub"`
	Audience          string `json:"aud"`
	Expiry            int64  `json:"exp"`
	IssuedAt          int64  `json:"iat"`
	AuthTime          int64  `json:"auth_time,omitempty"`
	Nonce             string `json:"nonce,omitempty"`
	AtHash            string `json:"at_hash,omitempty"`
	AuthorizedParty   string `json:"azp"`
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// reservedIDClaims may not appear in IDClaims.Extra: the claims idTokenClaims writes and
// the other registered JWT claims.
var reservedIDClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"auth_time": true, "nonce": true, "at_hash": true, "c_hash": true, "azp": true,
	"name": true, "given_name": true, "family_name": true, "preferred_username": true,
	"email": true, "email_verified": true,
}

// IDToken signs an ID token for c.ClientID with the active key for alg ("" means RS256,
// the algorithm every OpenID Connect client must support).
func (i *Issuer) IDToken(c IDClaims, alg string) (string, error) {
	if alg == "" {
		alg = RS256
	}
	switch {
	case i.Issuer == "":
		return "", errors.New("tokens: ID token: issuer has no Issuer")
	case c.Subject == "":
		return "", errors.New("tokens: ID token: empty subject")
	case c.ClientID == "":
		return "", errors.New("tokens: ID token: empty client id")
	case c.TTL < time.Second:
		return "", fmt.Errorf("tokens: ID token: lifetime %v is under one second", c.TTL)
	}
	e, err := i.Keys.activeEntry(alg)
	if err != nil {
		return "", fmt.Errorf("tokens: ID token: %w", err)
	}
	iat := i.now().Unix()
	claims := idTokenClaims{
		Issuer:            i.Issuer,
		Subject:           c.Subject,
		Audience:          c.ClientID,
		Expiry:            iat + int64(c.TTL/time.Second),
		IssuedAt:          iat,
		Nonce:             c.Nonce,
		AuthorizedParty:   c.ClientID,
		Name:              c.Name,
		GivenName:         c.GivenName,
		FamilyName:        c.FamilyName,
		PreferredUsername: c.PreferredUsername,
		Email:             c.Email,
	}
	if !c.AuthTime.IsZero() {
		claims.AuthTime = c.AuthTime.Unix()
	}
	if c.AccessToken != "" {
		claims.AtHash = AccessTokenHash(c.AccessToken)
	}
	if c.Email != "" {
		verified := c.EmailVerified
		claims.EmailVerified = &verified
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return "", fmt.Errorf("tokens: ID token: %w", err)
	}
	if len(c.Extra) > 0 {
		if payload, err = appendExtraClaims(payload, c.Extra); err != nil {
			return "", err
		}
	}
	return signJWS(e, e.idHeader, payload)
}

// appendExtraClaims adds extra's members to the JSON object obj, in sorted order.
func appendExtraClaims(obj []byte, extra map[string]any) ([]byte, error) {
	names := make([]string, 0, len(extra))
	for name := range extra {
		if name == "" || reservedIDClaims[name] {
			return nil, fmt.Errorf("tokens: ID token: extra claim %q is reserved", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.Write(obj[:len(obj)-1]) // without the closing brace; obj always has members
	for _, name := range names {
		k, err := json.Marshal(name)
		if err != nil {
			return nil, fmt.Errorf("tokens: ID token: extra claim %q: %w", name, err)
		}
		v, err := json.Marshal(extra[name])
		if err != nil {
			return nil, fmt.Errorf("tokens: ID token: extra claim %q: %w", name, err)
		}
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// AccessTokenHash returns the at_hash of an access token for an ID token signed with ES256
// or RS256: the unpadded base64url encoding of the left half of the SHA-256 of its ASCII
// form (OpenID Connect Core 1.0 section 3.1.3.6).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:sha256.Size/2])
}

// NewJTI returns a new token id: 16 random bytes, unpadded base64url. It reads i.Rand; if
// that fails it falls back to crypto/rand (which never fails), since a token id only has
// to be unique.
func (i *Issuer) NewJTI() string {
	var b [16]byte
	if i.Rand == nil {
		rand.Read(b[:])
	} else if _, err := io.ReadFull(i.Rand, b[:]); err != nil {
		rand.Read(b[:])
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (i *Issuer) now() time.Time {
	if i.Clock == nil {
		return time.Now()
	}
	return i.Clock()
}

// validScopeToken reports whether s is a scope-token of RFC 6749 section 3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ), so that the space-separated scope claim splits back
// into the same list.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
