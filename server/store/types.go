/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"errors"
	"time"
)

// Errors returned by the store. Callers compare with errors.Is.
var (
	// ErrNotFound: no row with that key (or, for single-use tokens, none that is usable).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a row with that key exists already.
	ErrConflict = errors.New("store: already exists")
	// ErrAlreadyUsed: an authorization code or refresh token was redeemed before.
	ErrAlreadyUsed = errors.New("store: already used")
	// ErrExpired: the code or token exists but its lifetime is over.
	ErrExpired = errors.New("store: expired")
	// ErrMismatch: the code or token exists but belongs to another client, another
	// redirect URI, or its PKCE challenge does not match.
	ErrMismatch = errors.New("store: does not match")
	// ErrScopeNotAllowed: a refresh asked for scopes the token was not granted.
	ErrScopeNotAllowed = errors.New("store: scope wider than granted")
	// ErrLocked: the account is locked after too many failed logins.
	ErrLocked = errors.New("store: locked")
	// ErrInvalid: the caller passed a value the schema rejects (an unknown client type, a
	// refresh token without a family, a malformed id for a new row...).
	ErrInvalid = errors.New("store: invalid value")
	// ErrInvalidInput: Postgres refused a value as data (SQLSTATE class 22: a NUL byte,
	// invalid UTF-8, a number out of range...). Such values come from a request the edge
	// should have refused; callers answer it as a client error, never as a 500.
	ErrInvalidInput = errors.New("store: invalid input")
	// ErrUnavailable: the database cannot be reached or does not accept work now (connection
	// refused or lost, shutting down or starting up, too many connections, a timeout).
	// The operation may succeed later; callers answer 503 and ask the client to retry.
	ErrUnavailable = errors.New("store: database unavailable")
)

// ClientType says whether a client can keep a secret.
type ClientType string

// Client types (RFC 6749 section 2.1).
const (
	Confidential ClientType = "confidential"
	Public       ClientType = "public"
)

