/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"

	"github.com/authly-dev/authly-operator/server/store"
)

// grantClientCredentials issues a token to a confidential client for itself (RFC 6749
// section 4.4): no user, so no ID token and no refresh token.
func (p *Provider) grantClientCredentials(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	if client.Type != store.Confidential {
		return nil, newError(CodeUnauthorizedClient, "client_credentials is for confidential clients")
	}
	scopes, err := p.grantableScopes(client, nil, f["scope"], f.has("scope"))
	if err != nil {
		return nil, err
	}
	if !f.has("scope") {
		// The default of RFC 6749 section 3.3 is what the client may have without a user:
		// client libraries ask without a scope, and a client registered for OpenID Connect
		// too must still get its token.
		scopes = withoutUserScopes(scopes)
	}
	if contains(scopes, "openid") || contains(scopes, "offline_access") {
		return nil, newError(CodeInvalidScope, "openid and offline_access need a user; client_credentials has none")
	}
	now := p.now()
	return p.issue(ctx, client, issueRequest{subject: client.ID, scopes: scopes, jti: p.issuer.NewJTI(), now: now})
}
