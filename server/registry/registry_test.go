/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// t0 is the tests' "now": a whole second, so that it survives Postgres' microseconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// cheapPassword keeps argon2id fast in tests.
var cheapPassword = credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// fieldsOf returns the Field of every *FieldError in err, in order. err may be a single
// *FieldError or an errors.Join of them (joins nested in joins included, as CreateUser
// makes); anything else fails the test.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var fields []string
		for _, e := range j.Unwrap() {
			fields = append(fields, fieldsOf(t, e)...)
		}
		return fields
	}
	if fe.Reason == "" {
		t.Errorf("FieldError %q has no reason", fe.Field)
	}
	return []string{fe.Field}
}

// webClient is a valid confidential authorization_code client; tests modify copies.
func webClient() store.Client {
	return store.Client{
		ID:           "web-app",
		Name:         "Web app",
		RedirectURIs: []string{"https://app.example.com/callback"},
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		Scopes:       []string{"openid", "profile"},
	}
}

func with(f func(c *store.Client)) store.Client {
	c := webClient()
	f(&c)
	return c
}

func TestNormalizeClientDefaults(t *testing.T) {
	tests := []struct {
		name          string
		client        store.Client
		wantType      store.ClientType
		wantMethod    string
		wantResponses []string
	}{
		{"confidential by default", webClient(), store.Confidential, "client_secret_basic", []string{"code"}},
		{"public gets none", with(func(c *store.Client) { c.Type = store.Public }), store.Public, "none", []string{"code"}},
		{"explicit client_secret_post kept", with(func(c *store.Client) { c.TokenEndpointAuthMethod = "client_secret_post" }),
			store.Confidential, "client_secret_post", []string{"code"}},
		{"service client has no response types", store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}},
			store.Confidential, "client_secret_basic", nil},
		{"stale response types replaced", with(func(c *store.Client) { c.ResponseTypes = []string{"token", "id_token"} }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"stale response types dropped without authorization_code",
			store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{"code"}},
			store.Confidential, "client_secret_basic", nil},
		{"device flow CLI: public, no redirect URIs", store.Client{ID: "cli", Type: store.Public,
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
			store.Public, "none", nil},
		{"device flow, confidential", store.Client{ID: "smart-tv", GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}},
			store.Confidential, "client_secret_basic", nil},
		{"password grant", store.Client{ID: "legacy", GrantTypes: []string{"password", "refresh_token"}},
			store.Confidential, "client_secret_basic", nil},
		{"empty id is allowed (generated later)", with(func(c *store.Client) { c.ID = "" }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"id of 3 characters", with(func(c *store.Client) { c.ID = "a.b" }), store.Confidential, "client_secret_basic", []string{"code"}},
		{"id of 128 characters", with(func(c *store.Client) { c.ID = strings.Repeat("x", 128) }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"id with every allowed symbol", with(func(c *store.Client) { c.ID = "A-z_0.9~" }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"ES256 id tokens", with(func(c *store.Client) { c.IDTokenSignedResponseAlg = "ES256" }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"RS256 id tokens", with(func(c *store.Client) { c.IDTokenSignedResponseAlg = "RS256" }),
			store.Confidential, "client_secret_basic", []string{"code"}},
		{"native app", with(func(c *store.Client) {
			c.Type = store.Public
			c.RedirectURIs = []string{"com.example.app:/cb", "http://127.0.0.1:49152/cb", "http://[::1]/cb"}
			c.PostLogoutRedirectURIs = []string{"com.example.app:/logout"}
		}), store.Public, "none", []string{"code"}},
		{"scope tokens with punctuation", with(func(c *store.Client) {
			c.Scopes = []string{"api:read", "https://api.example.com/write", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}
		}),
			store.Confidential, "client_secret_basic", []string{"code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			if err := NormalizeClient(&c); err != nil {
				t.Fatalf("NormalizeClient: %v", err)
			}
			if c.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", c.Type, tt.wantType)
			}
			if c.TokenEndpointAuthMethod != tt.wantMethod {
				t.Errorf("TokenEndpointAuthMethod = %q, want %q", c.TokenEndpointAuthMethod, tt.wantMethod)
			}
			if !slices.Equal(c.ResponseTypes, tt.wantResponses) {
				t.Errorf("ResponseTypes = %q, want %q", c.ResponseTypes, tt.wantResponses)
			}
		})
	}
}

func TestNormalizeClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		client store.Client
		want   []string // fields, in the order they are reported
	}{
		{"id too short", with(func(c *store.Client) { c.ID = "ab" }), []string{"client_id"}},
		{"id too long", with(func(c *store.Client) { c.ID = strings.Repeat("x", 129) }), []string{"client_id"}},
		{"id with a space", with(func(c *store.Client) { c.ID = "web app" }), []string{"client_id"}},
		{"id with a slash", with(func(c *store.Client) { c.ID = "team/web" }), []string{"client_id"}},
		{"unknown type", with(func(c *store.Client) { c.Type = "trusted" }), []string{"client_type"}},
		{"unknown auth method", with(func(c *store.Client) { c.TokenEndpointAuthMethod = "tls_client_auth" }),
			[]string{"token_endpoint_auth_method"}},
		{"private_key_jwt without keys", with(func(c *store.Client) { c.TokenEndpointAuthMethod = PrivateKeyJWT }),
			[]string{"jwks"}},
		{"private_key_jwt with both key sources", with(func(c *store.Client) {
			c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI = PrivateKeyJWT, testJWKS, "https://keys.example.com/jwks"
		}), []string{"jwks_uri"}},
		{"private_key_jwt with a private key", with(func(c *store.Client) {
			c.TokenEndpointAuthMethod, c.JWKS = PrivateKeyJWT, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
		}), []string{"jwks"}},
		{"private_key_jwt with an http jwks_uri", with(func(c *store.Client) {
			c.TokenEndpointAuthMethod, c.JWKSURI = PrivateKeyJWT, "http://keys.example.com/jwks"
		}), []string{"jwks_uri"}},
		{"public private_key_jwt", with(func(c *store.Client) {
			c.Type, c.TokenEndpointAuthMethod, c.JWKS = store.Public, PrivateKeyJWT, testJWKS
		}), []string{"token_endpoint_auth_method"}},
		{"keys for a secret client", with(func(c *store.Client) { c.JWKSURI = "https://keys.example.com/jwks" }),
			[]string{"jwks"}},
		{"public with a secret method", with(func(c *store.Client) {
			c.Type = store.Public
			c.TokenEndpointAuthMethod = "client_secret_basic"
		}), []string{"token_endpoint_auth_method"}},
		{"confidential with none", with(func(c *store.Client) { c.TokenEndpointAuthMethod = "none" }),
			[]string{"token_endpoint_auth_method"}},
		{"no grant types", with(func(c *store.Client) { c.GrantTypes = nil }), []string{"grant_types"}},
		{"unknown grant types", with(func(c *store.Client) {
			c.GrantTypes = []string{"authorization_code", "implicit", "urn:ietf:params:oauth:grant-type:saml2-bearer"}
		}),
			[]string{"grant_types[1]", "grant_types[2]"}},
		{"public client_credentials", store.Client{ID: "svc", Type: store.Public, GrantTypes: []string{"client_credentials"}},
			[]string{"grant_types"}},
		{"authorization_code without redirect URIs", with(func(c *store.Client) { c.RedirectURIs = nil }), []string{"redirect_uris"}},
		{"http on a public host", with(func(c *store.Client) { c.RedirectURIs = []string{"http://app.example.com/cb"} }),
			[]string{"redirect_uris[0]"}},
		{"fragment", with(func(c *store.Client) {
			c.RedirectURIs = []string{"https://app.example.com/ok", "https://app.example.com/cb#frag"}
		}), []string{"redirect_uris[1]"}},
		{"relative", with(func(c *store.Client) { c.RedirectURIs = []string{"/callback"} }), []string{"redirect_uris[0]"}},
		{"javascript post-logout", with(func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"javascript:alert(1)"} }),
			[]string{"post_logout_redirect_uris[0]"}},
		{"bad scope tokens", with(func(c *store.Client) { c.Scopes = []string{"openid", "two words", "", `quo"te`} }),
			[]string{"scopes[1]", "scopes[2]", "scopes[3]"}},
		{"HS256 id tokens", with(func(c *store.Client) { c.IDTokenSignedResponseAlg = "HS256" }), []string{"id_token_signed_response_alg"}},
		{"none id tokens", with(func(c *store.Client) { c.IDTokenSignedResponseAlg = "none" }), []string{"id_token_signed_response_alg"}},
		{"lower-case alg", with(func(c *store.Client) { c.IDTokenSignedResponseAlg = "es256" }), []string{"id_token_signed_response_alg"}},
		{"everything at once", store.Client{
			ID:                       "x",
			Type:                     store.Public,
			TokenEndpointAuthMethod:  "client_secret_post",
			GrantTypes:               []string{"authorization_code", "client_credentials", "magic"},
			PostLogoutRedirectURIs:   []string{"data:text/html,hi"},
			Scopes:                   []string{"a\\b"},
			IDTokenSignedResponseAlg: "PS256",
		}, []string{
			"client_id", "token_endpoint_auth_method", "grant_types[2]", "grant_types", "redirect_uris",
			"post_logout_redirect_uris[0]", "scopes[0]", "id_token_signed_response_alg",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			err := NormalizeClient(&c)
			if err == nil {
				t.Fatal("NormalizeClient accepted the client")
			}
			if d := cmp.Diff(tt.want, fieldsOf(t, err)); d != "" {
				t.Errorf("fields (-want +got):\n%s\nerror: %v", d, err)
			}
			// Each field is also named in the joined message, so a caller printing it shows all.
			for _, f := range tt.want {
				if !strings.Contains(err.Error(), f+": ") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com:8443/cb?x=1", true},
		{"HTTPS://APP.EXAMPLE.COM/cb", true},
		{"http://localhost/cb", true},
		{"http://localhost:8080/cb", true},
		{"http://127.0.0.1:49152/cb", true},
		{"http://[::1]:8080/cb", true},
		{"http://dev.localhost/cb", true},
		{"http://a.b.localhost:3000/cb", true},
		{"com.example.app:/cb", true},
		{"com.example.app:/oauth2redirect/example-provider", true},
		{"http://app.example.com/cb", false},
		{"http://localhost.example.com/cb", false},
		{"http://mylocalhost/cb", false},
		{"http://127.0.0.2/cb", false},
		{"http://10.0.0.1/cb", false},
		{"https://app.example.com/cb#", false},
		{"https://app.example.com/cb#state", false},
		{"com.example.app:/cb#x", false},
		{"https:///cb", false},
		{"https:/cb", false},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"file:///etc/passwd", false},
		{"vbscript:msgbox", false},
		{"/callback", false},
		{"callback", false},
		{"//app.example.com/cb", false},
		{"", false},
		{"https://app.example.com/%zz", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := checkRedirectURI(tt.uri)
			if (err == nil) != tt.ok {
				t.Errorf("checkRedirectURI(%q) = %v, want ok=%v", tt.uri, err, tt.ok)
			}
		})
	}
}

