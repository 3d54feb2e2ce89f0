/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// newAPIClient talks to the test API server with the Authly kinds known, and asks it to
// refuse unknown fields instead of dropping them, so a misspelt sample field fails.
func newAPIClient(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := authlyv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s, FieldValidation: "Strict"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// manifest builds an object of an Authly kind from its spec written in YAML.
func manifest(t *testing.T, kind, namespace, name, spec string) *unstructured.Unstructured {
	t.Helper()
	var specMap map[string]any
	if err := yaml.Unmarshal([]byte(spec), &specMap); err != nil {
		t.Fatalf("spec of %s %s: %v", kind, name, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": specMap}}
	u.SetAPIVersion(authlyv1.GroupVersion.String())
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

const (
	validServer = `{issuer: "https://auth.example.com", database: {secretRef: {name: db}}, replicas: 2}`
	validClient = `{authServerRef: {name: main}, grantTypes: [authorization_code, refresh_token], redirectUris: ["https://app.example.com/cb"]}`
	validScope  = `{authServerRef: {name: main}, name: "orders:read"}`
)

// Every sample in config/samples is accepted by the API server as it is.
func TestSamplesApply(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "oauth_v1_*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kustomization, err := os.ReadFile(filepath.Join("..", "config", "samples", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		if !strings.Contains(string(kustomization), "- "+filepath.Base(f)+"\n") {
			t.Errorf("config/samples/kustomization.yaml does not list %s", filepath.Base(f))
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u.SetNamespace(ns)
		if err := c.Create(context.Background(), u); err != nil {
			t.Errorf("%s refused: %v", filepath.Base(f), err)
			continue
		}
		kinds[u.GetKind()]++
	}
	// The workload of the ServiceAccount client sample: a ServiceAccount and a Deployment
	// with the projected token volume.
	workload, err := os.ReadFile(filepath.Join("..", "config", "samples", "serviceaccount_deployment_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kustomization), "- serviceaccount_deployment_reports.yaml\n") {
		t.Error("config/samples/kustomization.yaml does not list serviceaccount_deployment_reports.yaml")
	}
	for _, doc := range strings.Split(string(workload), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("serviceaccount_deployment_reports.yaml: %v", err)
		}
		u.SetNamespace(ns)
		if err := c.Create(context.Background(), u); err != nil {
			t.Errorf("serviceaccount_deployment_reports.yaml: %s refused: %v", u.GetKind(), err)
		}
		kinds[u.GetKind()]++
	}
	want := map[string]int{"AuthServer": 1, "OAuthClient": 5, "Scope": 2, "ServiceAccount": 1, "Deployment": 1}
	for kind, n := range want {
		if kinds[kind] != n {
			t.Errorf("%d %s samples applied, want %d", kinds[kind], kind, n)
		}
	}

	// The typed API reads them back as written.
	var server authlyv1.AuthServer
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "main"}, &server); err != nil {
		t.Fatal(err)
	}
	if server.Spec.Capacity == nil || server.Spec.Capacity.ExpectedDailyRequests != 1_000_000 ||
		server.Spec.Capacity.OperationMix == nil || server.Spec.Capacity.OperationMix.TokenValidation != "0.45" {
		t.Errorf("AuthServer sample's capacity read back as %+v", server.Spec.Capacity)
	}
	var m2m authlyv1.OAuthClient
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "orders-worker"}, &m2m); err != nil {
		t.Fatal(err)
	}
	if m2m.Spec.SecretRotationGracePeriod == nil || m2m.Spec.SecretRotationGracePeriod.Duration != time.Hour ||
		m2m.Spec.GrantTypes[0] != authlyv1.GrantClientCredentials {
		t.Errorf("m2m sample read back as %+v", m2m.Spec)
	}
	var cli authlyv1.OAuthClient
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "orders-cli"}, &cli); err != nil {
		t.Fatal(err)
	}
	if len(cli.Spec.GrantTypes) != 2 || cli.Spec.GrantTypes[0] != authlyv1.GrantDeviceCode {
		t.Errorf("device-flow sample read back with grant types %v", cli.Spec.GrantTypes)
	}
}

