/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	// GrantDeviceCode is the device authorization grant (RFC 8628 section 3.4).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// token is the token endpoint (RFC 6749 section 3.2).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	f, err := parseClientForm(w, r)
	grant := ""
	if err == nil {
		grant = f.get("grant_type")
	}
	var resp *tokenResponse
	if err == nil {
		resp, err = p.grant(r, f, grant)
	}
	p.tokenOp("issue", grantLabel(grant), errorCode(err))
	if err != nil {
		// The client learns the code and description; the log keeps the cause too (a
		// store error, say), at debug level for the answers that are the client's doing.
		if e := asError(err); e.Code == CodeServerError {
			p.log.ErrorContext(r.Context(), "token endpoint", "grant_type", grantLabel(grant), "error", err)
		} else {
			p.log.DebugContext(r.Context(), "token endpoint refused the request", "grant_type", grantLabel(grant), "error", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// grantLabel bounds the metric label to the grants the server knows.
func grantLabel(g string) string {
	switch g {
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode:
		return g
	case "":
		return "none"
	}
	return "other"
}

func (p *Provider) grant(r *http.Request, f form, grant string) (*tokenResponse, error) {
	ctx := r.Context()
	switch grant {
	case "":
		return nil, newError(CodeInvalidRequest, "grant_type is required")
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode:
	default:
		return nil, newError(CodeUnsupportedGrantType, "grant_type "+quote(grant)+" is not supported")
	}
	client, err := p.authenticateClient(ctx, r, f)
	if err != nil {
		return nil, err
	}
	if err := p.limitClient(client.ID); err != nil {
		return nil, err
	}
	if !client.HasGrantType(grant) {
		return nil, newError(CodeUnauthorizedClient, "the client may not use the "+grant+" grant")
	}
	switch grant {
	case GrantAuthorizationCode:
		return p.grantAuthorizationCode(ctx, client, f)
	case GrantRefreshToken:
		return p.grantRefreshToken(ctx, client, f)
	case GrantClientCredentials:
		return p.grantClientCredentials(ctx, client, f)
	case GrantDeviceCode:
		return p.grantDeviceCode(ctx, client, f)
	default:
		return p.grantPassword(ctx, r, client, f)
	}
}

// limitClient applies the per-client rate limit of the token endpoint: over it, the
// answer is 429 with Retry-After.
func (p *Provider) limitClient(clientID string) error {
	if p.limiter == nil {
		return nil
	}
	ok, retry := p.limiter.AllowClient(clientID)
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(retry.Seconds())))
	return &Error{
		Code:        CodeTemporarilyUnavailable,
		Description: "rate limit exceeded; retry after " + strconv.Itoa(secs) + " s",
		Status:      http.StatusTooManyRequests,
		retryAfter:  secs,
	}
}

func required(f form, names ...string) error {
	for _, n := range names {
		if f.get(n) == "" {
			return newError(CodeInvalidRequest, n+" is required")
		}
	}
	return nil
}

// newRefresh prepares a refresh token that starts a new family, for a client that has the
// refresh_token grant, and returns nil otherwise: only such clients get one.
func (p *Provider) newRefresh(client *store.Client, jti string, now time.Time) (*store.RefreshToken, string, error) {
	if !client.HasGrantType(GrantRefreshToken) {
		return nil, "", nil
	}
	value, err := credentials.NewOrderedToken(p.rand, now)
	if err != nil {
		return nil, "", err
	}
	family, err := credentials.NewOrderedID(p.rand, now)
	if err != nil {
		return nil, "", err
	}
	return &store.RefreshToken{
		Hash:            credentials.StorageKey(value),
		FamilyID:        family,
		ExpiresAt:       now.Add(p.cfg.RefreshTokenTTL),
		AccessTokenJTI:  jti,
		AccessExpiresAt: now.Add(p.cfg.AccessTokenTTL),
	}, value, nil
}

type issueRequest struct {
	subject  string
	user     *store.User // loaded when needed for an ID token, if not given
	scopes   []string
	jti      string
	authTime time.Time
	nonce    string
	refresh  string
	now      time.Time
}

// issue signs the access token (and the ID token when openid was granted) and builds the
// token response. The signatures of one request wait for one signing slot together.
func (p *Provider) issue(ctx context.Context, client *store.Client, req issueRequest) (*tokenResponse, error) {
	withIDToken := contains(req.scopes, "openid") && req.subject != client.ID
	user := req.user
	if withIDToken && user == nil {
		var err error
		if user, err = p.store.GetUser(ctx, req.subject); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, wrapError(CodeInvalidGrant, "the user of this grant no longer exists", err)
			}
			return nil, err
		}
	}
	if err := p.acquireSigningSlot(ctx); err != nil {
		return nil, err
	}
	defer p.signing.Release()
	access, err := p.issuer.AccessToken(tokens.AccessClaims{
		Subject:  req.subject,
		ClientID: client.ID,
		Audience: []string{client.ID},
		Scopes:   req.scopes,
		JTI:      req.jti,
		TTL:      p.cfg.AccessTokenTTL,
		AuthTime: req.authTime,
	}, p.cfg.AccessTokenAlg)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(p.cfg.AccessTokenTTL / time.Second),
		RefreshToken: req.refresh,
		Scope:        strings.Join(req.scopes, " "),
	}
	if withIDToken {
		if resp.IDToken, err = p.idToken(client, user, req.scopes, req.nonce, req.authTime, access); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (p *Provider) idToken(client *store.Client, user *store.User, scopes []string, nonce string, authTime time.Time, accessToken string) (string, error) {
	alg := client.IDTokenSignedResponseAlg
	if alg == "" {
		alg = p.cfg.IDTokenAlg
	}
	claims := tokens.IDClaims{
		Subject:     user.ID,
		ClientID:    client.ID,
		Nonce:       nonce,
		AuthTime:    authTime,
		AccessToken: accessToken,
		TTL:         p.cfg.IDTokenTTL,
	}
	if contains(scopes, "profile") {
		claims.Name, claims.GivenName, claims.FamilyName = user.Name, user.GivenName, user.FamilyName
		claims.PreferredUsername = user.Username
	}
	if contains(scopes, "email") {
		claims.Email, claims.EmailVerified = user.Email, user.EmailVerified
	}
	if contains(scopes, ScopeGroups) {
		claims.Extra = map[string]any{ClaimGroups: groupsOf(user)}
	}
	return p.issuer.IDToken(claims, alg)
}

// ScopeGroups asks for the user's groups, as the ClaimGroups claim of the ID token and
// userinfo: a JSON array of strings, [] for a user in no group, read from the user when
// the token is issued (a refresh reads them again).
const (
	ScopeGroups = "groups"
	ClaimGroups = "groups"
)

// groupsOf is the user's groups as the claim shows them: never null.
func groupsOf(u *store.User) []string {
	if u.Groups == nil {
		return []string{}
	}
	return u.Groups
}

// userClaims are the standard claims of the profile and email scopes (OIDC Core 5.4),
// and the groups of the groups scope.
func userClaims(u *store.User, scopes []string) map[string]any {
	claims := map[string]any{}
	if contains(scopes, "profile") {
		claims["preferred_username"] = u.Username
		if u.Name != "" {
			claims["name"] = u.Name
		}
		if u.GivenName != "" {
			claims["given_name"] = u.GivenName
		}
		if u.FamilyName != "" {
			claims["family_name"] = u.FamilyName
		}
	}
	if contains(scopes, "email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	if contains(scopes, ScopeGroups) {
		claims[ClaimGroups] = groupsOf(u)
	}
	return claims
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + sanitizeQuoted(s) + `"`
}
