/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/authly-dev/authly-operator/server/clientkeys"
)

// Scopes the server itself understands, beyond those registered in the store.
var builtinScopes = []string{"openid", "profile", "email", ScopeGroups, "offline_access"}

// metadata is RFC 8414 authorization server metadata, extended with the OIDC Discovery
// fields for /.well-known/openid-configuration. It advertises exactly what is implemented.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	DeviceAuthorizationEndpoint                string   `json:"device_authorization_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthSigningAlgs          []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthSigningAlgs       []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported                            []string `json:"claims_supported,omitempty"`
	PromptValuesSupported                      []string `json:"prompt_values_supported,omitempty"`
	ClaimsParameterSupported                   *bool    `json:"claims_parameter_supported,omitempty"`
	RequestParameterSupported                  *bool    `json:"request_parameter_supported,omitempty"`
	RequestURIParameterSupported               *bool    `json:"request_uri_parameter_supported,omitempty"`
}

// buildMetadata renders the documents once, each with and without the password grant:
// OAuth 2.1 drops it, so it is advertised only while some client may use it.
func (p *Provider) buildMetadata() error {
	p.oauthMetadata, p.oidcMetadata = map[bool][]byte{}, map[bool][]byte{}
	for _, password := range []bool{false, true} {
		oauthDoc, oidcDoc, err := p.renderMetadata(password)
		if err != nil {
			return err
		}
		p.oauthMetadata[password], p.oidcMetadata[password] = oauthDoc, oidcDoc
	}
	return nil
}

func (p *Provider) renderMetadata(passwordGrant bool) (oauthDoc, oidcDoc []byte, err error) {
	iss := p.cfg.Issuer
	grants := []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode}
	if passwordGrant {
		grants = append(grants, GrantPassword)
	}
	authMethods := []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}
	introspectionMethods := []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT}
	if p.federation != nil {
		authMethods = append(authMethods, AuthServiceAccountJWT)
		introspectionMethods = append(introspectionMethods, AuthServiceAccountJWT)
	}
	m := metadata{
		Issuer:                                     iss,
		AuthorizationEndpoint:                      iss + PathAuthorize,
		TokenEndpoint:                              iss + PathToken,
		JWKSURI:                                    iss + PathJWKS,
		RevocationEndpoint:                         iss + PathRevoke,
		IntrospectionEndpoint:                      iss + PathIntrospect,
		DeviceAuthorizationEndpoint:                iss + PathDeviceAuthorization,
		ScopesSupported:                            builtinScopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        grants,
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          authMethods,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		IntrospectionEndpointAuthMethodsSupported:  introspectionMethods,
		TokenEndpointAuthSigningAlgValuesSupported: clientkeys.Algorithms,
		RevocationEndpointAuthSigningAlgs:          clientkeys.Algorithms,
		IntrospectionEndpointAuthSigningAlgs:       clientkeys.Algorithms,
		AuthorizationResponseISSParameterSupported: true,
	}
	if oauthDoc, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	no := false
	m.UserinfoEndpoint = iss + PathUserinfo
	m.EndSessionEndpoint = iss + PathLogout
	m.SubjectTypesSupported = []string{"public"}
	m.IDTokenSigningAlgValuesSupported = []string{"RS256", "ES256"}
	m.ClaimsSupported = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
		"name", "given_name", "family_name", "preferred_username", "email", "email_verified", ClaimGroups}
	m.PromptValuesSupported = []string{"none", "login", "consent"}
	m.ClaimsParameterSupported, m.RequestParameterSupported, m.RequestURIParameterSupported = &no, &no, &no
	oidcDoc, err = json.Marshal(m)
	return oauthDoc, oidcDoc, err
}

// GrantTypes tells whether some client may use a grant type. The server's client cache
// implements it (cache.Clients), keeping the answer until a client changes on any
// replica; without it the Provider asks the store on every discovery request.
type GrantTypes interface {
	AnyHasGrantType(ctx context.Context, grantType string) (bool, error)
}

// passwordGrantInUse reports whether some client may use the password grant. When that
// cannot be read (the database is down and nothing is cached), discovery keeps answering
// with the last answer read, and does not ask again for grantTypeRetry, so that an outage
// does not turn every discovery request into a database attempt and a log line.
func (p *Provider) passwordGrantInUse(ctx context.Context) bool {
	now := p.now()
	if now.UnixNano() < p.grantTypeRetryAt.Load() {
		return p.passwordGrantSeen.Load()
	}
	var inUse bool
	var err error
	if g, ok := p.clients.(GrantTypes); ok {
		inUse, err = g.AnyHasGrantType(ctx, GrantPassword)
	} else {
		inUse, err = p.store.AnyClientHasGrantType(ctx, GrantPassword)
	}
	if err != nil {
		p.grantTypeRetryAt.Store(now.Add(grantTypeRetry).UnixNano())
		p.log.WarnContext(ctx, "discovery: cannot tell whether a client has the password grant; advertising the last answer", "error", err)
		return p.passwordGrantSeen.Load()
	}
	p.passwordGrantSeen.Store(inUse)
	return inUse
}

// grantTypeRetry is how long discovery waits after failing to read the grant types in use.
const grantTypeRetry = 5 * time.Second

// The metadata documents are built at start; serving one writes precomputed bytes.
func (p *Provider) serveOAuthMetadata(w http.ResponseWriter, r *http.Request) {
	writeStatic(w, p.oauthMetadata[p.passwordGrantInUse(r.Context())])
}

func (p *Provider) serveOIDCMetadata(w http.ResponseWriter, r *http.Request) {
	writeStatic(w, p.oidcMetadata[p.passwordGrantInUse(r.Context())])
}

func (p *Provider) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	writeStatic(w, p.keys.JWKS())
}

var (
	jsonContentType = []string{"application/json"}
	publicCache     = []string{"public, max-age=300"}
)

// writeStatic writes a precomputed JSON document. The explicit Content-Length matters
// for the JWKS (two or four keys, over 2 KiB with RSA ones): net/http falls back to
// chunked encoding for a body larger than its 2 KiB buffer whose length it was not told.
func writeStatic(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = publicCache
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}