// What a manifest leaves out, the schema fills in.
func TestDefaults(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	objs := []*unstructured.Unstructured{
		manifest(t, "AuthServer", ns, "main", `{issuer: "https://auth.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000}}`),
		manifest(t, "OAuthClient", ns, "web", validClient),
		manifest(t, "OAuthClient", ns, "spa", `{authServerRef: {name: main}, type: public, grantTypes: [authorization_code], redirectUris: ["http://localhost:3000/cb"]}`),
		manifest(t, "Scope", ns, "orders-read", validScope),
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	var s authlyv1.AuthServer
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "main"}, &s); err != nil {
		t.Fatal(err)
	}
	db, tok, rl, capa := s.Spec.Database, s.Spec.Tokens, s.Spec.RateLimits, s.Spec.Capacity
	if db.SecretRef.Key != "url" || db.MaxConnections != 100 || db.ReservedConnections == nil || *db.ReservedConnections != 10 {
		t.Errorf("database defaults: %+v", db)
	}
	if tok == nil || tok.AccessTokenTTL == nil || tok.AccessTokenTTL.Duration != 15*time.Minute ||
		tok.RefreshTokenTTL == nil || tok.RefreshTokenTTL.Duration != 720*time.Hour ||
		tok.AccessTokenAlgorithm != authlyv1.ES256 || tok.IDTokenAlgorithm != authlyv1.RS256 {
		t.Errorf("token defaults: %+v", tok)
	}
	if rl == nil || rl.TokenPerClientPerSecond != 50 || rl.LoginPerIPPerMinute != 30 {
		t.Errorf("rate limit defaults: %+v", rl)
	}
	if capa.PeakMultiplier != "5" || capa.MinReplicas != 2 || capa.MaxReplicas != 10 ||
		capa.FailoverReplicas == nil || *capa.FailoverReplicas != 1 || capa.OperationMix != nil || s.Spec.Replicas != nil {
		t.Errorf("capacity defaults: %+v", capa)
	}

	var web, spa authlyv1.OAuthClient
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &web); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "spa"}, &spa); err != nil {
		t.Fatal(err)
	}
	if web.Spec.Type != authlyv1.ClientConfidential || web.Spec.DeletionPolicy != authlyv1.DeletionPolicyDelete ||
		web.Spec.SecretRotationGracePeriod == nil || web.Spec.SecretRotationGracePeriod.Duration != 24*time.Hour {
		t.Errorf("client defaults: %+v", web.Spec)
	}
	if got := web.EffectiveTokenEndpointAuthMethod(); got != authlyv1.AuthMethodClientSecretBasic {
		t.Errorf("confidential client authenticates with %q", got)
	}
	if got := spa.EffectiveTokenEndpointAuthMethod(); got != authlyv1.AuthMethodNone {
		t.Errorf("public client authenticates with %q", got)
	}
	if got := web.EffectiveSecretName(); got != "web-oauth" {
		t.Errorf("secret name %q, want web-oauth", got)
	}

	var sc authlyv1.Scope
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders-read"}, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Spec.DeletionPolicy != authlyv1.DeletionPolicyDelete || sc.Spec.Default {
		t.Errorf("scope defaults: %+v", sc.Spec)
	}
}

