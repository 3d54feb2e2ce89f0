/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import "github.com/authly-dev/authly-operator/server/internal/jsonenc"

// appendJSON appends the claims' JSON encoding, byte for byte what json.Marshal writes
// for them (TestAccessClaimsJSONMatchesEncodingJSON), without its reflection: an access
// token is signed on every token request.
func (c *accessTokenClaims) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = jsonenc.StringField(b, "iss", c.Issuer)
	b = jsonenc.StringField(b, "sub", c.Subject)
	b = jsonenc.Field(b, "aud")
	if len(c.Audience) == 1 {
		b = jsonenc.String(b, c.Audience[0])
	} else {
		b = jsonenc.Strings(b, c.Audience)
	}
	b = jsonenc.IntField(b, "exp", c.Expiry)
	b = jsonenc.IntField(b, "iat", c.IssuedAt)
	b = jsonenc.StringField(b, "jti", c.JTI)
	b = jsonenc.StringField(b, "client_id", c.ClientID)
	if c.Scope != "" {
		b = jsonenc.StringField(b, "scope", c.Scope)
	}
	if c.AuthTime != 0 {
		b = jsonenc.IntField(b, "auth_time", c.AuthTime)
	}
	return append(b, '}')
}
