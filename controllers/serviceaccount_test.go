/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/store"
)

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authlyServer runs the OAuth server on the fixture's database with issuer testIssuer
// (the AuthServer's), on a clock the test can move forward.
type authlyServer struct {
	url    string
	offset atomic.Int64
}

func (f *fixture) startAuthlyServer() *authlyServer {
	f.t.Helper()
	a := &authlyServer{}
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = f.dbURL
	cfg.Issuer = testIssuer
	cfg.PoolMaxConns = 4
	cfg.Clock = func() time.Time { return time.Now().Add(time.Duration(a.offset.Load())) }
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(srv.Close)
	srv.Start(ctx)
	ts := httptest.NewServer(srv.Handler())
	f.t.Cleanup(ts.Close)
	a.url = ts.URL
	return a
}

// tokenAnswer posts a client_credentials request authenticated with a ServiceAccount
// token and returns the status and the OAuth error code.
func (a *authlyServer) tokenAnswer(t *testing.T, clientID, assertion string) (int, string, http.Header) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {assertion}}
	resp, err := http.Post(a.url+"/api/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error, resp.Header
}

func (a *authlyServer) assertRefused(t *testing.T, what, clientID, assertion string) {
	t.Helper()
	status, code, h := a.tokenAnswer(t, clientID, assertion)
	if status != http.StatusUnauthorized || code != "invalid_client" || h.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: status %d error %q WWW-Authenticate %q, want 401 invalid_client with a challenge", what, status, code, h.Get("WWW-Authenticate"))
	}
}

