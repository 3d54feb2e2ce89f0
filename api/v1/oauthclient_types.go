/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientType is the OAuth client type (RFC 6749 section 2.1).
// +kubebuilder:validation:Enum=confidential;public
type ClientType string

const (
	// ClientConfidential can keep a secret: a server-side web application or a service.
	ClientConfidential ClientType = "confidential"
	// ClientPublic cannot: a single-page application or a native application. It uses PKCE
	// and authenticates with "none".
	ClientPublic ClientType = "public"
)

// GrantType is an OAuth grant type the client may use at the token endpoint.
// +kubebuilder:validation:Enum=authorization_code;refresh_token;client_credentials;password;"urn:ietf:params:oauth:grant-type:device_code"
type GrantType string

const (
	// GrantAuthorizationCode is the authorization code grant, with PKCE (OAuth 2.1).
	GrantAuthorizationCode GrantType = "authorization_code"
	// GrantRefreshToken exchanges a refresh token for new tokens.
	GrantRefreshToken GrantType = "refresh_token"
	// GrantClientCredentials lets a confidential client act on its own behalf.
	GrantClientCredentials GrantType = "client_credentials"
	// GrantPassword is the resource owner password grant, kept for first-party legacy
	// applications; OAuth 2.1 omits it.
	GrantPassword GrantType = "password"
	// GrantDeviceCode is the device authorization grant (RFC 8628), for command-line tools
	// and devices without a browser: usually a public client.
	GrantDeviceCode GrantType = "urn:ietf:params:oauth:grant-type:device_code"
)

// TokenEndpointAuthMethod is how the client authenticates at the token endpoint (RFC 7591
// section 2).
// +kubebuilder:validation:Enum=client_secret_basic;client_secret_post;private_key_jwt;none
type TokenEndpointAuthMethod string

const (
	// AuthMethodClientSecretBasic sends the secret in an HTTP Basic Authorization header.
	AuthMethodClientSecretBasic TokenEndpointAuthMethod = "client_secret_basic"
	// AuthMethodClientSecretPost sends the secret in the form body.
	AuthMethodClientSecretPost TokenEndpointAuthMethod = "client_secret_post"
	// AuthMethodNone sends no secret: a public client, which proves itself with PKCE.
	AuthMethodNone TokenEndpointAuthMethod = "none"
	// AuthMethodPrivateKeyJWT sends a JWT signed with the client's private key (RFC 7523
	// section 2.2, OIDC Core section 9), verified with the public keys it registers in
	// jwks, jwksUri or jwksSecretRef. The client has no secret.
	AuthMethodPrivateKeyJWT TokenEndpointAuthMethod = "private_key_jwt"
)

// JSONWebKey is a public signature key (RFC 7517) of a private_key_jwt client: EC
// (P-256, P-384), RSA or OKP (Ed25519). Private members (d, p, q...) have no field here:
// a private key never goes into a spec.
// +kubebuilder:validation:XValidation:rule="self.kty != 'EC' || (has(self.crv) && self.crv in ['P-256', 'P-384'] && has(self.x) && has(self.y))",message="an EC key has crv P-256 or P-384, x and y"
// +kubebuilder:validation:XValidation:rule="self.kty != 'RSA' || (has(self.n) && has(self.e))",message="an RSA key has n and e"
// +kubebuilder:validation:XValidation:rule="self.kty != 'OKP' || (has(self.crv) && self.crv == 'Ed25519' && has(self.x))",message="an OKP key has crv Ed25519 and x"
// +kubebuilder:validation:XValidation:rule="!has(self.alg) || (self.kty == 'RSA' ? self.alg in ['RS256', 'PS256'] : self.kty == 'OKP' ? self.alg == 'EdDSA' : (self.crv == 'P-256' ? self.alg == 'ES256' : self.alg == 'ES384'))",message="alg does not fit the key: ES256 for P-256, ES384 for P-384, EdDSA for Ed25519, RS256 or PS256 for RSA",fieldPath=".alg"
type JSONWebKey struct {
	// kty is the key type.
	// +required
	// +kubebuilder:validation:Enum=EC;RSA;OKP
	Kty string `json:"kty"`
	// kid identifies the key; an assertion names it in its header.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Kid string `json:"kid,omitempty"`
	// alg restricts the key to one algorithm.
	// +optional
	// +kubebuilder:validation:Enum=ES256;ES384;EdDSA;RS256;PS256
	Alg string `json:"alg,omitempty"`
	// use is sig, if given.
	// +optional
	// +kubebuilder:validation:Enum=sig
	Use string `json:"use,omitempty"`
	// crv is the curve of an EC or OKP key.
	// +optional
	// +kubebuilder:validation:Enum=P-256;P-384;Ed25519
	Crv string `json:"crv,omitempty"`
	// x is the x coordinate (EC) or the public key (OKP), base64url.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	X string `json:"x,omitempty"`
	// y is the y coordinate of an EC key, base64url.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	Y string `json:"y,omitempty"`
	// n is the modulus of an RSA key, base64url.
	// +optional
	// +kubebuilder:validation:MaxLength=1400
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	N string `json:"n,omitempty"`
	// e is the exponent of an RSA key, base64url.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	E string `json:"e,omitempty"`
}

