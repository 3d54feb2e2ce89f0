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
		if e := asError(err); e.Code == ErrServerError {
			p.log.ErrorContext(r.Context(), "token endpoint", "grant_type", grantLabel(grant), "error", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// grantLabel bounds the metric label to the grants the server knows.
func grantLabel(g string) string {
	switch g {
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword:
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
		return nil, newError(ErrInvalidRequest, "grant_type is required")
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword:
	default:
		return nil, newError(ErrUnsupportedGrantType, "grant_type "+quote(grant)+" is not supported")
	}
	client, err := p.authenticateClient(ctx, r, f)
	if err != nil {
		return nil, err
	}
	if err := p.limitClient(client.ID); err != nil {
		return nil, err
	}
	if !client.HasGrantType(grant) {
		return nil, newError(ErrUnauthorizedClient, "the client may not use the "+grant+" grant")
	}
	switch grant {
	case GrantAuthorizationCode:
		return p.grantAuthorizationCode(ctx, client, f)
	case GrantRefreshToken:
		return p.grantRefreshToken(ctx, client, f)
	case GrantClientCredentials:
		return p.grantClientCredentials(ctx, client, f)
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
		Code:        ErrTemporarilyUnavailable,
		Description: "rate limit exceeded; retry after " + strconv.Itoa(secs) + " s",
		Status:      http.StatusTooManyRequests,
		retryAfter:  secs,
	}
}

func required(f form, names ...string) error {
	for _, n := range names {
		if f.get(n) == "" {
			return newError(ErrInvalidRequest, n+" is required")
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

func (p *Provider) grantAuthorizationCode(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	// redirect_uri is not required here: the redemption compares it with the authorization
	// request's, which may have omitted it (see issueCode).
	if err := required(f, "code", "code_verifier"); err != nil {
		return nil, err
	}
	verifier := f.get("code_verifier")
	if !credentials.ValidVerifier(verifier) {
		return nil, newError(ErrInvalidRequest, "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636)")
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
		return nil, newError(ErrInvalidGrant, "unknown authorization code")
	case errors.Is(err, store.ErrExpired):
		return nil, newError(ErrInvalidGrant, "the authorization code has expired")
	case errors.Is(err, store.ErrAlreadyUsed):
		p.log.WarnContext(ctx, "authorization code used twice; tokens issued for it are revoked", "client_id", client.ID)
		return nil, newError(ErrInvalidGrant, "the authorization code was already used")
	case errors.Is(err, store.ErrMismatch):
		return nil, newError(ErrInvalidGrant, "the authorization code was issued to another client or redirect_uri, or the code_verifier does not match")
	case err != nil:
		return nil, err
	}
	return p.issue(ctx, client, issueRequest{
		subject: code.UserID, user: code.User, scopes: code.Scopes, jti: jti, authTime: code.AuthTime,
		nonce: code.Nonce, refresh: refreshValue, now: now,
	})
}

func (p *Provider) grantRefreshToken(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	if err := required(f, "refresh_token"); err != nil {
		return nil, err
	}
	var narrowed []string
	if s, ok := f["scope"]; ok {
		narrowed = splitScope(s)
		if len(narrowed) == 0 {
			return nil, newError(ErrInvalidScope, "scope is empty")
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
		return nil, newError(ErrInvalidGrant, "unknown or revoked refresh token")
	case errors.Is(err, store.ErrExpired):
		return nil, newError(ErrInvalidGrant, "the refresh token has expired")
	case errors.Is(err, store.ErrAlreadyUsed):
		p.refreshReuse(ReuseRevokedFamily)
		p.log.WarnContext(ctx, "rotated refresh token reused; its family is revoked", "client_id", client.ID)
		return nil, newError(ErrInvalidGrant, "the refresh token was already used; its grant is revoked")
	case errors.Is(err, store.ErrScopeNotAllowed):
		return nil, newError(ErrInvalidScope, "a refresh may only narrow the granted scope")
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

func (p *Provider) grantClientCredentials(ctx context.Context, client *store.Client, f form) (*tokenResponse, error) {
	if client.Type != store.Confidential {
		return nil, newError(ErrUnauthorizedClient, "client_credentials is for confidential clients")
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
		return nil, newError(ErrInvalidScope, "openid and offline_access need a user; client_credentials has none")
	}
	now := p.now()
	return p.issue(ctx, client, issueRequest{subject: client.ID, scopes: scopes, jti: p.issuer.NewJTI(), now: now})
}

func (p *Provider) grantPassword(ctx context.Context, r *http.Request, client *store.Client, f form) (*tokenResponse, error) {
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

func (f form) has(name string) bool { _, ok := f[name]; return ok }

// acquireHashSlot waits for one of the password-hashing slots. Each argon2id verification
// takes a core and tens of MiB for tens of milliseconds; running more of them at once than
// there are cores only adds memory churn and garbage collection, so the rest wait here.
func (p *Provider) acquireHashSlot(ctx context.Context) error {
	select {
	case p.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &Error{Code: ErrTemporarilyUnavailable, Description: "the request was cancelled while waiting to check the password"}
	}
}

func (p *Provider) releaseHashSlot() { <-p.hashSlots }

// errBadCredentials is the one answer to a failed login, whatever failed, so that it does
// not tell whether the user exists.
var errBadCredentials = newError(ErrInvalidGrant, "invalid username or password")

// checkPassword verifies a login, counting failures in the database so that every replica
// agrees on lockouts. Failures count against the user once the login names one, whichever
// of its spellings was typed, and against the typed login otherwise (store.UserLockoutKey,
// store.LoginLockoutKey). A successful login stores the password's hash anew when it was
// made with other argon2id parameters than the configured ones, in the same transaction
// that forgets the failures: raising the parameters upgrades each hash at its next login.
func (p *Provider) checkPassword(ctx context.Context, login, password string) (*store.User, error) {
	now := p.now()
	user, err := p.store.GetUserByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	key := store.LoginLockoutKey(login)
	if user != nil {
		key = store.UserLockoutKey(user.ID)
	}
	lockedUntil, err := p.store.LoginLockedUntil(ctx, key, now)
	if err != nil {
		return nil, err
	}
	if !lockedUntil.IsZero() {
		return nil, newError(ErrInvalidGrant, "too many failed logins; try again later")
	}
	ok, rehash := false, ""
	if err := p.acquireHashSlot(ctx); err != nil {
		return nil, err
	}
	if user != nil && !user.Disabled {
		ok, err = credentials.VerifyPassword(user.PasswordHash, password)
		if err != nil {
			p.log.ErrorContext(ctx, "stored password hash is unreadable", "user_id", user.ID, "error", err)
			ok = false
		}
		if ok && credentials.NeedsRehash(user.PasswordHash, p.cfg.Password) {
			if rehash, err = credentials.HashPassword(p.cfg.Password, password, p.rand); err != nil {
				// The login stands; the hash is upgraded at a later one.
				p.log.ErrorContext(ctx, "rehash password", "user_id", user.ID, "error", err)
				rehash = ""
			}
		}
	} else {
		credentials.DummyVerify(p.cfg.Password, password)
	}
	p.releaseHashSlot()
	if !ok {
		if _, err := p.store.RecordLoginFailure(ctx, key, now, p.cfg.LockoutFailures, p.cfg.LockoutWindow, p.cfg.LockoutDuration); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	rehashed, err := p.store.LoginSucceeded(ctx, key, user.ID, user.PasswordHash, rehash)
	if err != nil {
		return nil, err
	}
	if rehashed {
		p.log.InfoContext(ctx, "password hash upgraded to the configured argon2id parameters", "user_id", user.ID)
		user.PasswordHash = rehash
	}
	return user, nil
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
				return nil, newError(ErrInvalidGrant, "the user of this grant no longer exists")
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
	return p.issuer.IDToken(claims, alg)
}

// userClaims are the standard claims of the profile and email scopes (OIDC Core 5.4).
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
	return claims
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + sanitizeQuoted(s) + `"`
}
