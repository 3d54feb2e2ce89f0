/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package registry validates and registers clients, scopes and users. The admin CLI, the
// admin API and the operator all go through it, so a client is judged by the same rules
// wherever it comes from.
package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/clientkeys"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// FieldError names the field that is wrong, so that every caller can point at it.
type FieldError struct {
	Field  string
	Reason string
	// Err is the store error behind the problem, if any (store.ErrConflict for a name that
	// is taken), so that callers can tell "invalid" from "exists already" with errors.Is.
	Err error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return e.Err }

// Grant types and auth methods a client may register.
var (
	GrantTypes = []string{"authorization_code", "refresh_token", "client_credentials", "password",
		"urn:ietf:params:oauth:grant-type:device_code"}
	AuthMethods = []string{"client_secret_basic", "client_secret_post", PrivateKeyJWT, "none", AuthServiceAccountJWT}
)

// PrivateKeyJWT is the auth method of a client that authenticates with a JWT signed by
// its private key (RFC 7523 section 2.2): it registers public keys, inline (jwks) or by
// URL (jwks_uri), and has no secret.
const PrivateKeyJWT = "private_key_jwt"

// maxJWKSURILen bounds a jwks_uri.
const maxJWKSURILen = 2048

// AuthServiceAccountJWT is the auth method of a client that authenticates with a token of
// a federated issuer (a Kubernetes ServiceAccount token) instead of a secret.
const AuthServiceAccountJWT = "service_account_jwt"

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{3,128}$`)

// NormalizeClient fills defaults into c and checks it. Every problem is reported, joined,
// each as a *FieldError.
func NormalizeClient(c *store.Client) error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if c.ID != "" && !clientIDPattern.MatchString(c.ID) {
		bad("client_id", "must be 3 to 128 characters of [A-Za-z0-9._~-]")
	}
	if c.Type == "" {
		c.Type = store.Confidential
	}
	if c.Type != store.Confidential && c.Type != store.Public {
		bad("client_type", "must be confidential or public, not %q", c.Type)
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = "client_secret_basic"
		switch {
		case c.Type == store.Public:
			c.TokenEndpointAuthMethod = "none"
		case c.FederatedSubject != "":
			c.TokenEndpointAuthMethod = AuthServiceAccountJWT
		}
	}
	if !contains(AuthMethods, c.TokenEndpointAuthMethod) {
		bad("token_endpoint_auth_method", "must be one of %s", strings.Join(AuthMethods, ", "))
	} else if (c.Type == store.Public) != (c.TokenEndpointAuthMethod == "none") {
		bad("token_endpoint_auth_method", "a public client authenticates with none and has no secret; a confidential one uses a secret")
	}
	checkFederated(c, bad)
	if len(c.GrantTypes) == 0 {
		bad("grant_types", "at least one grant type is required")
	}
	for i, g := range c.GrantTypes {
		if !contains(GrantTypes, g) {
			bad(fmt.Sprintf("grant_types[%d]", i), "unsupported grant type %q (one of %s)", g, strings.Join(GrantTypes, ", "))
		}
	}
	if c.Type == store.Public && contains(c.GrantTypes, "client_credentials") {
		bad("grant_types", "a public client cannot use client_credentials")
	}
	if contains(c.GrantTypes, "authorization_code") {
		c.ResponseTypes = []string{"code"}
		if len(c.RedirectURIs) == 0 {
			bad("redirect_uris", "required for the authorization_code grant")
		}
	} else {
		c.ResponseTypes = nil
	}
	for i, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			bad(fmt.Sprintf("redirect_uris[%d]", i), "%v", err)
		}
	}
	for i, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			bad(fmt.Sprintf("post_logout_redirect_uris[%d]", i), "%v", err)
		}
	}
	for i, s := range c.Scopes {
		if !ValidScopeName(s) {
			bad(fmt.Sprintf("scopes[%d]", i), "%q is not a valid scope token", s)
		}
	}
	switch c.IDTokenSignedResponseAlg {
	case "", "RS256", "ES256":
	default:
		bad("id_token_signed_response_alg", "must be RS256 or ES256")
	}
	errs = append(errs, checkClientKeys(c)...)
	return errors.Join(errs...)
}

// checkClientKeys checks the public keys of a private_key_jwt client: exactly one of
// jwks (a JWK Set of public signature keys, see clientkeys.Parse) and jwks_uri (an https
// URL), and neither for a client that authenticates otherwise.
func checkClientKeys(c *store.Client) []error {
	hasSet, hasURI := len(c.JWKS) > 0, c.JWKSURI != ""
	if c.TokenEndpointAuthMethod != PrivateKeyJWT {
		if hasSet || hasURI {
			return []error{&FieldError{Field: "jwks", Reason: "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt only"}}
		}
		return nil
	}
	switch {
	case hasSet && hasURI:
		return []error{&FieldError{Field: "jwks_uri", Reason: "give jwks or jwks_uri, not both"}}
	case hasSet:
		if _, err := clientkeys.Parse(c.JWKS); err != nil {
			return []error{&FieldError{Field: "jwks", Reason: strings.TrimPrefix(err.Error(), clientkeys.ErrInvalidSet.Error()+": "), Err: err}}
		}
	case hasURI:
		if len(c.JWKSURI) > maxJWKSURILen {
			return []error{&FieldError{Field: "jwks_uri", Reason: fmt.Sprintf("is longer than %d bytes", maxJWKSURILen)}}
		}
		if err := clientkeys.CheckURI(c.JWKSURI); err != nil {
			return []error{&FieldError{Field: "jwks_uri", Reason: "must be an absolute https URL without credentials or fragment", Err: err}}
		}
	default:
		return []error{&FieldError{Field: "jwks", Reason: "a private_key_jwt client registers its public keys: jwks or jwks_uri"}}
	}
	return nil
}

// checkFederated applies the rules of a client that authenticates with a federated
// subject's token: it is confidential, names the issuer and the subject, and has no secret.
func checkFederated(c *store.Client, bad func(field, format string, a ...any)) {
	federated := c.FederatedSubject != "" || c.FederatedIssuer != ""
	switch {
	case c.TokenEndpointAuthMethod == AuthServiceAccountJWT && !federated:
		bad("federated_subject", "required with token_endpoint_auth_method %s, with federated_issuer", AuthServiceAccountJWT)
	case federated && c.TokenEndpointAuthMethod != AuthServiceAccountJWT:
		bad("token_endpoint_auth_method", "must be %s for a client with a federated subject", AuthServiceAccountJWT)
	case !federated:
		return
	}
	if c.FederatedSubject == "" || c.FederatedIssuer == "" {
		bad("federated_subject", "federated_subject and federated_issuer go together")
	}
	if u, err := url.Parse(c.FederatedIssuer); c.FederatedIssuer != "" && (err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "") {
		bad("federated_issuer", "must be an https URL")
	}
	for _, v := range []struct{ field, value string }{{"federated_subject", c.FederatedSubject}, {"service_account_uid", c.ServiceAccountUID}} {
		if len(v.value) > 512 || strings.ContainsFunc(v.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			bad(v.field, "must be at most 512 characters without control characters")
		}
	}
	if len(c.SecretHash) > 0 || len(c.PreviousSecretHash) > 0 {
		bad("token_endpoint_auth_method", "a client that authenticates with a federated token has no secret")
	}
}

// checkRedirectURI applies OAuth 2.1 section 2.3: absolute, no fragment; https, or http on
// a loopback address, or a private-use scheme for native apps.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not contain a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" && !strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("%q: http is allowed only for loopback addresses", raw)
		}
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("%q: scheme %s is not allowed", raw, u.Scheme)
	}
	return nil
}

// ValidScopeName reports whether s is a scope-token (RFC 6749 section 3.3).
func ValidScopeName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Registry registers clients, scopes and users in one database.
type Registry struct {
	Store *store.Store
	Rand  io.Reader
	Clock func() time.Time
	// Password parameters for new user passwords.
	Password credentials.PasswordParams
}

func (r *Registry) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

func (r *Registry) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// CreateClient registers a new client, generating its id when empty and, for confidential
// clients that authenticate with a secret, that secret, which is returned once and stored
// only as a hash. A private_key_jwt client gets no secret: it signs with its own key.
func (r *Registry) CreateClient(ctx context.Context, c *store.Client) (secret string, err error) {
	if err := NormalizeClient(c); err != nil {
		return "", err
	}
	if c.ID == "" {
		if c.ID, err = NewClientID(r.rand()); err != nil {
			return "", err
		}
	}
	if c.Type == store.Confidential && c.TokenEndpointAuthMethod != PrivateKeyJWT && c.TokenEndpointAuthMethod != AuthServiceAccountJWT {
		if secret, err = credentials.NewClientSecret(r.rand()); err != nil {
			return "", err
		}
		c.SecretHash = credentials.HashSecret(secret)
	} else {
		c.SecretHash = nil
	}
	if err := r.Store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", &FieldError{Field: "client_id", Reason: fmt.Sprintf("client %q exists already", c.ID), Err: err}
		}
		return "", err
	}
	return secret, nil
}

// UpdateClient replaces the registration of the existing client c.ID, leaving its secrets
// and its owner (ManagedBy) alone, except that a client that moves to private_key_jwt
// loses its secrets (moving back, it needs RotateSecret for a new one). A client cannot
// change its type: that would take away or need a secret. store.ErrNotFound when there is
// no such client.
func (r *Registry) UpdateClient(ctx context.Context, c *store.Client) error {
	old, err := r.Store.GetClient(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := NormalizeClient(c); err != nil {
		return err
	}
	if old.Type != c.Type {
		return &FieldError{Field: "client_type", Reason: fmt.Sprintf("is %s and cannot change; delete the client and register it again", old.Type)}
	}
	c.ManagedBy = old.ManagedBy
	if err := r.Store.UpdateClient(ctx, c); err != nil {
		return err
	}
	if (c.TokenEndpointAuthMethod == PrivateKeyJWT || c.TokenEndpointAuthMethod == AuthServiceAccountJWT) && (len(old.SecretHash) > 0 || len(old.PreviousSecretHash) > 0) {
		return r.Store.SetClientSecret(ctx, c.ID, nil, time.Time{})
	}
	return nil
}

// RotateSecret gives a confidential client a new secret; the old one keeps working for
// grace (zero: not at all).
func (r *Registry) RotateSecret(ctx context.Context, clientID string, grace time.Duration) (string, error) {
	c, err := r.Store.GetClient(ctx, clientID)
	if err != nil {
		return "", err
	}
	if c.Type != store.Confidential {
		return "", &FieldError{Field: "client_id", Reason: "a public client has no secret"}
	}
	if c.TokenEndpointAuthMethod == PrivateKeyJWT {
		return "", &FieldError{Field: "client_id", Reason: "a private_key_jwt client has no secret: it authenticates with its own key"}
	}
	if c.TokenEndpointAuthMethod == AuthServiceAccountJWT {
		return "", &FieldError{Field: "client_id", Reason: "the client authenticates with a ServiceAccount token and has no secret"}
	}
	secret, err := credentials.NewClientSecret(r.rand())
	if err != nil {
		return "", err
	}
	var until time.Time
	if grace > 0 {
		until = r.now().Add(grace)
	}
	if err := r.Store.SetClientSecret(ctx, clientID, credentials.HashSecret(secret), until); err != nil {
		return "", err
	}
	return secret, nil
}

// NewClientID returns a random client id (128 bits, hex).
func NewClientID(rnd io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}

// CreateScope registers a scope.
func (r *Registry) CreateScope(ctx context.Context, s *store.Scope) error {
	if !ValidScopeName(s.Name) {
		return &FieldError{Field: "name", Reason: fmt.Sprintf("%q is not a valid scope token", s.Name)}
	}
	if err := r.Store.CreateScope(ctx, s); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &FieldError{Field: "name", Reason: fmt.Sprintf("scope %q exists already", s.Name), Err: err}
		}
		return err
	}
	return nil
}

// UpdateScope replaces the description and default flag of the existing scope s.Name,
// keeping its owner (ManagedBy). store.ErrNotFound when there is no such scope.
func (r *Registry) UpdateScope(ctx context.Context, s *store.Scope) error {
	old, err := r.Store.GetScope(ctx, s.Name)
	if err != nil {
		return err
	}
	s.ManagedBy = old.ManagedBy
	return r.Store.UpdateScope(ctx, s)
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,128}$`)

