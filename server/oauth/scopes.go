/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"strings"

	"github.com/authly-dev/authly-operator/server/store"
)

// adminScopePrefix marks the admin API's scopes, which only admin users (or clients acting
// for themselves with client_credentials) may receive.
const adminScopePrefix = "admin:"

// grantableScopes decides the scopes of a grant: the requested ones when the client may ask
// for them (RFC 6749 section 3.3), or, when the request names none, every scope registered
// for the client. user is nil for a client acting for itself.
func (p *Provider) grantableScopes(client *store.Client, user *store.User, requested string, present bool) ([]string, error) {
	var scopes []string
	if present {
		scopes = splitScope(requested)
		if len(scopes) == 0 {
			return nil, newError(CodeInvalidScope, "scope is empty")
		}
		for _, s := range scopes {
			if !validScopeToken(s) {
				return nil, newError(CodeInvalidScope, "scope "+quote(s)+" is malformed")
			}
			if !contains(client.Scopes, s) {
				return nil, newError(CodeInvalidScope, "scope "+quote(s)+" is not allowed for this client")
			}
			if user != nil && !user.Admin && strings.HasPrefix(s, adminScopePrefix) {
				return nil, newError(CodeInvalidScope, "scope "+quote(s)+" needs an admin user")
			}
		}
		return scopes, nil
	}
	for _, s := range client.Scopes {
		if user != nil && !user.Admin && strings.HasPrefix(s, adminScopePrefix) {
			continue
		}
		scopes = append(scopes, s)
	}
	return scopes, nil
}

// userScopes stand for a user: OpenID Connect's (openid and its claim scopes, OIDC Core
// 5.4), groups (the user's groups claim) and offline_access. A client acting for itself
// (client_credentials) has no user.
var userScopes = []string{"openid", "offline_access", "profile", "email", "address", "phone", ScopeGroups}

// withoutUserScopes returns scopes without the userScopes, in their order.
func withoutUserScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !contains(userScopes, s) {
			out = append(out, s)
		}
	}
	return out
}