// A bad manifest is refused by the API server, before any reconcile, with the field named.
func TestBadManifestsRefused(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	tests := []struct {
		name, kind, spec string
		// field and message must both appear in the API server's answer.
		field, message string
	}{
		{"replicas and capacity", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, replicas: 2, capacity: {expectedDailyRequests: 1000}}`,
			"spec:", "replicas and capacity are exclusive"},
		{"issuer not a URL", "AuthServer",
			`{issuer: "auth.example.com", database: {secretRef: {name: db}}}`,
			"spec.issuer", "issuer must be an absolute http or https URL"},
		{"issuer not http", "AuthServer",
			`{issuer: "ftp://auth.example.com", database: {secretRef: {name: db}}}`,
			"spec.issuer", "issuer must be an absolute http or https URL"},
		{"issuer with a query", "AuthServer",
			`{issuer: "https://auth.example.com/?tenant=a", database: {secretRef: {name: db}}}`,
			"spec.issuer", "must not contain a query or fragment"},
		{"issuer missing", "AuthServer",
			`{database: {secretRef: {name: db}}}`,
			"spec.issuer", "Required value"},
		{"minReplicas above maxReplicas", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000, minReplicas: 5, maxReplicas: 3}}`,
			"spec.capacity.minReplicas", "minReplicas must not exceed maxReplicas"},
		{"shares not adding up to 1", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000, operationMix: {tokenGeneration: "0.5", discovery: "0.4"}}}`,
			"spec.capacity.operationMix", "the operation shares must add up to 1"},
		{"share not a decimal", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000, operationMix: {tokenGeneration: "half", tokenValidation: "1"}}}`,
			"spec.capacity.operationMix.tokenGeneration", "should match"},
		{"peak multiplier below 1", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000, peakMultiplier: "0.5"}}`,
			"spec.capacity.peakMultiplier", "peakMultiplier must be a decimal of at least 1"},
		{"unknown signing algorithm", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {accessTokenAlgorithm: HS256}}`,
			"spec.tokens.accessTokenAlgorithm", "Unsupported value"},
		{"TTL not a duration", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {accessTokenTTL: soon}}`,
			"spec.tokens.accessTokenTTL", ""},
		{"TTL zero", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {refreshTokenTTL: 0s}}`,
			"spec.tokens.refreshTokenTTL", "refreshTokenTTL must be a positive duration"},
		{"reuse interval over 5m", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {refreshTokenReuseInterval: 6m}}`,
			"spec.tokens.refreshTokenReuseInterval", "refreshTokenReuseInterval must be a duration from 0s to 5m"},
		{"reuse interval negative", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {refreshTokenReuseInterval: -1s}}`,
			"spec.tokens.refreshTokenReuseInterval", "refreshTokenReuseInterval must be a duration from 0s to 5m"},
		{"all connections reserved", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}, maxConnections: 20, reservedConnections: 20}}`,
			"spec.database.reservedConnections", "reservedConnections must be less than maxConnections"},
		{"too few connections", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}, maxConnections: 5}}`,
			"spec.database.maxConnections", "should be greater than or equal to 10"},
		{"ingress host not the issuer's", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, ingress: {host: b.example.com}}`,
			"spec.ingress.host", "ingress.host must be the issuer's host"},
		{"zero replicas", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, replicas: 0}`,
			"spec.replicas", "should be greater than or equal to 1"},

		{"public client with client_credentials", "OAuthClient",
			`{authServerRef: {name: main}, type: public, grantTypes: [client_credentials]}`,
			"spec.grantTypes", "a public client cannot use client_credentials"},
		{"public client with client_secret_basic", "OAuthClient",
			`{authServerRef: {name: main}, type: public, grantTypes: [authorization_code], redirectUris: ["https://a.example.com/cb"], tokenEndpointAuthMethod: client_secret_basic}`,
			"spec.tokenEndpointAuthMethod", "a public client authenticates with none and has no secret"},
		{"confidential client with none", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: none}`,
			"spec.tokenEndpointAuthMethod", "tokenEndpointAuthMethod none is for public clients"},
		{"authorization_code without redirectUris", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [authorization_code]}`,
			"spec.redirectUris", "redirectUris is required when grantTypes contains authorization_code"},
		{"refresh_token alone", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials, refresh_token]}`,
			"spec.grantTypes", "refresh_token needs authorization_code, password or urn:ietf:params:oauth:grant-type:device_code"},
		{"unknown grant type", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [implicit]}`,
			"spec.grantTypes[0]", "Unsupported value"},
		{"no grant type", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: []}`,
			"spec.grantTypes", "should have at least 1 items"},
		{"grant type twice", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials, client_credentials]}`,
			"spec.grantTypes[1]", "Duplicate value"},
		{"unknown client type", "OAuthClient",
			`{authServerRef: {name: main}, type: secret, grantTypes: [client_credentials]}`,
			"spec.type", "Unsupported value"},
		{"unknown auth method", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: tls_client_auth}`,
			"spec.tokenEndpointAuthMethod", "Unsupported value"},
		{"private_key_jwt without keys", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt}`,
			"spec.tokenEndpointAuthMethod", "private_key_jwt takes exactly one of jwks, jwksUri and jwksSecretRef"},
		{"private_key_jwt with two key sources", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwksUri: "https://keys.example.com/jwks", jwksSecretRef: {name: keys, key: jwks.json}}`,
			"spec.tokenEndpointAuthMethod", "private_key_jwt takes exactly one of jwks, jwksUri and jwksSecretRef"},
		{"keys for a secret client", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], jwksUri: "https://keys.example.com/jwks"}`,
			"spec.tokenEndpointAuthMethod", "other methods take none"},
		{"public private_key_jwt client", "OAuthClient",
			`{authServerRef: {name: main}, type: public, grantTypes: [authorization_code], redirectUris: ["https://a.example.com/cb"], tokenEndpointAuthMethod: private_key_jwt, jwksUri: "https://keys.example.com/jwks"}`,
			"spec.tokenEndpointAuthMethod", "a public client authenticates with none"},
		{"jwksUri over http", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwksUri: "http://keys.example.com/jwks"}`,
			"spec.jwksUri", "jwksUri must be an https URL"},
		{"jwks key of an unknown type", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: [{kty: oct}]}}`,
			"spec.jwks.keys[0].kty", "Unsupported value"},
		{"jwks EC key without y", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: [{kty: EC, crv: P-256, x: AAAA}]}}`,
			"spec.jwks.keys[0]", "an EC key has crv P-256 or P-384, x and y"},
		{"jwks alg that does not fit", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: [{kty: EC, crv: P-256, x: AAAA, "y": AAAA, alg: RS256}]}}`,
			"spec.jwks.keys[0].alg", "alg does not fit the key"},
		{"jwks alg HS256", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: [{kty: EC, crv: P-256, x: AAAA, "y": AAAA, alg: HS256}]}}`,
			"spec.jwks.keys[0].alg", "Unsupported value"},
		{"jwks kid twice", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: [{kty: OKP, crv: Ed25519, x: AAAA, kid: a}, {kty: OKP, crv: Ed25519, x: BBBB, kid: a}]}}`,
			"spec.jwks.keys", "each kid is used once"},
		{"jwks empty", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwks: {keys: []}}`,
			"spec.jwks.keys", "should have at least 1 items"},
		{"client keys allowed host not a host", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, clientKeys: {allowedHosts: ["https://keys.example.com"]}}`,
			"spec.clientKeys.allowedHosts[0]", "should match"},
		{"assertion lifetime over 1h", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, clientKeys: {maxAssertionLifetime: 2h}}`,
			"spec.clientKeys.maxAssertionLifetime", "maxAssertionLifetime must be a duration from 1s to 1h"},
		{"unknown deletion policy", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], deletionPolicy: Retain}`,
			"spec.deletionPolicy", "Unsupported value"},
		{"unknown ID token algorithm", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], idTokenSignedResponseAlg: none}`,
			"spec.idTokenSignedResponseAlg", "Unsupported value"},
		{"redirect URI not a URL", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [authorization_code], redirectUris: ["/callback"]}`,
			"spec.redirectUris", "each redirect URI must be an absolute URL without a fragment"},
		{"redirect URI without a host", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [authorization_code], redirectUris: ["https:///cb"]}`,
			"spec.redirectUris", "each redirect URI must be an absolute URL without a fragment"},
		{"post-logout URI not a URL", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [authorization_code], redirectUris: ["https://a.example.com/cb"], postLogoutRedirectUris: ["/"]}`,
			"spec.postLogoutRedirectUris", "each post-logout redirect URI must be an absolute URL without a fragment"},
		{"redirect URI with a fragment", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [authorization_code], redirectUris: ["https://a.example.com/cb#x"]}`,
			"spec.redirectUris", "each redirect URI must be an absolute URL without a fragment"},
		{"client id with a space", "OAuthClient",
			`{authServerRef: {name: main}, clientId: "my app", grantTypes: [client_credentials]}`,
			"spec.clientId", "should match"},
		{"scope with a space", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], scopes: ["orders read"]}`,
			"spec.scopes[0]", "should match"},
		{"secret name not a DNS name", "OAuthClient",
			`{authServerRef: {name: main}, grantTypes: [client_credentials], secretName: Web_Secret}`,
			"spec.secretName", "should match"},
		{"no server", "OAuthClient",
			`{grantTypes: [client_credentials]}`,
			"spec.authServerRef", "Required value"},

		{"scope name with a space", "Scope",
			`{authServerRef: {name: main}, name: "orders read"}`,
			"spec.name", "should match"},
		{"scope name with a quote", "Scope",
			`{authServerRef: {name: main}, name: 'say"hi'}`,
			"spec.name", "should match"},
		{"scope with an unknown deletion policy", "Scope",
			`{authServerRef: {name: main}, name: "orders:read", deletionPolicy: Keep}`,
			"spec.deletionPolicy", "Unsupported value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := manifest(t, tt.kind, ns, "bad", tt.spec)
			err := c.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("%s accepted: %s", tt.kind, tt.spec)
			}
			if !apierrors.IsInvalid(err) {
				t.Errorf("error is not Invalid: %v", err)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error does not name %q with %q:\n%v", tt.field, tt.message, err)
			}
		})
	}
}