// CheckUser checks a user's profile fields, reporting each problem as a *FieldError.
func CheckUser(u *store.User) error {
	var errs []error
	if !usernamePattern.MatchString(u.Username) {
		errs = append(errs, &FieldError{Field: "username", Reason: "must be 1 to 128 characters of [A-Za-z0-9._@+-]"})
	}
	if u.Email != "" && (!strings.Contains(u.Email, "@") || strings.ContainsAny(u.Email, " \t\r\n")) {
		errs = append(errs, &FieldError{Field: "email", Reason: "is not an email address"})
	}
	errs = append(errs, CheckGroups(u.Groups))
	return errors.Join(errs...)
}

// MaxGroups is how many groups a user may have. Each goes into every ID token of the
// groups scope, and ID tokens travel in headers (kube-apiserver reads them from
// Authorization), so the list is kept well under common header limits.
const MaxGroups = 64

// groupPattern is a group name: 1 to 128 printable ASCII characters without spaces,
// starting with a letter or digit. The punctuation allowed covers the usual conventions
// (team.dev, org/team, dev:readers, ops@example.com) and nothing a relying party's
// claim mapping or an RBAC subject would have to escape; no control characters.
var groupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$`)

// CheckGroups checks a user's groups: at most MaxGroups, each a valid name, no repeats.
// Each problem is a *FieldError on groups or groups[i].
func CheckGroups(groups []string) error {
	if len(groups) > MaxGroups {
		return &FieldError{Field: "groups", Reason: fmt.Sprintf("at most %d groups, got %d", MaxGroups, len(groups))}
	}
	var errs []error
	seen := make(map[string]bool, len(groups))
	for i, g := range groups {
		field := fmt.Sprintf("groups[%d]", i)
		switch {
		case !groupPattern.MatchString(g):
			errs = append(errs, &FieldError{Field: field, Reason: "must be 1 to 128 characters of [A-Za-z0-9._:@/+-], starting with a letter or digit"})
		case seen[g]:
			errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf("%q is listed twice", g)})
		}
		seen[g] = true
	}
	return errors.Join(errs...)
}

// SetUserGroups replaces the user's groups. The tokens already issued keep the groups
// they carry until they expire; the next one issued has the new list. store.ErrNotFound
// when there is no such user.
func (r *Registry) SetUserGroups(ctx context.Context, userID string, groups []string) (time.Time, error) {
	if err := CheckGroups(groups); err != nil {
		return time.Time{}, err
	}
	updated, err := r.Store.SetUserGroups(ctx, userID, groups)
	if err != nil {
		return time.Time{}, fmt.Errorf("registry: set the groups of user %s: %w", userID, err)
	}
	return updated, nil
}

// userTaken is the answer to a username or email that another user has.
func userTaken(err error) error {
	return &FieldError{Field: "username", Reason: "a user with that username or email exists already", Err: err}
}

// CreateUser registers a user with a password (hashed with argon2id).
func (r *Registry) CreateUser(ctx context.Context, u *store.User, password string) error {
	if err := errors.Join(CheckUser(u), CheckPassword(password)); err != nil {
		return err
	}
	hash, err := r.hashPassword(password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	if err := r.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return userTaken(err)
		}
		return err
	}
	return nil
}

// UpdateUser writes the user's profile, Disabled, Admin and Groups (never the password).
// store.ErrNotFound when there is no such user.
func (r *Registry) UpdateUser(ctx context.Context, u *store.User) error {
	if err := CheckUser(u); err != nil {
		return err
	}
	if err := r.Store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return userTaken(err)
		}
		return err
	}
	return nil
}

// ResetPassword gives the user a new password and ends everything the old one opened:
// their login sessions, refresh tokens, codes and access tokens. store.ErrNotFound when
// there is no such user.
func (r *Registry) ResetPassword(ctx context.Context, userID, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := r.hashPassword(password)
	if err != nil {
		return err
	}
	if err := r.Store.SetUserPassword(ctx, userID, hash); err != nil {
		return err
	}
	_, err = r.EndUserSessions(ctx, userID)
	return err
}

// EndUserSessions signs the user out everywhere: their login sessions end and every
// token issued to them so far is revoked. It returns how many sessions ended.
func (r *Registry) EndUserSessions(ctx context.Context, userID string) (int64, error) {
	n, err := r.Store.DeleteUserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	return n, r.Store.RevokeUserTokens(ctx, userID, r.now())
}

func (r *Registry) hashPassword(password string) (string, error) {
	p := r.Password
	if p.Memory == 0 {
		p = credentials.DefaultPasswordParams
	}
	return credentials.HashPassword(p, password, r.rand())
}

// CheckPassword applies the password policy: at least 8 characters, at most 1024 bytes
// (the bound on what argon2id is asked to hash).
func CheckPassword(password string) error {
	if n := len([]rune(password)); n < 8 || len(password) > 1024 {
		return &FieldError{Field: "password", Reason: "must be 8 to 1024 characters"}
	}
	return nil
}
