/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authly-dev/authly-operator/server/clientkeys"
	"github.com/authly-dev/authly-operator/server/store"
)

// Client assertions (RFC 7521, RFC 7523 section 2.2): the client authenticates with a JWT
// in client_assertion instead of a secret.
const (
	// ClientAssertionTypeJWTBearer is the client_assertion_type of a JWT assertion.
	ClientAssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// AuthPrivateKeyJWT is the auth method of a client whose assertions are signed with its
	// own private key, verified with the public keys it registered (OIDC Core section 9).
	AuthPrivateKeyJWT = "private_key_jwt"
)

// assertionLeeway is the clock skew tolerated on an assertion's exp, nbf and iat, and on
// how far ahead its exp may be.
const assertionLeeway = 30 * time.Second

// maxAssertionJTILen bounds the jti kept for replay detection.
const maxAssertionJTILen = 256

// authenticateByAssertion identifies and authenticates a client that sent
// client_assertion_type and client_assertion (RFC 7521 section 4.2). The client is the
// form's client_id when given, else the assertion's sub, read before it is verified:
// which client it is decides which keys verify it.
func (p *Provider) authenticateByAssertion(ctx context.Context, r *http.Request, f form) (*store.Client, error) {
	if _, _, basic := r.BasicAuth(); basic || f.has("client_secret") {
		return nil, newError(CodeInvalidRequest, "use only one client authentication method")
	}
	if t := f.get("client_assertion_type"); t != ClientAssertionTypeJWTBearer {
		return nil, newError(CodeInvalidClient, "client_assertion_type must be "+ClientAssertionTypeJWTBearer)
	}
	assertion := f.get("client_assertion")
	if assertion == "" {
		return nil, newError(CodeInvalidClient, "client_assertion is required with client_assertion_type")
	}
	id := f.get("client_id")
	if id == "" {
		var claims jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(assertion, &claims); err != nil {
			return nil, wrapError(CodeInvalidClient, "client_assertion is not a JWT", err)
		}
		if id = claims.Subject; id == "" || badText(id, maxIdentifierLen) != "" {
			return nil, newError(CodeInvalidClient, "client_assertion has no usable sub, and client_id is not given")
		}
	}
	client, err := p.clients.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput) {
		return nil, wrapError(CodeInvalidClient, "client authentication failed", err)
	}
	if err != nil {
		return nil, err
	}
	if err := p.verifyClientAssertion(ctx, client, assertion); err != nil {
		return nil, err
	}
	return client, nil
}

// verifyClientAssertion checks a client assertion for the client it names, by the kind
// of assertion the client registered for. Every kind of jwt-bearer client assertion the
// server accepts is one case here.
func (p *Provider) verifyClientAssertion(ctx context.Context, client *store.Client, raw string) error {
	switch client.TokenEndpointAuthMethod {
	case AuthPrivateKeyJWT:
		return p.verifyPrivateKeyJWT(ctx, client, raw)
	case AuthServiceAccountJWT:
		return p.verifyServiceAccountAssertion(ctx, client, raw)
	}
	return newError(CodeInvalidClient, "client must authenticate with "+registeredAuthMethod(client))
}

// assertionFailure is the answer to an assertion that does not verify: invalid_client
// (RFC 7521 section 4.2.1), saying why, with the cause kept for the log.
func assertionFailure(reason string, cause error) *Error {
	return wrapError(CodeInvalidClient, "client assertion refused: "+reason, cause)
}

// verifyPrivateKeyJWT checks a private_key_jwt assertion (RFC 7523 section 3, OIDC Core
// section 9): signed by a registered key with an asymmetric algorithm, iss and sub the
// client_id, aud the issuer or the token endpoint, exp present and no further ahead than
// ClientAssertionMaxLifetime, and a jti never presented before by this client while its
// assertion was valid (kept in the database, so that a replay is refused on every
// replica).
func (p *Provider) verifyPrivateKeyJWT(ctx context.Context, client *store.Client, raw string) error {
	parser := jwt.NewParser(
		jwt.WithValidMethods(clientkeys.Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(assertionLeeway),
		jwt.WithTimeFunc(p.now),
		jwt.WithIssuer(client.ID),
		jwt.WithSubject(client.ID),
	)
	var claims jwt.RegisteredClaims
	var keyErr *Error
	_, err := parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		set, err := p.clientKeySet(ctx, client, kid)
		if err != nil {
			keyErr = assertionFailure("the client's registered keys cannot be read", err)
			return nil, err
		}
		keys := set.Candidates(kid, t.Method.Alg())
		if len(keys) == 0 {
			keyErr = assertionFailure(fmt.Sprintf("no registered key has kid %q and fits alg %s", kid, t.Method.Alg()), nil)
			return nil, errors.New("no matching key")
		}
		vks := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
		for i, k := range keys {
			vks.Keys[i] = k.Public
		}
		return vks, nil
	})
	if err != nil {
		if keyErr != nil {
			return keyErr
		}
		return assertionFailure(assertionReason(err), err)
	}
	iss := p.cfg.Issuer
	if !contains(claims.Audience, iss) && !contains(claims.Audience, iss+PathToken) {
		return assertionFailure("aud must be the issuer "+iss+" or the token endpoint "+iss+PathToken, nil)
	}
	now := p.now()
	exp := claims.ExpiresAt.Time
	if exp.Sub(now) > p.cfg.ClientAssertionMaxLifetime+assertionLeeway {
		return assertionFailure(fmt.Sprintf("exp is more than %s ahead", p.cfg.ClientAssertionMaxLifetime), nil)
	}
	if claims.ID == "" || len(claims.ID) > maxAssertionJTILen {
		return assertionFailure(fmt.Sprintf("jti is required, at most %d bytes", maxAssertionJTILen), nil)
	}
	// Kept until the assertion expires, leeway included: until then it would verify.
	err = p.store.UseClientAssertion(ctx, client.ID, claims.ID, exp.Add(assertionLeeway), now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		return assertionFailure("this jti was used before", err)
	case errors.Is(err, store.ErrInvalidInput):
		return assertionFailure("jti holds a value the server cannot keep", err)
	case err != nil:
		return err
	}
	return nil
}

// clientKeySet is the client's registered JWK Set: inline, or fetched from its jwks_uri
// (a set that lacks kid is fetched again, at most once per the fetcher's interval).
func (p *Provider) clientKeySet(ctx context.Context, client *store.Client, kid string) (*clientkeys.Set, error) {
	if client.JWKSURI != "" {
		// A failure is the client's to fix; the endpoint's log has it as the answer's cause.
		set, err := p.clientKeys.Keys(ctx, client.JWKSURI, kid)
		if err != nil {
			return nil, fmt.Errorf("client %s jwks_uri: %w", client.ID, err)
		}
		return set, nil
	}
	set, err := clientkeys.Parse(client.JWKS)
	if err != nil {
		return nil, fmt.Errorf("client %s jwks: %w", client.ID, err)
	}
	return set, nil
}

// assertionReason says in a few words why the jwt package refused an assertion.
func assertionReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "alg must be one of " + strings.Join(clientkeys.Algorithms, ", ")
		}
		return "the signature does not verify with the registered keys"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "exp is required"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet (nbf or iat in the future)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidSubject):
		return "iss and sub must both be the client_id"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "its claims are malformed"
	}
	return "it does not verify"
}
