/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/clientkeys"
	"github.com/authly-dev/authly-operator/server/store"
)

// ecJWK is a new P-256 public key as the spec holds it.
func ecJWK(t *testing.T, kid string) authlyv1.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return authlyv1.JSONWebKey{Kty: "EC", Crv: "P-256", Kid: kid, Alg: "ES256", Use: "sig", X: enc(raw[1:33]), Y: enc(raw[33:])}
}

// kidsOf are the kids of the JWK Set in a database row.
func kidsOf(row *store.Client) ([]string, error) {
	set, err := clientkeys.Parse(row.JWKS)
	if err != nil {
		return nil, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids, nil
}

func wantKids(want ...string) func(*store.Client) error {
	return func(row *store.Client) error {
		kids, err := kidsOf(row)
		if err != nil {
			return err
		}
		if !cmp.Equal(kids, want) {
			return fmt.Errorf("kids %q, want %q", kids, want)
		}
		return nil
	}
}

// A private_key_jwt client with inline keys: registered without a secret (none in its
// Secret, none in the database), its keys in the row and in status; a key rotation in the
// spec reaches the database.
func TestOAuthClientPrivateKeyJWTInline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})

	oc := waitReady(f, f.newOAuthClient("signed", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
		oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodPrivateKeyJWT
		oc.Spec.JWKS = &authlyv1.JSONWebKeySet{Keys: []authlyv1.JSONWebKey{ecJWK(t, "k1")}}
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	s := f.secret("signed-oauth")
	if _, ok := s.Data["client_secret"]; ok || string(s.Data["client_id"]) != oc.Status.ClientID {
		t.Errorf("private_key_jwt client's Secret keys: %v", keys(s.Data))
	}
	row := f.waitClient(oc.Status.ClientID, "registered with its keys", wantKids("k1"))
	if row.TokenEndpointAuthMethod != "private_key_jwt" || row.Type != store.Confidential || len(row.SecretHash) != 0 {
		t.Errorf("row: auth %s type %s secret hash %x", row.TokenEndpointAuthMethod, row.Type, row.SecretHash)
	}
	if want := []authlyv1.RegisteredKey{{Kid: "k1", Kty: "EC", Alg: "ES256"}}; !cmp.Equal(oc.Status.RegisteredKeys, want) || oc.Status.CredentialsVersion != 0 {
		t.Errorf("status: keys %+v credentialsVersion %d", oc.Status.RegisteredKeys, oc.Status.CredentialsVersion)
	}

	f.updateOAuthClient("signed", func(oc *authlyv1.OAuthClient) {
		oc.Spec.JWKS.Keys = append(oc.Spec.JWKS.Keys, ecJWK(t, "k2"))
	})
	f.waitClient(oc.Status.ClientID, "the rotated keys", wantKids("k1", "k2"))
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if len(oc.Status.RegisteredKeys) != 2 {
		t.Errorf("status keys after rotation: %+v", oc.Status.RegisteredKeys)
	}
}

// Keys from a Secret: the client waits, saying why, until the Secret exists; a change of
// the Secret reaches the database; a Secret holding a private key is refused, naming
// spec.jwksSecretRef.
func TestOAuthClientPrivateKeyJWTFromSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("signed", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
		oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodPrivateKeyJWT
		oc.Spec.JWKSSecretRef = &authlyv1.KeySecretRef{Name: "signed-keys", Key: "jwks.json"}
	}), metav1.ConditionFalse, authlyv1.ReasonInvalidSpec)
	if msg := readyMessage(oc.Status.Conditions); !strings.Contains(msg, "spec.jwksSecretRef") {
		t.Errorf("message %q does not name spec.jwksSecretRef", msg)
	}

	setJSON := func(keys ...authlyv1.JSONWebKey) []byte {
		raw, err := json.Marshal(authlyv1.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	keysSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "signed-keys"},
		Data: map[string][]byte{"jwks.json": setJSON(ecJWK(t, "a"))}}
	if err := f.c.Create(ctx, keysSecret); err != nil {
		t.Fatal(err)
	}
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	f.waitClient(oc.Status.ClientID, "keys from the Secret", wantKids("a"))

	keysSecret.Data["jwks.json"] = setJSON(ecJWK(t, "b"))
	if err := f.c.Update(ctx, keysSecret); err != nil {
		t.Fatal(err)
	}
	f.waitClient(oc.Status.ClientID, "keys after the Secret changed", wantKids("b"))

	private := `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}]}`
	keysSecret.Data["jwks.json"] = []byte(private)
	if err := f.c.Update(ctx, keysSecret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a private key refused", func() error {
		if err := f.c.Get(ctx, f.key("signed"), oc); err != nil {
			return err
		}
		msg := readyMessage(oc.Status.Conditions)
		if !strings.Contains(msg, "spec.jwksSecretRef") || !strings.Contains(msg, `"d"`) {
			return errors.New("Ready says: " + msg)
		}
		return nil
	})
	f.waitClient(oc.Status.ClientID, "the last good keys kept", wantKids("b"))
}

// A jwksUri is registered as it is: the server fetches it, the operator does not.
func TestOAuthClientPrivateKeyJWTURI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	oc := waitReady(f, f.newOAuthClient("signed", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
		oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodPrivateKeyJWT
		oc.Spec.JWKSURI = "https://keys.team-a.example.com/jwks.json"
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	row := f.waitClient(oc.Status.ClientID, "registered with its jwks_uri", func(c *store.Client) error {
		if c.JWKSURI != "https://keys.team-a.example.com/jwks.json" || c.JWKS != nil {
			return fmt.Errorf("jwks_uri %q jwks %s", c.JWKSURI, c.JWKS)
		}
		return nil
	})
	if len(row.SecretHash) != 0 || len(oc.Status.RegisteredKeys) != 0 {
		t.Errorf("secret hash %x, status keys %+v", row.SecretHash, oc.Status.RegisteredKeys)
	}
}

// A client that moves from a secret to private_key_jwt loses its secret: in its Secret
// and in the database.
func TestOAuthClientMovesToPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	f.start(operator{})
	oc := waitReady(f, f.newOAuthClient("svc", func(oc *authlyv1.OAuthClient) {
		oc.Spec.GrantTypes = []authlyv1.GrantType{authlyv1.GrantClientCredentials}
		oc.Spec.RedirectURIs = nil
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	if _, ok := f.secret("svc-oauth").Data["client_secret"]; !ok {
		t.Fatal("the confidential client has no client_secret to begin with")
	}
	f.updateOAuthClient("svc", func(oc *authlyv1.OAuthClient) {
		oc.Spec.TokenEndpointAuthMethod = authlyv1.AuthMethodPrivateKeyJWT
		oc.Spec.JWKS = &authlyv1.JSONWebKeySet{Keys: []authlyv1.JSONWebKey{ecJWK(t, "k1")}}
	})
	f.waitClient(oc.Status.ClientID, "the row without a secret", func(c *store.Client) error {
		if len(c.SecretHash) != 0 || len(c.PreviousSecretHash) != 0 || c.TokenEndpointAuthMethod != "private_key_jwt" {
			return fmt.Errorf("auth %s, secret hash %x, previous %x", c.TokenEndpointAuthMethod, c.SecretHash, c.PreviousSecretHash)
		}
		return wantKids("k1")(c)
	})
	oc = waitReady(f, oc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if _, ok := f.secret("svc-oauth").Data["client_secret"]; ok || oc.Status.CredentialsVersion != 0 {
		t.Errorf("after the move: Secret keys %v, credentialsVersion %d", keys(f.secret("svc-oauth").Data), oc.Status.CredentialsVersion)
	}
}