// JSONWebKeySet is a JWK Set (RFC 7517 section 5) of public keys.
// +kubebuilder:validation:XValidation:rule="self.keys.all(k, !has(k.kid) || self.keys.exists_one(j, has(j.kid) && j.kid == k.kid))",message="each kid is used once",fieldPath=".keys"
type JSONWebKeySet struct {
	// keys are the public keys: a client's current key, and the next one during a
	// rotation.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	Keys []JSONWebKey `json:"keys"`
}

// RegisteredKey describes a public key registered for a private_key_jwt client.
type RegisteredKey struct {
	// kid of the key, if it has one.
	// +optional
	Kid string `json:"kid,omitempty"`
	// kty is EC, RSA or OKP.
	Kty string `json:"kty"`
	// alg is the key's algorithm, or the algorithms its type allows, comma-separated.
	Alg string `json:"alg"`
}

// OAuthClientSpec is an OAuth client registered in an AuthServer's database. Its
// credentials go to a Secret, never into the spec or status.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.clientId) || (has(self.clientId) && self.clientId == oldSelf.clientId)",message="clientId is immutable once set",fieldPath=".clientId"
// +kubebuilder:validation:XValidation:rule="!(has(self.type) && self.type == 'public') || !has(self.tokenEndpointAuthMethod) || self.tokenEndpointAuthMethod == 'none'",message="a public client authenticates with none and has no secret",fieldPath=".tokenEndpointAuthMethod"
// +kubebuilder:validation:XValidation:rule="(has(self.type) && self.type == 'public') || !has(self.tokenEndpointAuthMethod) || self.tokenEndpointAuthMethod != 'none'",message="a confidential client authenticates with its secret: tokenEndpointAuthMethod none is for public clients",fieldPath=".tokenEndpointAuthMethod"
// +kubebuilder:validation:XValidation:rule="(has(self.jwks) ? 1 : 0) + (has(self.jwksUri) ? 1 : 0) + (has(self.jwksSecretRef) ? 1 : 0) == (has(self.tokenEndpointAuthMethod) && self.tokenEndpointAuthMethod == 'private_key_jwt' ? 1 : 0)",message="tokenEndpointAuthMethod private_key_jwt takes exactly one of jwks, jwksUri and jwksSecretRef; other methods take none",fieldPath=".tokenEndpointAuthMethod"
// +kubebuilder:validation:XValidation:rule="!(has(self.type) && self.type == 'public') || !('client_credentials' in self.grantTypes)",message="a public client cannot use client_credentials",fieldPath=".grantTypes"
// +kubebuilder:validation:XValidation:rule="!('authorization_code' in self.grantTypes) || (has(self.redirectUris) && size(self.redirectUris) > 0)",message="redirectUris is required when grantTypes contains authorization_code",fieldPath=".redirectUris"
// +kubebuilder:validation:XValidation:rule="!('refresh_token' in self.grantTypes) || 'authorization_code' in self.grantTypes || 'password' in self.grantTypes || 'urn:ietf:params:oauth:grant-type:device_code' in self.grantTypes",message="refresh_token needs authorization_code, password or urn:ietf:params:oauth:grant-type:device_code: no other grant issues refresh tokens",fieldPath=".grantTypes"
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountName) || !has(self.type) || self.type == 'confidential'",message="a client with serviceAccountName is confidential: it proves itself with its ServiceAccount's token",fieldPath=".type"
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountName) || !has(self.tokenEndpointAuthMethod)",message="a client with serviceAccountName authenticates with its ServiceAccount's token: leave tokenEndpointAuthMethod unset",fieldPath=".tokenEndpointAuthMethod"
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountName) || !has(self.secretName)",message="a client with serviceAccountName has no secret, and no Secret is written: leave secretName unset",fieldPath=".secretName"
type OAuthClientSpec struct {
	// authServerRef names the AuthServer, in this namespace, that the client is registered
	// with. It cannot change: delete the client and create a new one instead.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="authServerRef is immutable"
	AuthServerRef ServerReference `json:"authServerRef"`

	// clientId is the client_id. Empty means generated; the generated one is shown in
	// status.clientId. Once set it cannot change.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._~-]{3,128}$`
	ClientID string `json:"clientId,omitempty"`

	// type is confidential (has a secret) or public (PKCE, no secret).
	// +optional
	// +kubebuilder:default=confidential
	Type ClientType `json:"type,omitempty"`

	// grantTypes the client may use.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	GrantTypes []GrantType `json:"grantTypes"`

	// redirectUris are the absolute URLs the authorization endpoint may redirect to,
	// compared exactly. Required with the authorization_code grant.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.all(u, isURL(u) && url(u).getScheme() != '' && (!(url(u).getScheme() in ['http', 'https']) || url(u).getHostname() != '') && !u.contains('#'))",message="each redirect URI must be an absolute URL without a fragment"
	// +listType=set
	RedirectURIs []string `json:"redirectUris,omitempty"`

	// postLogoutRedirectUris are the absolute URLs the end-session endpoint may redirect to.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.all(u, isURL(u) && url(u).getScheme() != '' && (!(url(u).getScheme() in ['http', 'https']) || url(u).getHostname() != '') && !u.contains('#'))",message="each post-logout redirect URI must be an absolute URL without a fragment"
	// +listType=set
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`

	// scopes the client may ask for.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[\x21\x23-\x5B\x5D-\x7E]+$`
	// +listType=set
	Scopes []string `json:"scopes,omitempty"`

	// tokenEndpointAuthMethod is how the client authenticates at the token endpoint. Empty
	// means client_secret_basic for a confidential client and none for a public one.
	// +optional
	TokenEndpointAuthMethod TokenEndpointAuthMethod `json:"tokenEndpointAuthMethod,omitempty"`

	// jwks are the public keys a private_key_jwt client signs its assertions with, inline.
	// +optional
	JWKS *JSONWebKeySet `json:"jwks,omitempty"`

	// jwksUri is an https URL serving the client's JWK Set, which the server fetches (only
	// from public addresses unless the AuthServer's spec.clientKeys.allowedHosts allows
	// the host).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != '' && !self.contains('#') && !self.contains('@')",message="jwksUri must be an https URL without credentials or fragment"
	JWKSURI string `json:"jwksUri,omitempty"`

	// jwksSecretRef selects a Secret key holding the client's JWK Set (JSON). A change of
	// the Secret is registered at once.
	// +optional
	JWKSSecretRef *KeySecretRef `json:"jwksSecretRef,omitempty"`

	// firstParty clients are the organisation's own applications: the user is not asked to
	// consent.
	// +optional
	FirstParty bool `json:"firstParty,omitempty"`

	// secretName is the Secret the credentials and endpoint URLs are written to. Empty means
	// "<metadata.name>-oauth". If it already holds a client_id and client_secret (from
	// Vault, External Secrets or a person) they are used instead of generated ones.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// deletionPolicy: Delete removes the client from the database and revokes its tokens
	// when this object is deleted; Orphan leaves it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// idTokenSignedResponseAlg asks for ID tokens signed with this algorithm instead of the
	// server's tokens.idTokenAlgorithm.
	// +optional
	IDTokenSignedResponseAlg SigningAlgorithm `json:"idTokenSignedResponseAlg,omitempty"`

	// serviceAccountName names a ServiceAccount in this namespace whose tokens the client
	// authenticates with, instead of a secret: the pod posts its projected ServiceAccount
	// token (audience: the AuthServer's issuer) as a jwt-bearer client_assertion with its
	// client_id. No Secret is written for such a client. A ServiceAccount deleted and
	// created again gets a new uid: tokens of the old one are refused.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// secretRotationGracePeriod is how long the previous secret stays valid after a
	// rotation, a Go duration such as "24h".
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="secretRotationGracePeriod must be a duration such as 24h"
	SecretRotationGracePeriod *metav1.Duration `json:"secretRotationGracePeriod,omitempty"`
}

