/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// idTokenHint is what a logout learns from an id_token_hint.
type idTokenHint struct {
	ClientID string // the audience: the client the token was issued to
	Subject  string // the user
}

// parseIDTokenHint reads an ID token this server issued. It may have expired (OIDC
// RP-Initiated Logout section 2), but its signature, with a key the server still holds,
// and its issuer must be ours, and it must name one audience and a subject, and not be an access token; anything else
// yields false.
func (p *Provider) parseIDTokenHint(token string) (idTokenHint, bool) {
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{"ES256", "RS256"}))
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); strings.EqualFold(typ, "at+jwt") {
			return nil, jwt.ErrTokenUnverifiable // an access token is no ID token
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := p.keys.Lookup(kid)
		if !ok || key.Algorithm != t.Method.Alg() {
			return nil, jwt.ErrTokenUnverifiable
		}
		return key.Private.Public(), nil
	})
	if err != nil || claims.Issuer != p.cfg.Issuer || len(claims.Audience) != 1 || claims.Audience[0] == "" || claims.Subject == "" {
		return idTokenHint{}, false
	}
	return idTokenHint{ClientID: claims.Audience[0], Subject: claims.Subject}, true
}