func TestValidScopeName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"openid", true},
		{"offline_access", true},
		{"admin:clients", true},
		{"https://api.example.com/read", true},
		{"!", true},
		{"~", true},
		{strings.Repeat("s", 200), true},
		{"", false},
		{strings.Repeat("s", 201), false},
		{"two words", false},
		{"tab\there", false},
		{"new\nline", false},
		{`double"quote`, false},
		{`back\slash`, false},
		{"del\x7f", false},
		{"ctl\x01", false},
		{"café", false},
	}
	for _, tt := range tests {
		if got := ValidScopeName(tt.name); got != tt.ok {
			t.Errorf("ValidScopeName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"empty", "", false},
		{"7 characters", "1234567", false},
		{"8 characters", "12345678", true},
		{"8 multi-byte characters", "ééééééé€", true},
		{"7 multi-byte characters (14 bytes)", "ééééééé", false},
		{"1024 characters", strings.Repeat("p", 1024), true},
		{"1025 characters", strings.Repeat("p", 1025), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckPassword: %v", err)
				}
				return
			}
			if d := cmp.Diff([]string{"password"}, fieldsOf(t, err)); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
}

func TestCheckUser(t *testing.T) {
	tests := []struct {
		name string
		user store.User
		want []string
	}{
		{"plain", store.User{Username: "alice", Email: "alice@example.com"}, nil},
		{"no email", store.User{Username: "alice"}, nil},
		{"username with symbols", store.User{Username: "a.l-i_c+e@corp"}, nil},
		{"username of 128", store.User{Username: strings.Repeat("a", 128)}, nil},
		{"empty username", store.User{}, []string{"username"}},
		{"username of 129", store.User{Username: strings.Repeat("a", 129)}, []string{"username"}},
		{"username with a space", store.User{Username: "alice smith"}, []string{"username"}},
		{"username with a slash", store.User{Username: "corp/alice"}, []string{"username"}},
		{"email without @", store.User{Username: "alice", Email: "alice.example.com"}, []string{"email"}},
		{"email with a space", store.User{Username: "alice", Email: "alice @example.com"}, []string{"email"}},
		{"email with a newline", store.User{Username: "alice", Email: "alice@example.com\n"}, []string{"email"}},
		{"both", store.User{Username: "", Email: "nope"}, []string{"username", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user
			if d := cmp.Diff(tt.want, fieldsOf(t, CheckUser(&u))); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
}

// newRegistry returns a Registry on a fresh database, with the clock at t0.
func newRegistry(t *testing.T) *Registry {
	t.Helper()
	s, err := store.Open(context.Background(), storetest.URL(t), store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(s.Close)
	return &Registry{Store: s, Clock: func() time.Time { return t0 }, Password: cheapPassword}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestCreateClient(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)

	tests := []struct {
		name       string
		client     store.Client
		wantSecret bool
	}{
		{"confidential with generated id", with(func(c *store.Client) { c.ID = "" }), true},
		{"confidential with given id", webClient(), true},
		{"public", with(func(c *store.Client) { c.ID = "spa"; c.Type = store.Public }), false},
		{"service", store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			givenID := c.ID
			secret, err := r.CreateClient(ctx, &c)
			if err != nil {
				t.Fatalf("CreateClient: %v", err)
			}
			if givenID == "" {
				if !hexID.MatchString(c.ID) {
					t.Errorf("generated id %q is not 32 hex digits", c.ID)
				}
			} else if c.ID != givenID {
				t.Errorf("id = %q, want %q", c.ID, givenID)
			}
			got, err := r.Store.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatalf("GetClient: %v", err)
			}
			if !tt.wantSecret {
				if secret != "" || len(got.SecretHash) != 0 {
					t.Errorf("public client got secret %q, stored hash %x", secret, got.SecretHash)
				}
				if got.TokenEndpointAuthMethod != "none" {
					t.Errorf("stored auth method %q, want none", got.TokenEndpointAuthMethod)
				}
				return
			}
			if len(secret) != 43 {
				t.Errorf("secret %q has %d characters, want 43", secret, len(secret))
			}
			sum := sha256.Sum256([]byte(secret))
			if !slices.Equal(got.SecretHash, sum[:]) {
				t.Errorf("stored hash %x, want SHA-256 of the secret %x", got.SecretHash, sum)
			}
			if !credentials.SecretMatches(secret, got.SecretHash) {
				t.Error("SecretMatches(secret, stored hash) = false")
			}
			if credentials.SecretMatches(secret+"x", got.SecretHash) {
				t.Error("SecretMatches(wrong secret, stored hash) = true")
			}
			if strings.Contains(string(got.SecretHash), secret) {
				t.Error("the secret is stored in clear")
			}
			if d := cmp.Diff(c.ResponseTypes, got.ResponseTypes); len(c.ResponseTypes) > 0 && d != "" {
				t.Errorf("stored response types (-want +got):\n%s", d)
			}
		})
	}

	t.Run("two generated ids differ", func(t *testing.T) {
		a, b := with(func(c *store.Client) { c.ID = "" }), with(func(c *store.Client) { c.ID = "" })
		sa, err := r.CreateClient(ctx, &a)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := r.CreateClient(ctx, &b)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == b.ID || sa == sb {
			t.Errorf("ids %q %q, secrets %q %q: want different", a.ID, b.ID, sa, sb)
		}
	})
}

func TestCreateClientDuplicate(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	first := webClient()
	if _, err := r.CreateClient(ctx, &first); err != nil {
		t.Fatalf("first CreateClient: %v", err)
	}
	second := with(func(c *store.Client) { c.Name = "Impostor" })
	secret, err := r.CreateClient(ctx, &second)
	if secret != "" {
		t.Errorf("duplicate returned secret %q", secret)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "client_id" {
		t.Fatalf("duplicate: error %v, want FieldError client_id", err)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: error %v does not wrap store.ErrConflict", err)
	}
	got, err := r.Store.GetClient(ctx, "web-app")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Web app" {
		t.Errorf("stored name %q, want the first registration's", got.Name)
	}
}

func TestCreateClientInvalidWritesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	c := with(func(c *store.Client) { c.RedirectURIs = []string{"http://evil.example.com/cb"} })
	secret, err := r.CreateClient(ctx, &c)
	if d := cmp.Diff([]string{"redirect_uris[0]"}, fieldsOf(t, err)); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if secret != "" {
		t.Errorf("secret %q for a refused client", secret)
	}
	if _, err := r.Store.GetClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient after refusal: %v, want ErrNotFound", err)
	}
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		grace time.Duration
	}{
		{"without grace", 0},
		{"with grace", 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t)
			c := webClient()
			old, err := r.CreateClient(ctx, &c)
			if err != nil {
				t.Fatal(err)
			}
			secret, err := r.RotateSecret(ctx, c.ID, tt.grace)
			if err != nil {
				t.Fatalf("RotateSecret: %v", err)
			}
			if len(secret) != 43 || secret == old {
				t.Fatalf("new secret %q (old %q): want 43 new characters", secret, old)
			}
			got, err := r.Store.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !credentials.SecretMatches(secret, got.SecretHash) {
				t.Error("new secret does not match the current hash")
			}
			if credentials.SecretMatches(old, got.SecretHash) {
				t.Error("old secret matches the current hash")
			}
			oldValid := credentials.SecretMatches(old, got.SecretHash, got.PreviousSecretHash)
			if tt.grace == 0 {
				if oldValid || len(got.PreviousSecretHash) != 0 || !got.PreviousSecretExpiresAt.IsZero() {
					t.Errorf("old secret valid=%v, previous hash %x until %v: want none", oldValid,
						got.PreviousSecretHash, got.PreviousSecretExpiresAt)
				}
				return
			}
			if !oldValid {
				t.Error("old secret not valid during the grace period")
			}
			if want := t0.Add(tt.grace); !got.PreviousSecretExpiresAt.Equal(want) {
				t.Errorf("PreviousSecretExpiresAt = %v, want %v", got.PreviousSecretExpiresAt, want)
			}
		})
	}
}