// Client is a registered OAuth client. Secrets are never stored, only their SHA-256.
type Client struct {
	ID                      string // client_id
	Name                    string
	Type                    ClientType
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string // authorization_code, refresh_token, client_credentials, password, urn:ietf:params:oauth:grant-type:device_code
	ResponseTypes           []string // code
	Scopes                  []string // scopes the client may ask for
	TokenEndpointAuthMethod string   // client_secret_basic, client_secret_post, private_key_jwt, none
	FirstParty              bool     // skips the consent page
	// IDTokenSignedResponseAlg is RS256 (default) or ES256.
	IDTokenSignedResponseAlg string
	// SecretHash is SHA-256 of the current secret; empty for public clients.
	SecretHash []byte
	// PreviousSecretHash stays valid until PreviousSecretExpiresAt (secret rotation).
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	// JWKS is the JWK Set (JSON) of the public keys a private_key_jwt client signs its
	// assertions with; JWKSURI is where the server fetches that set instead. At most one
	// is set, and neither for other clients (registry.NormalizeClient checks both).
	JWKS    []byte
	JWKSURI string
	// ManagedBy names who owns the row, e.g. "k8s:team-a/web" for the operator; empty for
	// clients created by hand. It lets the operator tell its rows from others'.
	ManagedBy string
	// FederatedIssuer and FederatedSubject, when set, let the client authenticate with a
	// JWT that issuer signed for that subject (a Kubernetes ServiceAccount token: subject
	// system:serviceaccount:<namespace>:<name>) instead of a secret; the issuer's keys are
	// a FederatedIssuer row. ServiceAccountUID is the ServiceAccount's uid the token must
	// name; empty refuses every token (the ServiceAccount does not exist).
	FederatedIssuer   string
	FederatedSubject  string
	ServiceAccountUID string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// HasGrantType reports whether the client may use the grant.
func (c *Client) HasGrantType(grant string) bool { return contains(c.GrantTypes, grant) }

// Scope is an OAuth scope the server knows.
type Scope struct {
	Name        string
	Description string
	// Default scopes are granted when a request names none.
	Default   bool
	ManagedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// User is a resource owner who logs in on the login page.
type User struct {
	ID            string // UUID, the `sub` claim
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	PasswordHash  string // argon2id in PHC string form
	Disabled      bool
	// Admin users may get the admin:* scopes.
	Admin bool
	// Groups are the user's groups, the `groups` claim of the groups scope (registry
	// checks the names). Never nil when read from the store.
	Groups    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CutoffKind says what a Cutoff applies to.
type CutoffKind string

// Cutoff kinds.
const (
	CutoffClient CutoffKind = "client"
	CutoffUser   CutoffKind = "user"
)

// Cutoff revokes every access token of a client or a user issued before NotBefore
// (RFC 9068 tokens are stateless; this is how "revoke all of them" reaches them).
type Cutoff struct {
	Kind      CutoffKind
	Subject   string // client_id or user id
	NotBefore time.Time
}

// Change is what a write announces to every replica over NOTIFY, so that caches drop the
// entry. Kind is one of the Change* constants; Key is the client_id, scope name, kid, jti
// or "kind:subject" of a cutoff.
type Change struct {
	Kind string
	Key  string
}

// Change kinds. ChangeReset means "the listener (re)connected: drop every cache".
const (
	ChangeClient  = "client"
	ChangeScope   = "scope"
	ChangeKey     = "key"
	ChangeRevoked = "revoked"
	ChangeCutoff  = "cutoff"
	ChangeUser    = "user"
	ChangeReset   = "reset"
	// ChangeFederatedIssuer: a federated issuer's keys changed; Key is the issuer.
	ChangeFederatedIssuer = "federated_issuer"
)

// NotifyChannel is the Postgres channel that carries Changes as "kind:key".
const NotifyChannel = "authly_changes"

// AuthorizationCode is an issued code, kept by the SHA-256 of its value.
type AuthorizationCode struct {
	Hash          []byte
	ClientID      string
	UserID        string
	RedirectURI   string
	Scopes        []string
	Nonce         string
	CodeChallenge string // S256 challenge (base64url)
	AuthTime      time.Time
	ExpiresAt     time.Time
	CreatedAt     time.Time
	// Set when redeemed: the tokens it produced, so that a second redemption revokes them.
	UsedAt          time.Time
	AccessTokenJTI  string
	AccessExpiresAt time.Time
	RefreshFamilyID string
	// User is set by RedeemAuthorizationCode for a code granted openid: the code's user as
	// the redemption read it, for the ID token's claims, without its password hash. Nil
	// when the user no longer exists.
	User *User
}

// RefreshToken is an issued refresh token, kept under the key credentials.StorageKey
// makes of its value (its issue time and SHA-256). All tokens rotated from one grant
// share a FamilyID; reuse of a rotated one revokes the family.
type RefreshToken struct {
	Hash       []byte
	FamilyID   string
	ParentHash []byte
	ClientID   string
	UserID     string // empty for client_credentials (never issued) and service tokens
	Scopes     []string
	AuthTime   time.Time
	// AccessTokenJTI is the access token issued with this refresh token, deny-listed when
	// the family is revoked.
	AccessTokenJTI  string
	AccessExpiresAt time.Time
	ExpiresAt       time.Time
	CreatedAt       time.Time
	UsedAt          time.Time
	RevokedAt       time.Time
}

// RevokedToken is a deny-listed access token id, kept until the token would expire anyway.
type RevokedToken struct {
	JTI       string
	ExpiresAt time.Time
}

// KeyState is where a signing key is in its life.
type KeyState string

// Key states. A key is published in the JWKS as `next` before it signs, signs while
// `active`, and stays published as `retired` until the tokens it signed have expired.
const (
	KeyNext    KeyState = "next"
	KeyActive  KeyState = "active"
	KeyRetired KeyState = "retired"
)

// SigningKey is a private key in the database. PrivateKey is PKCS#8 DER, encrypted with
// the key encryption key when Encrypted is set.
type SigningKey struct {
	KID        string
	Algorithm  string // ES256, RS256
	PrivateKey []byte
	Encrypted  bool
	State      KeyState
	CreatedAt  time.Time
	// RetireAfter: a retired key may be deleted after this time.
	RetireAfter time.Time
}

// Session is a browser login session, kept by the SHA-256 of the cookie value.
type Session struct {
	Hash      []byte
	UserID    string
	AuthTime  time.Time
	ExpiresAt time.Time
	CreatedAt time.Time
	UserAgent string
	RemoteIP  string
}

// Page asks for one page of a list ordered by key: at most Limit rows after key After.
type Page struct {
	Limit int
	After string
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
