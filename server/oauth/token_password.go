/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"net/http"

	"github.com/authly-dev/authly-operator/server/store"
)

// grantPassword is the resource owner password credentials grant (RFC 6749 section 4.3),
// for clients registered with it; the login is checked as on the login page.
func (p *Provider) grantPassword(ctx context.Context, _ *http.Request, client *store.Client, f form) (*tokenResponse, error) {
	if err := required(f, "username", "password"); err != nil {
		return nil, err
	}
	user, err := p.checkPassword(ctx, f.get("username"), f.get("password"))
	if err != nil {
		return nil, err
	}
	scopes, err := p.grantableScopes(client, user, f["scope"], f.has("scope"))
	if err != nil {
		return nil, err
	}
	now := p.now()
	jti := p.issuer.NewJTI()
	refresh, refreshValue, err := p.newRefresh(client, jti, now)
	if err != nil {
		return nil, err
	}
	if refresh != nil {
		refresh.ClientID, refresh.UserID, refresh.Scopes, refresh.AuthTime = client.ID, user.ID, scopes, now
		if err := p.store.CreateRefreshToken(ctx, refresh); err != nil {
			return nil, err
		}
	}
	return p.issue(ctx, client, issueRequest{
		subject: user.ID, user: user, scopes: scopes, jti: jti, authTime: now, refresh: refreshValue, now: now,
	})
}