// Immutable fields stay as they were; everything else may change.
func TestUpdates(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	tests := []struct {
		name, kind, spec string
		change           func(spec map[string]any)
		// field and message name the refusal; both empty means the update is accepted.
		field, message string
	}{
		{"authServerRef changed", "OAuthClient", validClient,
			func(s map[string]any) { s["authServerRef"] = map[string]any{"name": "other"} },
			"spec.authServerRef", "authServerRef is immutable"},
		{"clientId changed after set", "OAuthClient", `{authServerRef: {name: main}, clientId: web-app, grantTypes: [client_credentials]}`,
			func(s map[string]any) { s["clientId"] = "web-app-2" },
			"spec.clientId", "clientId is immutable once set"},
		{"clientId removed after set", "OAuthClient", `{authServerRef: {name: main}, clientId: web-app, grantTypes: [client_credentials]}`,
			func(s map[string]any) { delete(s, "clientId") },
			"spec.clientId", "clientId is immutable once set"},
		{"clientId set when it was not", "OAuthClient", validClient,
			func(s map[string]any) { s["clientId"] = "pinned-id" },
			"", ""},
		{"client scopes and redirects changed", "OAuthClient", validClient,
			func(s map[string]any) {
				s["scopes"] = []any{"openid", "groups", "orders:read"}
				s["redirectUris"] = []any{"https://app.example.com/cb", "https://app.example.com/cb2"}
			},
			"", ""},
		{"client made public without changing its auth method", "OAuthClient", `{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: client_secret_post}`,
			func(s map[string]any) { s["type"] = "public" },
			"spec.grantTypes", "a public client cannot use client_credentials"},
		{"scope name changed", "Scope", validScope,
			func(s map[string]any) { s["name"] = "orders:write" },
			"spec.name", "name is immutable"},
		{"scope server changed", "Scope", validScope,
			func(s map[string]any) { s["authServerRef"] = map[string]any{"name": "other"} },
			"spec.authServerRef", "authServerRef is immutable"},
		{"scope description changed", "Scope", validScope,
			func(s map[string]any) { s["description"] = "Read all orders"; s["default"] = true },
			"", ""},
		{"issuer changed", "AuthServer", validServer,
			func(s map[string]any) { s["issuer"] = "https://login.example.com" },
			"", ""},
		{"replicas swapped for capacity", "AuthServer", validServer,
			func(s map[string]any) {
				delete(s, "replicas")
				s["capacity"] = map[string]any{"expectedDailyRequests": int64(5000000)}
			},
			"", ""},
		{"capacity added next to replicas", "AuthServer", validServer,
			func(s map[string]any) { s["capacity"] = map[string]any{"expectedDailyRequests": int64(5000000)} },
			"spec", "replicas and capacity are exclusive"},
		{"minReplicas raised above maxReplicas", "AuthServer",
			`{issuer: "https://a.example.com", database: {secretRef: {name: db}}, capacity: {expectedDailyRequests: 1000, maxReplicas: 4}}`,
			func(s map[string]any) { s["capacity"].(map[string]any)["minReplicas"] = int64(6) },
			"spec.capacity.minReplicas", "minReplicas must not exceed maxReplicas"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			name := fmt.Sprintf("obj-%d", i)
			if err := c.Create(ctx, manifest(t, tt.kind, ns, name, tt.spec)); err != nil {
				t.Fatalf("create: %v", err)
			}
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion(authlyv1.GroupVersion.String())
			obj.SetKind(tt.kind)
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				t.Fatal(err)
			}
			spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
			tt.change(spec)
			if err := unstructured.SetNestedMap(obj.Object, spec, "spec"); err != nil {
				t.Fatal(err)
			}
			err := c.Update(ctx, obj)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("update refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("update accepted: %v", spec)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error does not name %q with %q:\n%v", tt.field, tt.message, err)
			}
		})
	}
}

