/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"encoding/json"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// The JSON documents of the admin API. Field names are those of OAuth dynamic client
// registration (RFC 7591) where it has one; the scopes a client may request are the array
// "scopes" (RFC 7591's space-separated "scope" string is not accepted, so that there is
// one spelling). Views carry no secret hash, ever; a client secret appears only in the
// answer that created it.

// Client is an OAuth client as the API shows it.
type Client struct {
	ClientID string `json:"client_id"`
	// ClientSecret is set only in the answer to POST /admin/clients and to a secret
	// rotation: it is never stored, and cannot be shown again.
	ClientSecret             string   `json:"client_secret,omitempty"`
	ClientName               string   `json:"client_name"`
	ClientType               string   `json:"client_type"`
	RedirectURIs             []string `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris"`
	GrantTypes               []string `json:"grant_types"`
	ResponseTypes            []string `json:"response_types"`
	Scopes                   []string `json:"scopes"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	// JWKS (a JWK Set) or JWKSURI hold the public keys of a private_key_jwt client.
	JWKS       json.RawMessage `json:"jwks,omitempty"`
	JWKSURI    string          `json:"jwks_uri,omitempty"`
	FirstParty bool            `json:"first_party"`
	ManagedBy  string          `json:"managed_by,omitempty"`
	// FederatedIssuer, FederatedSubject and ServiceAccountUID: see ClientRequest.
	FederatedIssuer         string     `json:"federated_issuer,omitempty"`
	FederatedSubject        string     `json:"federated_subject,omitempty"`
	ServiceAccountUID       string     `json:"service_account_uid,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// ClientRequest is the body of POST /admin/clients and PUT /admin/clients/{id}. A PUT
// replaces every field (an absent one becomes empty) except the secret. client_type
// defaults to confidential, or to public when token_endpoint_auth_method is none.
type ClientRequest struct {
	// ClientID is generated when empty on create; on update it may be given but must be
	// the one in the path.
	ClientID                 string   `json:"client_id,omitempty"`
	ClientName               string   `json:"client_name,omitempty"`
	ClientType               string   `json:"client_type,omitempty"`
	RedirectURIs             []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes               []string `json:"grant_types,omitempty"`
	Scopes                   []string `json:"scopes,omitempty"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	FirstParty               bool     `json:"first_party,omitempty"`
	// JWKS (a JWK Set of public keys) or JWKSURI (an https URL serving one) is required
	// with token_endpoint_auth_method private_key_jwt, and refused otherwise.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// FederatedIssuer and FederatedSubject let the client authenticate with a JWT of that
	// issuer (stored with POST /admin/federated-issuers) for that subject, such as a
	// Kubernetes ServiceAccount token (subject system:serviceaccount:<namespace>:<name>),
	// instead of a secret; its auth method is then service_account_jwt and it has no
	// secret. ServiceAccountUID is the uid the token's kubernetes.io claim must name.
	FederatedIssuer   string `json:"federated_issuer,omitempty"`
	FederatedSubject  string `json:"federated_subject,omitempty"`
	ServiceAccountUID string `json:"service_account_uid,omitempty"`
}

// SecretRequest is the optional body of POST /admin/clients/{id}/secret: how long the
// current secret keeps working next to the new one. Absent or zero: it stops at once.
type SecretRequest struct {
	GracePeriodSeconds int64 `json:"grace_period_seconds,omitempty"`
}

// Scope is a scope as the API shows it.
type Scope struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Default     bool      `json:"default"`
	ManagedBy   string    `json:"managed_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ScopeRequest is the body of POST /admin/scopes and PUT /admin/scopes/{name}; on PUT the
// name may be left out, and must be the one in the path if given.
type ScopeRequest struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Default     bool   `json:"default,omitempty"`
}

// User is a user as the API shows it; the password hash is never shown.
type User struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	GivenName     string    `json:"given_name"`
	FamilyName    string    `json:"family_name"`
	Disabled      bool      `json:"disabled"`
	Admin         bool      `json:"admin"`
	Groups        []string  `json:"groups"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// UserRequest is the body of POST /admin/users (password required) and PUT
// /admin/users/{id} (every profile field replaced; no password: reset it with POST
// /admin/users/{id}/password).
type UserRequest struct {
	Username      string `json:"username,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Disabled      bool   `json:"disabled,omitempty"`
	Admin         bool   `json:"admin,omitempty"`
	// Groups are the user's groups (the groups claim); on PUT, as every field, they replace
	// the user's, so leaving them out removes the user from every group.
	Groups   []string `json:"groups,omitempty"`
	Password string   `json:"password,omitempty"`
}

