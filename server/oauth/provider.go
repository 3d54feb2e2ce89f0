/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package oauth implements the OAuth 2.1 and OpenID Connect endpoints: discovery, JWKS,
// authorize (with the login and consent pages), token, revocation, introspection,
// userinfo and logout. Handlers are methods on Provider, which holds every dependency.
package oauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authly-dev/authly-operator/server/admission"
	"github.com/authly-dev/authly-operator/server/clientkeys"
	"github.com/authly-dev/authly-operator/server/settings"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// Paths of the endpoints, as Authly has them so that its clients and docs carry over.
const (
	PathAuthorize     = "/api/v1/oauth/authorize"
	PathToken         = "/api/v1/oauth/token"
	PathRevoke        = "/api/v1/oauth/revoke"
	PathIntrospect    = "/api/v1/oauth/introspect"
	PathUserinfo      = "/oidc/userinfo"
	PathLogout        = "/oidc/logout"
	PathJWKS          = "/.well-known/jwks.json"
	PathOAuthMetadata = "/.well-known/oauth-authorization-server"
	PathOIDCMetadata  = "/.well-known/openid-configuration"
	// PathDeviceAuthorization is the device authorization endpoint (RFC 8628 section
	// 3.1), and PathDevice the verification page people type in: short, as section 3.3
	// advises.
	PathDeviceAuthorization = "/api/v1/oauth/device_authorization"
	PathDevice              = "/device"
)

// Config is the protocol's configuration: the server's protocol settings, with their
// defaults and validation in package settings.
type Config = settings.Protocol