// kubectl scale and a HorizontalPodAutoscaler work on an AuthServer through its scale
// subresource, which reads and writes spec.replicas.
func TestAuthServerScaleSubresource(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if err := c.Create(ctx, manifest(t, "AuthServer", ns, "main", validServer)); err != nil {
		t.Fatal(err)
	}
	server := &authlyv1.AuthServer{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "main"}, server); err != nil {
		t.Fatal(err)
	}
	server.Status.Replicas = 2
	server.Status.Selector = "app.kubernetes.io/instance=main"
	if err := c.Status().Update(ctx, server); err != nil {
		t.Fatal(err)
	}

	scale := &autoscalingv1.Scale{}
	if err := c.SubResource("scale").Get(ctx, server, scale); err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 2 || scale.Status.Replicas != 2 || scale.Status.Selector != "app.kubernetes.io/instance=main" {
		t.Fatalf("scale %+v", scale)
	}
	scale.Spec.Replicas = 5
	if err := c.SubResource("scale").Update(ctx, server, client.WithSubResourceBody(scale)); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "main"}, server); err != nil {
		t.Fatal(err)
	}
	if server.Spec.Replicas == nil || *server.Spec.Replicas != 5 {
		t.Errorf("spec.replicas after scaling to 5: %v", server.Spec.Replicas)
	}
}

