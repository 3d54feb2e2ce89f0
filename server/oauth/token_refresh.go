/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// grantRefreshToken rotates a refresh token (RFC 6749 section 6, OAuth 2.1 section 4.3):
// the presented token is spent, a new one of the same family issued, and a spent token
// presented again after the reuse interval revokes the family.
func (p *Provider) grantRefreshToken(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	if err := required(f, "refresh_token"); err != nil {
		return nil, err
	}
	var narrowed []string
	if s, ok := f["scope"]; ok {
		narrowed = splitScope(s)
		if len(narrowed) == 0 {
			return nil, newError(CodeInvalidScope, "scope is empty")
		}
	}
	now := p.now()
	jti := p.issuer.NewJTI()
	value, err := credentials.NewOrderedToken(p.rand, now)
	if err != nil {
		return nil, err
	}
	rotated, err := p.store.RotateRefresh(ctx, store.RefreshRotation{
		Hash:          credentials.StorageKey(f.get("refresh_token")),
		ClientID:      client.ID,
		Scopes:        narrowed,
		Now:           now,
		ReuseInterval: p.cfg.RefreshTokenReuseInterval,
		New: store.RefreshToken{
			Hash:            credentials.StorageKey(value),
			ExpiresAt:       now.Add(p.cfg.RefreshTokenTTL),
			AccessTokenJTI:  jti,
			AccessExpiresAt: now.Add(p.cfg.AccessTokenTTL),
		},
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrMismatch):
		return nil, wrapError(CodeInvalidGrant, "unknown or revoked refresh token", err)
	case errors.Is(err, store.ErrExpired):
		return nil, wrapError(CodeInvalidGrant, "the refresh token has expired", err)
	case errors.Is(err, store.ErrAlreadyUsed):
		p.refreshReuse(ReuseRevokedFamily)
		p.log.WarnContext(ctx, "rotated refresh token reused; its family is revoked", "client_id", client.ID)
		return nil, wrapError(CodeInvalidGrant, "the refresh token was already used; its grant is revoked", err)
	case errors.Is(err, store.ErrScopeNotAllowed):
		return nil, wrapError(CodeInvalidScope, "a refresh may only narrow the granted scope", err)
	case err != nil:
		return nil, err
	}
	old := rotated.Old
	if rotated.Repeated {
		p.refreshReuse(ReuseGrace)
		p.log.InfoContext(ctx, "rotated refresh token presented again within the reuse interval; rotated again, the earlier refresh token revoked",
			"client_id", client.ID, "since_first_use", now.Sub(old.UsedAt).Round(time.Millisecond).String())
	}
	scopes := old.Scopes
	if narrowed != nil {
		scopes = narrowed
	}
	return p.issue(ctx, client, issueRequest{
		subject: old.UserID, scopes: scopes, jti: jti, authTime: old.AuthTime, refresh: value, now: now,
	})
}