// GroupsRequest is the body of PUT /admin/users/{id}/groups: the user's groups, replacing
// theirs ([] removes them from every group).
type GroupsRequest struct {
	Groups []string `json:"groups"`
}

// PasswordRequest is the body of POST /admin/users/{id}/password.
type PasswordRequest struct {
	Password string `json:"password"`
}

// Session is a login session of a user. Its cookie, and the hash of it, are not shown.
type Session struct {
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent,omitempty"`
	RemoteIP  string    `json:"remote_ip,omitempty"`
}

// EndedSessions answers DELETE /admin/users/{id}/sessions.
type EndedSessions struct {
	SessionsEnded int64 `json:"sessions_ended"`
	TokensRevoked bool  `json:"tokens_revoked"`
}

// List is one page of a list. Next is the cursor of the following page (pass it as
// ?after=), empty on the last page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Status answers GET /admin/status.
type Status struct {
	Version               string    `json:"version"`
	SchemaVersion         int       `json:"schema_version"`
	ExpectedSchemaVersion int       `json:"expected_schema_version"`
	Database              string    `json:"database"` // "ok" or "unavailable"
	Counts                *Counts   `json:"counts,omitempty"`
	StartedAt             time.Time `json:"started_at"`
	UptimeSeconds         int64     `json:"uptime_seconds"`
}

// Counts are the numbers of registered clients, users and scopes.
type Counts struct {
	Clients int64 `json:"clients"`
	Users   int64 `json:"users"`
	Scopes  int64 `json:"scopes"`
}

// ViewClient shows c, with secret if it was just generated.
func ViewClient(c *store.Client, secret string) Client {
	v := Client{
		ClientID: c.ID, ClientSecret: secret, ClientName: c.Name, ClientType: string(c.Type),
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes), Scopes: nonNil(c.Scopes),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		FirstParty: c.FirstParty, ManagedBy: c.ManagedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI,
		FederatedIssuer: c.FederatedIssuer, FederatedSubject: c.FederatedSubject, ServiceAccountUID: c.ServiceAccountUID,
	}
	if len(c.PreviousSecretHash) > 0 && !c.PreviousSecretExpiresAt.IsZero() {
		t := c.PreviousSecretExpiresAt
		v.PreviousSecretExpiresAt = &t
	}
	return v
}

// StoreClient is the client the request registers, id and all; validation is the
// registry's.
func (req *ClientRequest) StoreClient() *store.Client {
	c := &store.Client{
		ID: req.ClientID, Name: req.ClientName, Type: store.ClientType(req.ClientType),
		RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		GrantTypes: req.GrantTypes, Scopes: req.Scopes, TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg: req.IDTokenSignedResponseAlg, FirstParty: req.FirstParty,
		FederatedIssuer: req.FederatedIssuer, FederatedSubject: req.FederatedSubject, ServiceAccountUID: req.ServiceAccountUID,
		JWKSURI: req.JWKSURI,
	}
	if len(req.JWKS) > 0 && string(req.JWKS) != "null" {
		c.JWKS = []byte(req.JWKS)
	}
	if c.Type == "" && c.TokenEndpointAuthMethod == "none" {
		// RFC 7591 has no client type: a client that does not authenticate is public.
		c.Type = store.Public
	}
	return c
}

// ViewScope shows s.
func ViewScope(s *store.Scope) Scope {
	return Scope{Name: s.Name, Description: s.Description, Default: s.Default, ManagedBy: s.ManagedBy,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// ViewUser shows u, without its password hash.
func ViewUser(u *store.User) User {
	return User{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Disabled: u.Disabled, Admin: u.Admin,
		Groups: nonNil(u.Groups), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// StoreUser is the user the request describes, with the given id; the password is not
// part of it (the registry hashes it).
func (req *UserRequest) StoreUser(id string) *store.User {
	return &store.User{
		ID: id, Username: req.Username, Email: req.Email, EmailVerified: req.EmailVerified, Name: req.Name,
		GivenName: req.GivenName, FamilyName: req.FamilyName, Disabled: req.Disabled, Admin: req.Admin,
		Groups: req.Groups,
	}
}

// ViewSession shows s, without the hash of its cookie.
func ViewSession(s *store.Session) Session {
	return Session{AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, UserAgent: s.UserAgent, RemoteIP: s.RemoteIP}
}

// nonNil makes empty lists [] rather than null in JSON.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