func TestRotateSecretErrors(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	spa := with(func(c *store.Client) { c.ID = "spa"; c.Type = store.Public })
	if _, err := r.CreateClient(ctx, &spa); err != nil {
		t.Fatal(err)
	}
	secret, err := r.RotateSecret(ctx, "spa", time.Hour)
	if d := cmp.Diff([]string{"client_id"}, fieldsOf(t, err)); d != "" || secret != "" {
		t.Errorf("public client: secret %q, fields (-want +got):\n%s", secret, d)
	}
	got, err := r.Store.GetClient(ctx, "spa")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.SecretHash) != 0 {
		t.Errorf("public client got a secret hash %x", got.SecretHash)
	}
	if _, err := r.RotateSecret(ctx, "nobody", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown client: %v, want ErrNotFound", err)
	}
}

func TestUpdateClient(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	c := with(func(c *store.Client) { c.ManagedBy = "k8s:team-a/web" })
	secret, err := r.CreateClient(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}

	upd := with(func(c *store.Client) {
		c.Name = "Renamed"
		c.RedirectURIs = []string{"https://new.example.com/cb"}
		c.ManagedBy = "someone-else"
	})
	if err := r.UpdateClient(ctx, &upd); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	got, err := r.Store.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Renamed" || !slices.Equal(got.RedirectURIs, []string{"https://new.example.com/cb"}) {
		t.Errorf("after update: name %q, redirect URIs %q", got.Name, got.RedirectURIs)
	}
	if got.ManagedBy != "k8s:team-a/web" {
		t.Errorf("ManagedBy = %q, want the original owner", got.ManagedBy)
	}
	if !credentials.SecretMatches(secret, got.SecretHash) {
		t.Error("update changed the secret")
	}

	tests := []struct {
		name   string
		client store.Client
		want   []string
	}{
		{"type change", with(func(c *store.Client) { c.Type = store.Public }), []string{"client_type"}},
		{"invalid", with(func(c *store.Client) { c.RedirectURIs = []string{"file:///x"} }), []string{"redirect_uris[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.client
			if d := cmp.Diff(tt.want, fieldsOf(t, r.UpdateClient(ctx, &u))); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		u := with(func(c *store.Client) { c.ID = "nobody" })
		if err := r.UpdateClient(ctx, &u); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateClient: %v, want ErrNotFound", err)
		}
	})
}

