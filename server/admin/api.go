/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package admin is the server's JSON REST API under /admin/ for managing clients, scopes
// and users, and the bootstrap of the first admin user. Callers authenticate with a Bearer
// access token of this server that carries the admin:* scope each endpoint names.
package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// The admin scopes: one read and one write scope per kind of thing, and one for status.
const (
	ScopeClientsRead  = "admin:clients:read"
	ScopeClientsWrite = "admin:clients:write"
	ScopeScopesRead   = "admin:scopes:read"
	ScopeScopesWrite  = "admin:scopes:write"
	ScopeUsersRead    = "admin:users:read"
	ScopeUsersWrite   = "admin:users:write"
	ScopeSystemRead   = "admin:system:read"
)

// Scopes are the admin scopes with the descriptions the consent page shows.
var Scopes = []store.Scope{
	{Name: ScopeClientsRead, Description: "Read the OAuth clients registered with this server"},
	{Name: ScopeClientsWrite, Description: "Register, change and delete OAuth clients and regenerate their secrets"},
	{Name: ScopeScopesRead, Description: "Read the scopes defined on this server"},
	{Name: ScopeScopesWrite, Description: "Create, change and delete scopes"},
	{Name: ScopeUsersRead, Description: "Read users and their login sessions"},
	{Name: ScopeUsersWrite, Description: "Create, change and delete users, reset passwords and end sessions"},
	{Name: ScopeSystemRead, Description: "Read the server's status"},
}

// ScopeNames are the names of Scopes.
func ScopeNames() []string {
	names := make([]string, len(Scopes))
	for i, s := range Scopes {
		names[i] = s.Name
	}
	return names
}

// TokenChecker verifies an access token, revocation included; *oauth.Provider is one.
type TokenChecker interface {
	CheckAccessToken(token string) (*tokens.VerifiedAccess, bool)
}

// Deps are what the API works with.
type Deps struct {
	Store    *store.Store
	Registry *registry.Registry
	Tokens   TokenChecker
	Log      *slog.Logger
	// Version is the server's version, shown by GET /admin/status.
	Version string
	Clock   func() time.Time
	// OnDatabaseUnavailable, when set, is told the route of each request refused because
	// the database cannot be reached (metrics).
	OnDatabaseUnavailable func(endpoint string)
}

// API serves the admin endpoints.
type API struct {
	store   *store.Store
	reg     *registry.Registry
	tokens  TokenChecker
	log     *slog.Logger
	version string
	now     func() time.Time
	started time.Time
	// onUnavailable is Deps.OnDatabaseUnavailable.
	onUnavailable func(endpoint string)
}

// New builds the API; it starts counting its uptime now.
func New(d Deps) (*API, error) {
	if d.Store == nil || d.Registry == nil || d.Tokens == nil {
		return nil, errors.New("admin: Store, Registry and Tokens are required")
	}
	a := &API{store: d.Store, reg: d.Registry, tokens: d.Tokens, log: d.Log, version: d.Version, now: d.Clock,
		onUnavailable: d.OnDatabaseUnavailable}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.version == "" {
		a.version = "dev"
	}
	a.started = a.now()
	return a, nil
}

