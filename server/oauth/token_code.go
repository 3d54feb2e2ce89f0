/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// grantAuthorizationCode redeems an authorization code with its PKCE verifier (RFC 6749
// section 4.1.3, RFC 7636 section 4.6). The code is single use: redeeming it twice revokes
// what the first redemption issued.
func (p *Provider) grantAuthorizationCode(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	// redirect_uri is not required here: the redemption compares it with the authorization
	// request's, which may have omitted it (see issueCode).
	if err := required(f, "code", "code_verifier"); err != nil {
		return nil, err
	}
	verifier := f.get("code_verifier")
	if !credentials.ValidVerifier(verifier) {
		return nil, newError(CodeInvalidRequest, "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636)")
	}
	now := p.now()
	jti := p.issuer.NewJTI()
	refresh, refreshValue, err := p.newRefresh(client, jti, now)
	if err != nil {
		return nil, err
	}
	code, err := p.store.RedeemAuthorizationCode(ctx, store.CodeRedemption{
		Hash:            credentials.HashToken(f.get("code")),
		ClientID:        client.ID,
		RedirectURI:     f.get("redirect_uri"),
		CodeChallenge:   credentials.S256Challenge(verifier),
		Now:             now,
		AccessTokenJTI:  jti,
		AccessExpiresAt: now.Add(p.cfg.AccessTokenTTL),
		Refresh:         refresh,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, wrapError(CodeInvalidGrant, "unknown authorization code", err)
	case errors.Is(err, store.ErrExpired):
		return nil, wrapError(CodeInvalidGrant, "the authorization code has expired", err)
	case errors.Is(err, store.ErrAlreadyUsed):
		p.log.WarnContext(ctx, "authorization code used twice; tokens issued for it are revoked", "client_id", client.ID)
		return nil, wrapError(CodeInvalidGrant, "the authorization code was already used", err)
	case errors.Is(err, store.ErrMismatch):
		return nil, wrapError(CodeInvalidGrant, "the authorization code was issued to another client or redirect_uri, or the code_verifier does not match", err)
	case err != nil:
		return nil, err
	}
	return p.issue(ctx, client, issueRequest{
		subject: code.UserID, user: code.User, scopes: code.Scopes, jti: jti, authTime: code.AuthTime,
		nonce: code.Nonce, refresh: refreshValue, now: now,
	})
}