// secureCookies reports whether cookies get the Secure flag: always, unless the issuer is
// plain http on localhost (development).
func secureCookies(issuer string) bool {
	u, _ := url.Parse(issuer)
	return u.Scheme == "https" || !isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// Clients looks clients up; the server passes an in-memory cache in front of the store.
type Clients interface {
	Client(ctx context.Context, clientID string) (*store.Client, error)
}

// Revocations answers whether an access token was revoked: by id (deny-list) or because its
// client or user has a cutoff later than the token's issue time.
type Revocations interface {
	Revoked(jti, clientID, subject string, issuedAt time.Time) bool
}

// LocalDenier is implemented by Revocations that take a revocation in at once. Other
// replicas learn of a revocation through the store's notification; the replica that
// revoked the token must not accept it meanwhile.
type LocalDenier interface {
	Deny(jti string, expiresAt time.Time)
}

// AccessVerifier checks an access token's signature, issuer and expiry.
type AccessVerifier interface {
	VerifyAccessToken(token string) (*tokens.VerifiedAccess, error)
}

// Hooks observe protocol outcomes (metrics). Any of them may be nil.
type Hooks struct {
	// TokenIssued reports a token endpoint outcome: grant type and "success" or the error code.
	TokenOperation func(operation, grantType, result string)
	// Authorization reports an authorization outcome: client type and success/denied/error.
	Authorization func(clientType, result string)
	// RefreshReuse reports a rotated refresh token presented again: ReuseGrace when it
	// rotated again within the reuse interval, ReuseRevokedFamily when its family was
	// revoked.
	RefreshReuse func(outcome string)
	// DatabaseUnavailable reports an answer refused (503, or temporarily_unavailable
	// redirected to the client) because the database cannot be reached, by endpoint path.
	DatabaseUnavailable func(endpoint string)
	// SignatureWait reports how long a token request waited for a signing slot (zero when
	// one was free).
	SignatureWait func(time.Duration)
}

// Outcomes of Hooks.RefreshReuse.
const (
	ReuseGrace         = "grace"
	ReuseRevokedFamily = "revoked_family"
)

// ClientLimiter limits token requests per client. The token endpoint asks it once the
// client is authenticated, so that nobody spends another client's budget.
type ClientLimiter interface {
	AllowClient(clientID string) (ok bool, retryAfter time.Duration)
}

// UserCodeLimiter bounds the guessing of user codes on the device verification page
// across all source addresses (the page is limited per address like the login page).
type UserCodeLimiter interface {
	// AllowUserCode is asked before a user code is looked up.
	AllowUserCode() (ok bool, retryAfter time.Duration)
	// UserCodeMissed records a user code that matched no request.
	UserCodeMissed()
}

// Deps are the Provider's dependencies.
type Deps struct {
	Config Config
	// Store is the database; the server passes *store.Store.
	Store       Store
	Clients     Clients
	Keys        *tokens.KeySet
	Verifier    AccessVerifier
	Revocations Revocations
	Log         *slog.Logger
	Clock       func() time.Time
	Rand        io.Reader
	Hooks       Hooks
	// Limiter, when set, limits the token endpoint per client.
	Limiter ClientLimiter
	// UserCodes, when set, bounds user-code guessing on the device verification page.
	UserCodes UserCodeLimiter
	// ClientKeys fetches the jwks_uri of private_key_jwt clients; nil builds one from
	// Config (its allowed hosts, defaults otherwise).
	ClientKeys *clientkeys.Fetcher
	// Federation, when set, holds the keys of federated issuers, for clients that
	// authenticate with a Kubernetes ServiceAccount token; nil refuses such tokens.
	Federation FederatedKeys
	// CSRFKey (at least CSRFKeyLen bytes) keys the login, consent and logout forms' CSRF
	// tokens; every replica needs the same one. Empty: a random key of this process, for a
	// single replica (development).
	CSRFKey []byte
}

// Provider serves the OAuth and OIDC endpoints.
type Provider struct {
	cfg      Config
	store    Store
	clients  Clients
	keys     *tokens.KeySet
	issuer   *tokens.Issuer
	verifier AccessVerifier
	revoked  Revocations
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
	hooks    Hooks
	limiter  ClientLimiter
	// userCodes bounds user-code guessing; nil: no bound beyond the middleware's.
	userCodes UserCodeLimiter
	// federation: the keys of federated issuers; nil when there are none.
	federation FederatedKeys
	pages      *pages
	// clientKeys fetches and caches private_key_jwt clients' jwks_uris.
	clientKeys *clientkeys.Fetcher
	// hashSlots bounds concurrent password verifications to the cores there are.
	hashSlots chan struct{}
	// signing admits the token signatures in arrival order, GOMAXPROCS at a time.
	signing *admission.Queue

	csrfKey []byte
	// origin is the issuer's origin, which the browser names in Origin on our own forms.
	origin string
	// Names of the session and login-binding cookies (__Host- prefixed over https).
	sessionCookie, csrfCookie string

	// The discovery documents, by whether they advertise the password grant.
	oauthMetadata map[bool][]byte
	oidcMetadata  map[bool][]byte
	// The last answer to whether a client has the password grant, and (Unix ns) when to
	// ask again after a failure to read it.
	passwordGrantSeen atomic.Bool
	grantTypeRetryAt  atomic.Int64
}

// New builds a Provider.
func New(d Deps) (*Provider, error) {
	if err := d.Config.SetDefaults(); err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	if d.Store == nil || d.Keys == nil || d.Clients == nil || d.Revocations == nil {
		return nil, errors.New("oauth: Store, Keys, Clients and Revocations are required")
	}
	p := &Provider{
		cfg: d.Config, store: d.Store, clients: d.Clients, keys: d.Keys,
		revoked: d.Revocations, log: d.Log, now: d.Clock, rand: d.Rand, hooks: d.Hooks,
		limiter: d.Limiter, userCodes: d.UserCodes, clientKeys: d.ClientKeys, federation: d.Federation, hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		signing: admission.New(runtime.GOMAXPROCS(0), d.Hooks.SignatureWait),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.clientKeys == nil {
		var err error
		if p.clientKeys, err = clientkeys.New(clientkeys.Config{AllowedHosts: p.cfg.ClientKeysAllowedHosts}); err != nil {
			return nil, fmt.Errorf("oauth: %s: %w", settings.FlagClientKeysAllowedHosts, err)
		}
	}
	switch {
	case len(d.CSRFKey) == 0:
		p.csrfKey = make([]byte, CSRFKeyLen)
		if _, err := io.ReadFull(p.rand, p.csrfKey); err != nil {
			return nil, fmt.Errorf("oauth: CSRF key: %w", err)
		}
	case len(d.CSRFKey) < CSRFKeyLen:
		return nil, fmt.Errorf("oauth: the CSRF key has %d bytes, want at least %d", len(d.CSRFKey), CSRFKeyLen)
	default:
		p.csrfKey = bytes.Clone(d.CSRFKey)
	}
	p.origin = issuerOrigin(p.cfg.Issuer)
	p.sessionCookie, p.csrfCookie = sessionCookieName, csrfCookieName
	if strings.HasPrefix(p.cfg.Issuer, "https://") {
		p.sessionCookie, p.csrfCookie = hostCookiePrefix+sessionCookieName, hostCookiePrefix+csrfCookieName
	}
	p.issuer = &tokens.Issuer{Issuer: p.cfg.Issuer, Keys: d.Keys, Clock: p.now, Rand: p.rand}
	p.verifier = d.Verifier
	if p.verifier == nil {
		p.verifier = &tokens.Verifier{Issuer: p.cfg.Issuer, Keys: d.Keys, Clock: p.now, Leeway: 30 * time.Second}
	}
	var err error
	if p.pages, err = newPages(); err != nil {
		return nil, err
	}
	if err := p.buildMetadata(); err != nil {
		return nil, err
	}
	return p, nil
}

// Register adds the endpoints to mux.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathOAuthMetadata, p.serveOAuthMetadata)
	mux.HandleFunc("GET "+PathOIDCMetadata, p.serveOIDCMetadata)
	mux.HandleFunc("GET "+PathJWKS, p.serveJWKS)
	// The endpoints that may need the database count the answers they refuse while it
	// is unreachable; discovery and JWKS are served from memory.
	mux.HandleFunc("GET "+PathAuthorize, p.track(PathAuthorize, p.authorize))
	mux.HandleFunc("POST "+PathAuthorize, p.track(PathAuthorize, p.authorize))
	mux.HandleFunc("POST "+PathToken, p.track(PathToken, p.token))
	mux.HandleFunc("POST "+PathRevoke, p.track(PathRevoke, p.revoke))
	mux.HandleFunc("POST "+PathIntrospect, p.track(PathIntrospect, p.introspect))
	mux.HandleFunc("GET "+PathUserinfo, p.track(PathUserinfo, p.userinfo))
	mux.HandleFunc("POST "+PathUserinfo, p.track(PathUserinfo, p.userinfo))
	mux.HandleFunc("GET "+PathLogout, p.track(PathLogout, p.logout))
	mux.HandleFunc("POST "+PathLogout, p.track(PathLogout, p.logout))
	mux.HandleFunc("POST "+PathDeviceAuthorization, p.track(PathDeviceAuthorization, p.deviceAuthorization))
	mux.HandleFunc("GET "+PathDevice, p.track(PathDevice, p.device))
	mux.HandleFunc("POST "+PathDevice, p.track(PathDevice, p.device))
}

func (p *Provider) tokenOp(operation, grant, result string) {
	if p.hooks.TokenOperation != nil {
		p.hooks.TokenOperation(operation, grant, result)
	}
}

func (p *Provider) refreshReuse(outcome string) {
	if p.hooks.RefreshReuse != nil {
		p.hooks.RefreshReuse(outcome)
	}
}

func (p *Provider) authorizationOutcome(clientType store.ClientType, result string) {
	if p.hooks.Authorization != nil {
		p.hooks.Authorization(string(clientType), result)
	}
}

// errorCode is a metric label for an outcome: "success" or the OAuth error code.
func errorCode(err error) string {
	if err == nil {
		return "success"
	}
	return asError(err).Code
}