// Register adds the admin endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		scope   string
		handle  handler
	}{
		{"GET /admin/clients", ScopeClientsRead, a.listClients},
		{"POST /admin/clients", ScopeClientsWrite, a.createClient},
		{"GET /admin/clients/{id}", ScopeClientsRead, a.getClient},
		{"PUT /admin/clients/{id}", ScopeClientsWrite, a.updateClient},
		{"DELETE /admin/clients/{id}", ScopeClientsWrite, a.deleteClient},
		{"POST /admin/clients/{id}/secret", ScopeClientsWrite, a.rotateSecret},

		// Scope names may hold any visible character but " and \, '/' included: the
		// name is the rest of the path (percent-encode '/', '?', '#' and '%').
		{"GET /admin/scopes", ScopeScopesRead, a.listScopes},
		{"POST /admin/scopes", ScopeScopesWrite, a.createScope},
		{"GET /admin/scopes/{name...}", ScopeScopesRead, a.getScope},
		{"PUT /admin/scopes/{name...}", ScopeScopesWrite, a.updateScope},
		{"DELETE /admin/scopes/{name...}", ScopeScopesWrite, a.deleteScope},

		{"GET /admin/users", ScopeUsersRead, a.listUsers},
		{"POST /admin/users", ScopeUsersWrite, a.createUser},
		{"GET /admin/users/{id}", ScopeUsersRead, a.getUser},
		{"PUT /admin/users/{id}", ScopeUsersWrite, a.updateUser},
		{"DELETE /admin/users/{id}", ScopeUsersWrite, a.deleteUser},
		{"POST /admin/users/{id}/password", ScopeUsersWrite, a.resetPassword},
		{"PUT /admin/users/{id}/groups", ScopeUsersWrite, a.setGroups},
		{"GET /admin/users/{id}/sessions", ScopeUsersRead, a.listSessions},
		{"DELETE /admin/users/{id}/sessions", ScopeUsersWrite, a.endSessions},

		// Federated issuers' keys: whose tokens clients may authenticate with.
		{"GET /admin/federated-issuers", ScopeClientsRead, a.listFederatedIssuers},
		{"POST /admin/federated-issuers", ScopeClientsWrite, a.putFederatedIssuer},
		{"DELETE /admin/federated-issuers/{issuer...}", ScopeClientsWrite, a.deleteFederatedIssuer},

		{"GET /admin/status", ScopeSystemRead, a.status},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, a.guard(rt.scope, rt.handle))
	}
}

// handler is an admin endpoint; caller is the verified token of the request.
type handler func(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess)

const realm = `Bearer realm="authly-admin"`

// guard lets a request through to h only with an active access token carrying scope. A
// token issued to a user is also checked against the user as they are now: disabled or
// no longer an admin, the token no longer opens the admin API.
func (a *API) guard(scope string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, present := bearerToken(r)
		if reason := badText(token, maxTokenLen, false); reason != "" {
			a.challenge(w, &Error{Status: http.StatusBadRequest, Code: ErrInvalidRequest, Description: "the access token " + reason})
			return
		}
		if !present {
			w.Header().Set("WWW-Authenticate", realm)
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken, Description: "an access token is required (Authorization: Bearer <token>)"})
			return
		}
		at, ok := a.tokens.CheckAccessToken(token)
		if !ok {
			a.challenge(w, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken, Description: "the access token is invalid, expired or revoked"})
			return
		}
		if !slices.Contains(at.Scopes, scope) {
			w.Header().Set("WWW-Authenticate", realm+`, error="insufficient_scope", scope="`+scope+`"`)
			writeError(w, &Error{Status: http.StatusForbidden, Code: ErrInsufficientScope, Scope: scope,
				Description: "this request needs the " + scope + " scope"})
			return
		}
		if at.Subject != at.ClientID {
			user, err := a.store.GetUser(r.Context(), at.Subject)
			switch {
			case errors.Is(err, store.ErrNotFound) || (err == nil && user.Disabled):
				a.challenge(w, &Error{Status: http.StatusUnauthorized, Code: ErrInvalidToken, Description: "the token's user no longer exists or is disabled"})
				return
			case err != nil:
				a.fail(w, r, err)
				return
			case !user.Admin:
				writeError(w, &Error{Status: http.StatusForbidden, Code: ErrAccessDenied, Description: "the token's user is not an admin"})
				return
			}
		}
		if e := checkRequestText(r); e != nil {
			writeError(w, e)
			return
		}
		h(w, r, at)
	})
}

func (a *API) challenge(w http.ResponseWriter, e *Error) {
	w.Header().Set("WWW-Authenticate", realm+`, error="`+e.Code+`", error_description="`+e.Description+`"`)
	writeError(w, e)
}

// bearerToken takes the token of an "Authorization: Bearer" header; present is false
// when there is none, or the header is of another scheme.
func bearerToken(r *http.Request) (token string, present bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// fail answers err: the registry's and the store's errors as 4xx, anything else as a
// 500 that is logged (store errors carry no secrets) but not shown.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := asError(err)
	if internal {
		a.log.ErrorContext(r.Context(), "admin API", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if e.Code == ErrTemporarilyUnavailable && a.onUnavailable != nil {
		a.onUnavailable(r.Pattern)
	}
	writeError(w, e)
}

// audit logs a change, naming who made it; never a secret.
func (a *API) audit(r *http.Request, caller *tokens.VerifiedAccess, action, target string) {
	a.log.InfoContext(r.Context(), "admin change", "action", action, "target", target,
		"subject", caller.Subject, "client_id", caller.ClientID)
}
