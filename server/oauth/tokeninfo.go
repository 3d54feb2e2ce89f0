/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// activeAccessToken verifies an access token and checks it against the deny-list and the
// client and user cutoffs. The signature check may be cached; the revocation check never is.
func (p *Provider) activeAccessToken(token string) (*tokens.VerifiedAccess, bool) {
	at, err := p.verifier.VerifyAccessToken(token)
	if err != nil {
		return nil, false
	}
	if p.revoked.Revoked(at.JTI, at.ClientID, at.Subject, at.IssuedAt) {
		return nil, false
	}
	return at, true
}

// CheckAccessToken is activeAccessToken for other packages of the server (the admin API).
func (p *Provider) CheckAccessToken(token string) (*tokens.VerifiedAccess, bool) {
	return p.activeAccessToken(token)
}

type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
}

var inactive = introspection{Active: false}

// introspect is RFC 7662. Any authenticated confidential client may introspect access
// tokens (resource servers do); a refresh token is shown active only to its own client.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	f, err := parseClientForm(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	caller, err := p.authenticateClient(r.Context(), r, f)
	if err != nil {
		writeError(w, err)
		return
	}
	if caller.Type != store.Confidential {
		writeError(w, newError(CodeUnauthorizedClient, "only confidential clients may introspect tokens"))
		return
	}
	token := f.get("token")
	if token == "" {
		writeError(w, newError(CodeInvalidRequest, "token is required"))
		return
	}
	result, err := p.introspectToken(r.Context(), caller, token, f.get("token_type_hint"))
	if err != nil {
		if asError(err).Code == CodeServerError {
			p.log.ErrorContext(r.Context(), "introspect", "client_id", caller.ID, "error", err)
		}
		writeError(w, err)
		return
	}
	p.tokenOp("introspect", "none", activeLabel(result.Active))
	writeJSON(w, http.StatusOK, &result)
}

// introspectToken looks the token up as the hint suggests first (RFC 7662 section 2.1).
func (p *Provider) introspectToken(ctx context.Context, caller *store.Client, token, hint string) (introspection, error) {
	if hint == "refresh_token" {
		if res, ok, err := p.introspectRefresh(ctx, caller, token); ok || err != nil {
			return res, err
		}
		res, _ := p.introspectAccess(token)
		return res, nil
	}
	if res, ok := p.introspectAccess(token); ok {
		return res, nil
	}
	res, _, err := p.introspectRefresh(ctx, caller, token)
	return res, err
}

func (p *Provider) introspectAccess(token string) (introspection, bool) {
	if strings.Count(token, ".") != 2 {
		return inactive, false
	}
	at, ok := p.activeAccessToken(token)
	if !ok {
		return inactive, false
	}
	return introspection{
		Active: true, Scope: strings.Join(at.Scopes, " "), ClientID: at.ClientID,
		TokenType: "Bearer", Exp: at.ExpiresAt.Unix(), Iat: at.IssuedAt.Unix(),
		Sub: at.Subject, Aud: at.Audience, Iss: p.cfg.Issuer, JTI: at.JTI,
	}, true
}

// introspectRefresh looks token up as a refresh token of caller. A database that cannot
// answer is an error, not "inactive": the token's state is unknown then, and a resource
// server acts on the answer.
func (p *Provider) introspectRefresh(ctx context.Context, caller *store.Client, token string) (introspection, bool, error) {
	if strings.Contains(token, ".") {
		return inactive, false, nil // a JWT, never a refresh token: no lookup
	}
	rt, err := p.store.GetRefreshToken(ctx, credentials.StorageKey(token))
	if errors.Is(err, store.ErrNotFound) {
		return inactive, false, nil
	}
	if err != nil {
		return inactive, false, err
	}
	now := p.now()
	if rt.ClientID != caller.ID || !rt.UsedAt.IsZero() || !rt.RevokedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		return inactive, false, nil
	}
	if p.revoked.Revoked("", rt.ClientID, rt.UserID, rt.CreatedAt) {
		return inactive, false, nil
	}
	return introspection{
		Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: rt.ClientID,
		TokenType: "refresh_token", Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(),
		Sub: rt.UserID, Iss: p.cfg.Issuer,
	}, true, nil
}