// serviceAccountToken asks the API server's TokenRequest API for a token of the
// ServiceAccount with that audience, as the kubelet does for a projected volume.
func serviceAccountToken(t *testing.T, cs kubernetes.Interface, ns, name, audience string) string {
	t.Helper()
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

func createServiceAccount(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.ServiceAccount {
	t.Helper()
	sa, err := cs.CoreV1().ServiceAccounts(ns).Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// Issue 15 part 2 end to end: the real kube-apiserver issues a ServiceAccount token
// through the TokenRequest API, the operator has registered the client with the
// ServiceAccount's uid and stored the cluster's issuer keys (read from the API server's
// discovery endpoints) in the AuthServer's database, and the server accepts the token at
// its token endpoint. Tokens of another ServiceAccount, another audience, expired, or of
// another issuer are refused with invalid_client; a kid the keys lack makes the server ask
// for a refresh, which the operator carries out; a ServiceAccount deleted and created
// again gets its new uid recorded, and the old one's token is refused.
func TestServiceAccountClientEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{FederationPoll: 200 * time.Millisecond, ServerWaitPeriod: 500 * time.Millisecond})
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sa := createServiceAccount(t, cs, f.ns, "orders-worker")
	createServiceAccount(t, cs, f.ns, "payments")
	authly := f.startAuthlyServer()

	oc := waitReady(f, f.newOAuthClient("orders-worker", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
		oc.Spec.Scopes = []string{"orders:read"}
		oc.Spec.ServiceAccountName = "orders-worker"
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	clientID := oc.Status.ClientID
	if oc.Status.ServiceAccountUID != string(sa.UID) || oc.Status.SecretName != "" || oc.Status.CredentialsVersion != 0 {
		t.Errorf("status %+v: want serviceAccountUid %s, no secretName, credentialsVersion 0", oc.Status, sa.UID)
	}
	var secret corev1.Secret
	if err := f.c.Get(ctx, f.key("orders-worker-oauth"), &secret); !apierrors.IsNotFound(err) {
		t.Errorf("a Secret was written for a ServiceAccount client (get: %v)", err)
	}
	row, err := f.st.GetClient(ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	if row.FederatedSubject != "system:serviceaccount:"+f.ns+":orders-worker" || row.ServiceAccountUID != string(sa.UID) ||
		row.TokenEndpointAuthMethod != "service_account_jwt" || len(row.SecretHash) != 0 {
		t.Errorf("database row %+v", row)
	}
	issuer, err := f.st.GetFederatedIssuer(ctx, row.FederatedIssuer)
	if err != nil {
		t.Fatalf("the cluster's issuer %q is not stored: %v", row.FederatedIssuer, err)
	}
	t.Logf("the cluster's ServiceAccount issuer: %s", issuer.Issuer)
	clusterKeys, err := federation.ParseJWKS(issuer.JWKS)
	if err != nil {
		t.Fatal(err)
	}

	// The pod's projected token, as the application posts it with golang.org/x/oauth2.
	good := serviceAccountToken(t, cs, f.ns, "orders-worker", testIssuer)
	cc := clientcredentials.Config{ClientID: clientID, TokenURL: authly.url + "/api/v1/oauth/token",
		AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{
			"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {good}}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials with the ServiceAccount token: %v", err)
	}
	if tok.AccessToken == "" || tok.Extra("scope") != "orders:read" {
		t.Errorf("token response: access token %d bytes, scope %v", len(tok.AccessToken), tok.Extra("scope"))
	}

	authly.assertRefused(t, "a token of another ServiceAccount", clientID, serviceAccountToken(t, cs, f.ns, "payments", testIssuer))
	authly.assertRefused(t, "a token with another audience", clientID, serviceAccountToken(t, cs, f.ns, "orders-worker", "https://api.other.example.com"))
	// Expired: TokenRequest issues at least 10 minutes, so the server's clock moves past
	// the real token's exp (1 hour) instead.
	authly.offset.Store(int64(61 * time.Minute))
	authly.assertRefused(t, "an expired token", clientID, good)
	authly.offset.Store(0)
	// Another issuer: a look-alike signed with a key of our own, naming the cluster's kid.
	var clusterKID string
	for kid := range clusterKeys {
		clusterKID = kid
	}
	own, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	lookAlike := func(iss, kid string) string {
		now := time.Now()
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": iss, "sub": row.FederatedSubject, "aud": []string{testIssuer},
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"namespace": f.ns, "serviceaccount": map[string]any{"name": "orders-worker", "uid": string(sa.UID)}},
		})
		tk.Header["kid"] = kid
		s, err := tk.SignedString(own)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	authly.assertRefused(t, "a token of another issuer", clientID, lookAlike("https://other-cluster.example.com", clusterKID))
	authly.assertRefused(t, "the cluster's issuer and kid, another key", clientID, lookAlike(row.FederatedIssuer, clusterKID))

	// A kid the stored keys lack (as after a rotation of the cluster's key): refused, and
	// the server asks for a refresh, which the operator answers within its poll.
	before, _ := f.st.GetFederatedIssuer(ctx, row.FederatedIssuer)
	authly.assertRefused(t, "an unknown kid", clientID, lookAlike(row.FederatedIssuer, "rotated-key"))
	refusedAt := time.Now()
	eventually(t, "the operator to fetch the keys again on the server's request", func() error {
		got, err := f.st.GetFederatedIssuer(ctx, row.FederatedIssuer)
		if err != nil {
			return err
		}
		if !got.RefreshRequestedAt.IsZero() || !got.FetchedAt.After(before.FetchedAt) {
			return fmt.Errorf("refresh requested at %v, keys fetched at %v (before: %v)", got.RefreshRequestedAt, got.FetchedAt, before.FetchedAt)
		}
		return nil
	})
	t.Logf("keys fetched again %v after the unknown kid was refused (operator poll 200ms)", time.Since(refusedAt).Round(time.Millisecond))

	// The ServiceAccount deleted: no uid, every token refused, Ready=False.
	if err := cs.CoreV1().ServiceAccounts(f.ns).Delete(ctx, "orders-worker", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReady(f, oc, metav1.ConditionFalse, authlyv1.ReasonServiceAccountNotFound)
	f.waitClient(clientID, "uid cleared", func(c *store.Client) error {
		if c.ServiceAccountUID != "" {
			return fmt.Errorf("uid %s", c.ServiceAccountUID)
		}
		return nil
	})
	eventually(t, "the deleted ServiceAccount's token refused", func() error {
		if status, _, _ := authly.tokenAnswer(t, clientID, good); status != http.StatusUnauthorized {
			return fmt.Errorf("status %d", status)
		}
		return nil
	})
	// Created again under the same name: a new uid, recorded; the old token stays refused.
	recreated := createServiceAccount(t, cs, f.ns, "orders-worker")
	if recreated.UID == sa.UID {
		t.Fatal("the recreated ServiceAccount has the old uid")
	}
	waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	f.waitClient(clientID, "the new uid recorded", func(c *store.Client) error {
		if c.ServiceAccountUID != string(recreated.UID) {
			return fmt.Errorf("uid %q, want %s", c.ServiceAccountUID, recreated.UID)
		}
		return nil
	})
	fresh := serviceAccountToken(t, cs, f.ns, "orders-worker", testIssuer)
	eventually(t, "the recreated ServiceAccount's token accepted", func() error {
		if status, code, _ := authly.tokenAnswer(t, clientID, fresh); status != http.StatusOK {
			return fmt.Errorf("status %d %s", status, code)
		}
		return nil
	})
	authly.assertRefused(t, "the old ServiceAccount's token after it was recreated", clientID, good)

	// Deleting the OAuthClient removes the client.
	f.delete(oc)
	f.waitClientGone(clientID)
	authly.assertRefused(t, "a token after the client was deleted", clientID, fresh)
}

// A client whose ServiceAccount does not exist is registered without a uid and says why
// it is not ready; the schema refuses serviceAccountName with a secret or a public client,
// naming the field.
func TestServiceAccountClientValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{ServerWaitPeriod: 500 * time.Millisecond})
	oc := waitReady(f, f.newOAuthClient("lonely", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
		oc.Spec.ServiceAccountName = "not-there"
	}), metav1.ConditionFalse, authlyv1.ReasonServiceAccountNotFound)
	row, err := f.st.GetClient(context.Background(), oc.Status.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if row.ServiceAccountUID != "" || row.FederatedSubject != "system:serviceaccount:"+f.ns+":not-there" {
		t.Errorf("row of a client whose ServiceAccount is missing: %+v", row)
	}

	for _, tc := range []struct {
		name, field string
		mutate      func(*authlyv1.OAuthClient)
	}{
		{"public", "spec.type", func(oc *authlyv1.OAuthClient) { oc.Spec.Type = authlyv1.ClientPublic }},
		{"with-auth-method", "spec.tokenEndpointAuthMethod", func(oc *authlyv1.OAuthClient) {
			oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodClientSecretPost
		}},
		{"with-secret-name", "spec.secretName", func(oc *authlyv1.OAuthClient) { oc.Spec.SecretName = "creds" }},
		{"bad-name", "spec.serviceAccountName", func(oc *authlyv1.OAuthClient) { oc.Spec.ServiceAccountName = "Not_A_Name" }},
	} {
		oc := &authlyv1.OAuthClient{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: tc.name},
			Spec: authlyv1.OAuthClientSpec{
				AuthServerRef:      authlyv1.ServerReference{Name: testServer},
				GrantTypes:         []authlyv1.GrantType{authlyv1.GrantClientCredentials},
				ServiceAccountName: "worker",
			},
		}
		tc.mutate(oc)
		err := f.c.Create(context.Background(), oc)
		var status apierrors.APIStatus
		if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
			t.Errorf("%s: create: %v, want Invalid", tc.name, err)
			continue
		}
		found := false
		for _, c := range status.Status().Details.Causes {
			found = found || c.Field == tc.field
		}
		if !found {
			t.Errorf("%s: causes %+v, want field %s", tc.name, status.Status().Details.Causes, tc.field)
		}
	}
}