// The reuse interval's bounds are inclusive; an unset one stays unset (strict).
func TestRefreshTokenReuseIntervalBounds(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	for i, v := range []string{"0s", "30s", "5m"} {
		name := fmt.Sprint("reuse-", i)
		spec := `{issuer: "https://a.example.com", database: {secretRef: {name: db}}, tokens: {refreshTokenReuseInterval: ` + v + `}}`
		if err := c.Create(context.Background(), manifest(t, "AuthServer", ns, name, spec)); err != nil {
			t.Fatalf("refreshTokenReuseInterval %s refused: %v", v, err)
		}
		var s authlyv1.AuthServer
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		want, _ := time.ParseDuration(v)
		if got := s.Spec.Tokens.RefreshTokenReuseInterval; got == nil || got.Duration != want {
			t.Errorf("refreshTokenReuseInterval %s read back as %v", v, got)
		}
	}
	if err := c.Create(context.Background(), manifest(t, "AuthServer", ns, "unset", validServer)); err != nil {
		t.Fatal(err)
	}
	var s authlyv1.AuthServer
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "unset"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Spec.Tokens != nil && s.Spec.Tokens.RefreshTokenReuseInterval != nil {
		t.Errorf("an unset refreshTokenReuseInterval defaulted to %v", s.Spec.Tokens.RefreshTokenReuseInterval)
	}
}

// The README's private_key_jwt manifests are accepted: an inline JWK Set (with "y" and
// "n" quoted: YAML 1.1 reads a bare y as true and n as false), a jwksUri and a
// jwksSecretRef.
func TestPrivateKeyJWTManifestsAccepted(t *testing.T) {
	c := newAPIClient(t)
	ns := newNamespace(t, c)
	for name, spec := range map[string]string{
		"inline": `{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt,
			jwks: {keys: [{kty: EC, crv: P-256, kid: k1, alg: ES256, x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU, "y": x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0},
			{kty: RSA, kid: r1, "n": AQAB, e: AQAB}, {kty: OKP, crv: Ed25519, x: AAAA, alg: EdDSA}]}}`,
		"uri":    `{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwksUri: "https://keys.example.com/jwks.json"}`,
		"secret": `{authServerRef: {name: main}, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt, jwksSecretRef: {name: keys, key: jwks.json}}`,
	} {
		if err := c.Create(context.Background(), manifest(t, "OAuthClient", ns, name, spec)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