// OAuthClientStatus is what the operator observed. Nothing derived from the client secret
// is ever written here.
type OAuthClientStatus struct {
	// conditions: Ready, Reconciling, Stalled (the kstatus three).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// clientId is the client_id registered, given or generated.
	// +optional
	ClientID string `json:"clientId,omitempty"`

	// secretName is the Secret the credentials are in.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// credentialsVersion counts the secrets issued: 1 after the first, one more per
	// rotation.
	// +optional
	CredentialsVersion int64 `json:"credentialsVersion,omitempty"`

	// rotatedAt is when the current secret was issued.
	// +optional
	RotatedAt *metav1.Time `json:"rotatedAt,omitempty"`

	// previousSecretExpiresAt is when the secret replaced by the last rotation stops
	// working.
	// +optional
	PreviousSecretExpiresAt *metav1.Time `json:"previousSecretExpiresAt,omitempty"`

	// lastSyncTime is when the client was last written to or checked against the database.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// lastRotationRequest is the value of the oauth.authly.dev/rotate-secret annotation
	// that was last acted on. A different value asks for a new rotation; the annotation
	// itself is never changed by the operator, so GitOps tools see no drift.
	// +optional
	LastRotationRequest string `json:"lastRotationRequest,omitempty"`

	// serviceAccountUid is the uid of the ServiceAccount (spec.serviceAccountName) whose
	// tokens the client accepts; empty while the ServiceAccount does not exist.
	// +optional
	ServiceAccountUID string `json:"serviceAccountUid,omitempty"`

	// databaseSecretName is the Secret holding the URL of the database the client was
	// registered in (its AuthServer's spec.database.secretRef), so that deleting the client
	// still reaches the database after the AuthServer is gone.
	// +optional
	DatabaseSecretName string `json:"databaseSecretName,omitempty"`
	// databaseSecretKey is the key of that Secret holding the URL.
	// +optional
	DatabaseSecretKey string `json:"databaseSecretKey,omitempty"`

	// registeredKeys are the public keys registered for a private_key_jwt client from jwks
	// or jwksSecretRef (a jwksUri is read by the server itself, so none are listed).
	// +optional
	// +listType=atomic
	RegisteredKeys []RegisteredKey `json:"registeredKeys,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=authly
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Client-ID",type=string,JSONPath=`.status.clientId`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.authServerRef.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// OAuthClient is an OAuth 2.1 / OpenID Connect client of an AuthServer.
type OAuthClient struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec OAuthClientSpec `json:"spec"`
	// status is what the operator observed. It starts with observedGeneration 0, which no
	// generation has, so that an object the operator has not seen yet reads as "in
	// progress" to kstatus (Flux, Argo CD) rather than as done for want of conditions.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status OAuthClientStatus `json:"status,omitempty"`
}

// EffectiveTokenEndpointAuthMethod is spec.tokenEndpointAuthMethod, or the default for the
// client's type when it is empty: none for a public client, client_secret_basic otherwise.
func (c *OAuthClient) EffectiveTokenEndpointAuthMethod() TokenEndpointAuthMethod {
	if c.Spec.TokenEndpointAuthMethod != "" {
		return c.Spec.TokenEndpointAuthMethod
	}
	if c.Spec.Type == ClientPublic {
		return AuthMethodNone
	}
	return AuthMethodClientSecretBasic
}

// HasClientSecret reports whether the client authenticates with a secret the operator
// writes to its Secret: a confidential client, unless it uses private_key_jwt.
func (c *OAuthClient) HasClientSecret() bool {
	return c.Spec.Type != ClientPublic && c.EffectiveTokenEndpointAuthMethod() != AuthMethodPrivateKeyJWT
}

// +kubebuilder:object:root=true

// OAuthClientList is a list of OAuthClients.
type OAuthClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OAuthClient `json:"items"`
}

func init() {
	register(&OAuthClient{}, &OAuthClientList{})
}