// revoke is RFC 7009: the client revokes one of its own tokens. Unknown tokens, and tokens
// of other clients, are answered with 200 too, so the endpoint tells nothing about them.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	f, err := parseClientForm(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	client, err := p.authenticateClient(r.Context(), r, f)
	if err != nil {
		writeError(w, err)
		return
	}
	token := f.get("token")
	if token == "" {
		writeError(w, newError(CodeInvalidRequest, "token is required"))
		return
	}
	if err := p.revokeToken(r.Context(), client, token); err != nil {
		if asError(err).Code == CodeServerError {
			p.log.ErrorContext(r.Context(), "revoke", "client_id", client.ID, "error", err)
		}
		writeError(w, err)
		return
	}
	p.tokenOp("revoke", "none", "success")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) revokeToken(ctx context.Context, client *store.Client, token string) error {
	if strings.Count(token, ".") == 2 {
		// Only a valid token of this client is deny-listed; anything else is answered
		// like an unknown token.
		if at, err := p.verifier.VerifyAccessToken(token); err == nil && at.ClientID == client.ID {
			if err := p.store.RevokeAccessToken(ctx, at.JTI, at.ExpiresAt); err != nil {
				return err
			}
			if d, ok := p.revoked.(LocalDenier); ok {
				d.Deny(at.JTI, at.ExpiresAt)
			}
		}
		return nil
	}
	err := p.store.RevokeRefreshToken(ctx, credentials.StorageKey(token), client.ID, p.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// bearerToken takes the access token from the Authorization header, or from a form body
// (RFC 6750 section 2.1 and 2.2), refusing a request that uses both.
func bearerToken(w http.ResponseWriter, r *http.Request) (string, *Error) {
	header := r.Header.Get("Authorization")
	var fromForm string
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f, err := parseForm(w, r, false)
		if err != nil {
			return "", asError(err)
		}
		fromForm = f.get("access_token")
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if reason := badText(tok, maxJWTLen); reason != "" {
		return "", newError(CodeInvalidRequest, "the access token "+reason)
	}
	switch {
	case header != "" && fromForm != "":
		return "", newError(CodeInvalidRequest, "send the access token in one place only")
	case header != "" && (!ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == ""):
		return "", newError(CodeInvalidRequest, "the Authorization header must be Bearer <token>")
	case header != "":
		return strings.TrimSpace(tok), nil
	case fromForm != "":
		return fromForm, nil
	}
	return "", &Error{Code: "", Description: "", Status: http.StatusUnauthorized}
}

// userinfo is OIDC Core section 5.3.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, e := bearerToken(w, r)
	if e != nil {
		if e.Code == "" {
			// No credentials at all: RFC 6750 section 3.1 answers with a bare challenge.
			w.Header().Set("WWW-Authenticate", `Bearer realm="authly"`)
			writeError(w, &Error{Code: CodeInvalidToken, Description: "an access token is required"})
			return
		}
		writeBearerError(w, e)
		return
	}
	at, ok := p.activeAccessToken(token)
	if !ok {
		writeBearerError(w, newError(CodeInvalidToken, "the access token is invalid, expired or revoked"))
		return
	}
	if !contains(at.Scopes, "openid") {
		writeBearerError(w, newError(CodeInsufficientScope, "the openid scope is required"))
		return
	}
	user, err := p.store.GetUser(r.Context(), at.Subject)
	if err != nil || user.Disabled {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			writeError(w, err)
			return
		}
		writeBearerError(w, wrapError(CodeInvalidToken, "the user no longer exists", err))
		return
	}
	claims := userClaims(user, at.Scopes)
	claims["sub"] = user.ID
	writeJSON(w, http.StatusOK, claims)
}
