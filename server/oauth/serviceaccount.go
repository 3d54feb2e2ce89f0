/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/store"
)

// AuthServiceAccountJWT is the token endpoint auth method of a client that authenticates
// with a token of a federated issuer, a Kubernetes ServiceAccount token, sent as a
// jwt-bearer client assertion (RFC 7523 section 2.2) instead of a secret.
const AuthServiceAccountJWT = "service_account_jwt"

// FederatedKeys are the keys of federated issuers, loaded from the database
// (federation.Issuers).
type FederatedKeys interface {
	// Key returns the issuer's key with that kid: federation.ErrUnknownIssuer or
	// federation.ErrUnknownKey when there is none.
	Key(ctx context.Context, issuer, kid string) (federation.Key, error)
	// RequestRefresh asks for the issuer's keys to be fetched again (rate limited).
	RequestRefresh(ctx context.Context, issuer string) (bool, error)
}

// serviceAccountAlgorithms are the algorithms a ServiceAccount token may be signed with:
// the API server signs with RS256 or ES256 (depending on its key), others may use the
// larger sizes. Never "none" nor HMAC.
var serviceAccountAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}

// serviceAccountLeeway is the clock skew tolerated on a ServiceAccount token's exp, nbf
// and iat.
const serviceAccountLeeway = 30 * time.Second

// serviceAccountClaims are the claims of a Kubernetes ServiceAccount token that matter
// here: the registered ones and the ServiceAccount's uid.
type serviceAccountClaims struct {
	jwt.RegisteredClaims
	Kubernetes struct {
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// verifyServiceAccountAssertion checks raw, a client's ServiceAccount token: signed by a
// key of the client's federated issuer (as stored in the database), iss that issuer, sub
// the registered subject, aud containing this server's issuer, unexpired, and the
// ServiceAccount uid in its kubernetes.io claim the one registered (a ServiceAccount
// deleted and created again has a new uid; the old one's tokens are refused). Such tokens
// are reused for their whole life, so there is no replay check. A kid the stored keys
// lack asks for them to be fetched again (the cluster may have rotated its key). The
// error is invalid_client, or the store's when the database cannot be reached.
func (p *Provider) verifyServiceAccountAssertion(ctx context.Context, client *store.Client, raw string) error {
	fail := func(cause error) error {
		return wrapError(CodeInvalidClient, "the ServiceAccount token is not valid for this client", cause)
	}
	if p.federation == nil {
		return fail(errors.New("this server has no federated issuers"))
	}
	if client.FederatedIssuer == "" || client.FederatedSubject == "" {
		return fail(errors.New("the client has no ServiceAccount registered"))
	}
	if client.ServiceAccountUID == "" {
		return fail(errors.New("the client's ServiceAccount does not exist"))
	}
	if len(raw) > maxJWTLen {
		return fail(fmt.Errorf("token longer than %d bytes", maxJWTLen))
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(serviceAccountAlgorithms),
		jwt.WithIssuer(client.FederatedIssuer),
		jwt.WithSubject(client.FederatedSubject),
		jwt.WithAudience(p.cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(serviceAccountLeeway),
		jwt.WithTimeFunc(p.now),
	)
	var claims serviceAccountClaims
	var storeErr error
	_, err := parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("unsupported crit header")
		}
		// The issuer is checked before any key is looked up, so that a token of another
		// issuer asks for no refresh.
		if claims.Issuer != client.FederatedIssuer {
			return nil, fmt.Errorf("iss %q is not the client's issuer", truncateValue(claims.Issuer))
		}
		kid, _ := t.Header["kid"].(string)
		key, err := p.federation.Key(ctx, client.FederatedIssuer, kid)
		if errors.Is(err, federation.ErrUnknownKey) {
			p.requestIssuerRefresh(ctx, client.FederatedIssuer)
		}
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				storeErr = err
			}
			return nil, err
		}
		if !key.Allows(t.Method.Alg()) {
			return nil, fmt.Errorf("alg %s does not fit key %q", t.Method.Alg(), truncateValue(kid))
		}
		return key.Public, nil
	})
	if storeErr != nil {
		return storeErr
	}
	if err != nil {
		return fail(err)
	}
	if uid := claims.Kubernetes.ServiceAccount.UID; uid != client.ServiceAccountUID {
		return fail(fmt.Errorf("ServiceAccount uid %q is not the registered one (the ServiceAccount was deleted and created again?)", truncateValue(uid)))
	}
	return nil
}

// requestIssuerRefresh asks for the issuer's keys to be fetched again; a failure is only
// logged (the token is refused either way).
func (p *Provider) requestIssuerRefresh(ctx context.Context, issuer string) {
	asked, err := p.federation.RequestRefresh(ctx, issuer)
	switch {
	case err != nil:
		p.log.Warn("request a refresh of a federated issuer's keys", "issuer", issuer, "error", err)
	case asked:
		p.log.Info("a ServiceAccount token names a key not stored: asked for the issuer's keys to be fetched again", "issuer", issuer)
	}
}

// truncateValue shortens a value from a request for an error message.
func truncateValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
