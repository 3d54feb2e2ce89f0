/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// Store is what the protocol needs from the database: the methods of *store.Store the
// endpoints call, and no more, so that the grants can be tested against a fake. The
// semantics (errors, single use, rotation, lockout) are the ones *store.Store documents
// and its tests prove.
type Store interface {
	Codes
	RefreshTokens
	Users
	Logins
	Sessions
	Consents
	DeviceCodes
	ClientAssertions
	// GetScope describes a scope on the consent page.
	GetScope(ctx context.Context, name string) (*store.Scope, error)
	// AnyClientHasGrantType tells discovery whether to advertise the password grant.
	AnyClientHasGrantType(ctx context.Context, grantType string) (bool, error)
	// RevokeAccessToken deny-lists an access token (revocation endpoint).
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
}

// Codes are the authorization codes: issued by the authorization endpoint, redeemed once
// by the authorization_code grant.
type Codes interface {
	CreateAuthorizationCode(ctx context.Context, c *store.AuthorizationCode) error
	RedeemAuthorizationCode(ctx context.Context, r store.CodeRedemption) (*store.AuthorizationCode, error)
}

// RefreshTokens are the refresh token families: started by the code and password grants,
// rotated by the refresh_token grant, read by introspection, revoked by revocation.
type RefreshTokens interface {
	CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error
	RotateRefresh(ctx context.Context, r store.RefreshRotation) (store.RefreshRotated, error)
	GetRefreshToken(ctx context.Context, hash []byte) (*store.RefreshToken, error)
	RevokeRefreshToken(ctx context.Context, hash []byte, clientID string, now time.Time) error
}

// Users are looked up by ID (ID tokens, userinfo, sessions) and by login (password check).
type Users interface {
	GetUser(ctx context.Context, id string) (*store.User, error)
	GetUserByLogin(ctx context.Context, login string) (*store.User, error)
}

// Logins count failed logins, lock them out and forget them at the next success (see
// checkPassword).
type Logins interface {
	LoginLockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error)
	RecordLoginFailure(ctx context.Context, key string, now time.Time, maxFailures int, window, lockout time.Duration) (time.Time, error)
	LoginSucceeded(ctx context.Context, key, userID, oldHash, newHash string) (rehashed bool, err error)
}

// Sessions are the browser sessions of the login page.
type Sessions interface {
	CreateSession(ctx context.Context, s *store.Session) error
	GetSession(ctx context.Context, hash []byte, now time.Time) (*store.Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
}

// ClientAssertions remember the jti of the client assertions accepted until they expire,
// so that each is accepted once (see store.UseClientAssertion).
type ClientAssertions interface {
	UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error
}

// Consents are the scopes a user granted a client.
type Consents interface {
	GrantConsent(ctx context.Context, userID, clientID string, scopes []string) error
	ConsentedScopes(ctx context.Context, userID, clientID string) ([]string, error)
}

// DeviceCodes are the device authorization requests (RFC 8628): started by the device
// authorization endpoint, decided on the verification page, polled and redeemed once by
// the device_code grant.
type DeviceCodes interface {
	CreateDeviceAuthorization(ctx context.Context, d *store.DeviceAuthorization) error
	PendingDeviceAuthorization(ctx context.Context, userCodeHash []byte, now time.Time) (*store.DeviceAuthorization, error)
	DecideDeviceAuthorization(ctx context.Context, d store.DeviceDecision) error
	PollDeviceAuthorization(ctx context.Context, p store.DevicePoll) (*store.DeviceAuthorization, error)
}

// The database's store is the one the server passes.
var _ Store = (*store.Store)(nil)