func TestScopes(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	if err := r.CreateScope(ctx, &store.Scope{Name: "api:read", Description: "read", ManagedBy: "k8s:ns/read"}); err != nil {
		t.Fatalf("CreateScope: %v", err)
	}
	tests := []struct {
		name     string
		scope    string
		conflict bool
	}{
		{"invalid token", "api read", false},
		{"empty", "", false},
		{"exists", "api:read", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.CreateScope(ctx, &store.Scope{Name: tt.scope})
			if d := cmp.Diff([]string{"name"}, fieldsOf(t, err)); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
			if errors.Is(err, store.ErrConflict) != tt.conflict {
				t.Errorf("errors.Is(%v, ErrConflict) = %v, want %v", err, !tt.conflict, tt.conflict)
			}
		})
	}

	if err := r.UpdateScope(ctx, &store.Scope{Name: "api:read", Description: "read things", Default: true}); err != nil {
		t.Fatalf("UpdateScope: %v", err)
	}
	got, err := r.Store.GetScope(ctx, "api:read")
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "read things" || !got.Default || got.ManagedBy != "k8s:ns/read" {
		t.Errorf("after UpdateScope: %+v; want new description and default, owner kept", got)
	}
	if err := r.UpdateScope(ctx, &store.Scope{Name: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateScope(unknown): %v, want ErrNotFound", err)
	}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	u := &store.User{Username: "alice", Email: "alice@example.com"}
	if err := r.CreateUser(ctx, u, "correct horse battery"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := r.Store.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", u.ID, err)
	}
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Errorf("password hash %q is not argon2id", got.PasswordHash)
	}
	if strings.Contains(got.PasswordHash, "correct horse") {
		t.Error("the password is stored in clear")
	}
	if credentials.NeedsRehash(got.PasswordHash, cheapPassword) {
		t.Errorf("hash %q not made with the Registry's parameters", got.PasswordHash)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false} {
		ok, err := credentials.VerifyPassword(got.PasswordHash, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}

	tests := []struct {
		name     string
		user     store.User
		password string
		want     []string
		conflict bool
	}{
		{"short password", store.User{Username: "bob"}, "short", []string{"password"}, false},
		{"bad username", store.User{Username: "bob smith"}, "long enough", []string{"username"}, false},
		{"bad email", store.User{Username: "bob", Email: "bob"}, "long enough", []string{"email"}, false},
		{"all wrong", store.User{Username: "", Email: "x y@z"}, "", []string{"username", "email", "password"}, false},
		{"username taken", store.User{Username: "alice"}, "long enough", []string{"username"}, true},
		{"email taken", store.User{Username: "alice2", Email: "alice@example.com"}, "long enough", []string{"username"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user
			err := r.CreateUser(ctx, &u, tt.password)
			if d := cmp.Diff(tt.want, fieldsOf(t, err)); d != "" {
				t.Errorf("fields (-want +got):\n%s\nerror: %v", d, err)
			}
			if errors.Is(err, store.ErrConflict) != tt.conflict {
				t.Errorf("errors.Is(%v, ErrConflict) != %v", err, tt.conflict)
			}
			if u.PasswordHash != "" && !tt.conflict {
				t.Error("a refused user got a password hash")
			}
		})
	}
	n, err := r.Store.ListUsers(ctx, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 1 {
		t.Errorf("%d users stored, want only alice", len(n))
	}
}
