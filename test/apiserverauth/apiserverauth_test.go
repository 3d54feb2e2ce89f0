/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package apiserverauth_test proves that a kube-apiserver accepts the Authly server's ID
// tokens through its structured authentication configuration (a jwt authenticator with
// claim mappings for username and groups), as the README documents: the API server is a
// strict relying party nobody here wrote, so discovery, the ID token's iss, aud, azp, exp
// and iat, and the groups claim are checked by its own code, with no special case on ours.
package apiserverauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// `make test` sets it; point at the pinned build for a plain `go test`.
		_ = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join("..", "..", "bin", "k8s"))
	}
	storetest.Main(m)
}

// idTokenTTL is short so that the test sees an ID token expire; the API server honours
// exp, and nothing else ends an ID token.
const idTokenTTL = 8 * time.Second

// authConfigTemplate is the README's AuthenticationConfiguration, with the test's issuer,
// CA and client id filled in.
const authConfigTemplate = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: %s
    certificateAuthority: |
%s
    audiences:
    - %s
  claimMappings:
    username:
      claim: preferred_username
      prefix: "authly:"
    groups:
      claim: groups
      prefix: "authly:"
`

func TestKubeAPIServerTrustsAuthlyIDTokens(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// The Authly server over https, with a CA of the test's own: the API server only
	// accepts an https issuer, and verifies its certificate against the configured CA.
	caPEM, serverCert := newCA(t)
	ts := httptest.NewUnstartedServer(nil)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.Issuer = ts.URL
	cfg.IDTokenTTL = idTokenTTL
	cfg.Password = credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Start(ctx)
	ts.Config.Handler = srv.Handler()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	ctx = oidc.ClientContext(ctx, httpClient)

	reg := &registry.Registry{Store: srv.Store(), Password: cfg.Password}
	alice := &store.User{Username: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev", "viewers"}}
	if err := reg.CreateUser(ctx, alice, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	// The client kubectl signs in with, as an OAuthClient or `authly admin client create`
	// registers it: first party (no consent page), with the groups scope.
	kubectl := &store.Client{Name: "kubectl", Type: store.Public, FirstParty: true,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"http://localhost:8000"},
		Scopes:       []string{"openid", "profile", "groups", "offline_access"}}
	if _, err := reg.CreateClient(ctx, kubectl); err != nil {
		t.Fatal(err)
	}

	// A second control plane, whose API server trusts the issuer.
	var ca strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(caPEM)), "\n") {
		ca.WriteString("      " + line + "\n")
	}
	authConfig := filepath.Join(t.TempDir(), "authentication-config.yaml")
	if err := os.WriteFile(authConfig, fmt.Appendf(nil, authConfigTemplate, ts.URL, strings.TrimRight(ca.String(), "\n"), kubectl.ID), 0o600); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{}
	env.ControlPlane.GetAPIServer().Configure().Set("authentication-config", authConfig)
	adminCfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: cannot start kube-apiserver and etcd from %s: %v", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	storetest.OnTeardown(func() { _ = env.Stop() })
	t.Cleanup(func() { _ = env.Stop() })
	adminClient := kubernetes.NewForConfigOrDie(adminCfg)

	// RBAC: the group authly:dev may list pods in default.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}}}
	if _, err := adminClient.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dev-pod-reader", Namespace: "default"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "authly:dev"}}}
	if _, err := adminClient.RbacV1().RoleBindings("default").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	provider, err := oidc.NewProvider(ctx, ts.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp := &relyingParty{
		conf: &oauth2.Config{ClientID: kubectl.ID, Endpoint: provider.Endpoint(), RedirectURL: kubectl.RedirectURIs[0],
			Scopes: []string{oidc.ScopeOpenID, "profile", "groups", oidc.ScopeOfflineAccess}},
		verifier: provider.Verifier(&oidc.Config{ClientID: kubectl.ID}),
		http:     httpClient,
		issuer:   ts.URL,
	}
	asUser := func(idToken string) *kubernetes.Clientset {
		c := rest.AnonymousClientConfig(adminCfg)
		c.BearerToken = idToken
		return kubernetes.NewForConfigOrDie(c)
	}

	// The API server initialises its JWT authenticator in the background (discovery,
	// then the JWKS): until then it answers 401. Each attempt signs in afresh, so that no
	// token grows old while it waits.
	var review *authenticationv1.SelfSubjectReview
	var first *oauth2.Token
	deadline := time.Now().Add(90 * time.Second)
	for {
		first = rp.signIn(ctx, t, "alice", "correct horse battery")
		review, err = asUser(idToken(t, first)).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err == nil || !apierrors.IsUnauthorized(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("SelfSubjectReview with the ID token: %v", err)
	}
	// What `kubectl auth whoami` shows.
	who := review.Status.UserInfo
	t.Logf("the API server accepted the ID token after %s: username %q, groups %v", time.Since(deadline.Add(-90*time.Second)).Round(time.Millisecond), who.Username, who.Groups)
	if who.Username != "authly:alice" {
		t.Errorf("username %q, want authly:alice", who.Username)
	}
	for _, g := range []string{"authly:dev", "authly:viewers", "system:authenticated"} {
		if !slices.Contains(who.Groups, g) {
			t.Errorf("groups %v lack %s", who.Groups, g)
		}
	}

	// The RoleBinding to authly:dev lets her list pods (RBAC learns of the binding
	// through its informer, hence the bounded wait).
	pods := func(tok *oauth2.Token) error {
		_, err := asUser(idToken(t, tok)).CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err
	}
	if err := eventually(10*time.Second, func() error { return pods(first) }); err != nil {
		t.Fatalf("list pods as a member of authly:dev: %v", err)
	}
	// Not beyond it.
	_, err = asUser(idToken(t, first)).CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list pods in kube-system: %v, want forbidden", err)
	}

	// Out of the group. A token issued before still says dev, and works until it
	// expires: ID tokens are not revocable, which is why their lifetime is short.
	before := rp.signIn(ctx, t, "alice", "correct horse battery")
	if _, err := reg.SetUserGroups(ctx, alice.ID, []string{"viewers"}); err != nil {
		t.Fatal(err)
	}
	if err := pods(before); err != nil {
		t.Fatalf("a token issued before the removal stopped working before it expired: %v", err)
	}
	// A token issued after it, by a new sign-in or by the refresh grant, has the new
	// groups, and RBAC refuses it.
	after := rp.signIn(ctx, t, "alice", "correct horse battery")
	refreshed, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	for name, tok := range map[string]*oauth2.Token{"signed in after the removal": after, "refreshed after the removal": refreshed} {
		review, err := asUser(idToken(t, tok)).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: SelfSubjectReview: %v", name, err)
		}
		if g := review.Status.UserInfo.Groups; slices.Contains(g, "authly:dev") || !slices.Contains(g, "authly:viewers") {
			t.Errorf("%s: groups %v, want authly:viewers without authly:dev", name, g)
		}
		if err := pods(tok); !apierrors.IsForbidden(err) {
			t.Errorf("%s: list pods: %v, want forbidden", name, err)
		}
	}
	// Once expired, the old token is refused outright.
	expiring := time.Now()
	err = eventually(idTokenTTL+30*time.Second, func() error {
		err := pods(before)
		if err == nil {
			return errors.New("the token issued before the removal is still accepted past its exp")
		}
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("the token issued before the removal: want 401 past its exp: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the token issued before the removal was refused %s after the wait began (ID token lifetime %s)", time.Since(expiring).Round(time.Millisecond), idTokenTTL)
}

// eventually calls f until it returns nil or within has passed, and returns its last error.
func eventually(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func idToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("the token response has no id_token")
	}
	return raw
}

// relyingParty signs a user in as kubectl's OIDC plugin would: the authorization code
// flow with PKCE, the login form posted as a browser would, the code exchanged with
// golang.org/x/oauth2 and the ID token checked with go-oidc.
type relyingParty struct {
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
	http     *http.Client
	issuer   string
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

func (rp *relyingParty) signIn(ctx context.Context, t *testing.T, username, password string) *oauth2.Token {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: rp.http.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier, nonce := oauth2.GenerateVerifier(), rand.Text()
	resp, err := browser.Get(rp.conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if !strings.Contains(page, `name="password"`) {
		t.Fatalf("expected the login page, got %d:\n%s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	form.Set("username", username)
	form.Set("password", password)
	form.Set("action", "login")
	resp, err = browser.PostForm(rp.issuer+"/api/v1/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode/100 != 3 || !strings.HasPrefix(loc.String(), rp.conf.RedirectURL) {
		t.Fatalf("login answered %d, Location %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "state-1" {
		t.Fatalf("callback %s", loc)
	}
	tok, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := rp.verifier.Verify(ctx, idToken(t, tok))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("ID token nonce %q, want %q", idt.Nonce, nonce)
	}
	return tok
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCA makes a throwaway CA and a certificate it signs for 127.0.0.1, valid for an hour.
func newCA(t *testing.T) (caPEM []byte, leaf tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authly test CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
