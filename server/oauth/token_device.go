/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// grantDeviceCode answers a device's poll (RFC 8628 section 3.4 and 3.5): tokens once the
// user approved, the first time only; until then authorization_pending, or slow_down
// when it polls before its interval is over (which raises the interval by 5 s);
// access_denied once the user denied, expired_token once the request expired.
func (p *Provider) grantDeviceCode(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	if err := required(f, "device_code"); err != nil {
		return nil, err
	}
	now := p.now()
	jti := p.issuer.NewJTI()
	refresh, refreshValue, err := p.newRefresh(client, jti, now)
	if err != nil {
		return nil, err
	}
	d, err := p.store.PollDeviceAuthorization(ctx, store.DevicePoll{
		DeviceCodeHash: credentials.HashToken(f.get("device_code")),
		ClientID:       client.ID,
		Now:            now,
		Leeway:         p.cfg.DevicePollInterval / pollLeewayDivisor,
		Refresh:        refresh,
	})
	// The waiting answers are 400s (RFC 8628 section 3.5 refers to RFC 6749 section 5.2),
	// access_denied included, which elsewhere is a 403.
	switch {
	case errors.Is(err, store.ErrAuthorizationPending):
		return nil, &Error{Code: CodeAuthorizationPending, Description: "the user has not yet approved the request", cause: err}
	case errors.Is(err, store.ErrSlowDown):
		return nil, &Error{Code: CodeSlowDown, Description: "polling too fast: wait 5 s longer between requests from now on", cause: err}
	case errors.Is(err, store.ErrDenied):
		return nil, &Error{Code: CodeAccessDenied, Description: "the user denied the request", Status: http.StatusBadRequest, cause: err}
	case errors.Is(err, store.ErrExpired):
		return nil, &Error{Code: CodeExpiredToken, Description: "the device code has expired; start again", cause: err}
	case errors.Is(err, store.ErrNotFound):
		return nil, wrapError(CodeInvalidGrant, "unknown device code, issued to another client, or already used", err)
	case err != nil:
		return nil, err
	}
	return p.issue(ctx, client, issueRequest{
		subject: d.UserID, scopes: d.Scopes, jti: jti, authTime: d.AuthTime, refresh: refreshValue, now: now,
	})
}

// pollLeewayDivisor: a poll may come up to a fifth of the configured interval early
// without being too fast, for the jitter of timers and networks.
const pollLeewayDivisor = 5
