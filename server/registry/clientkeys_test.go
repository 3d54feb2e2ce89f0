/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

// testJWKS is a JWK Set with one public P-256 key.
var testJWKS = []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig",` +
	`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)

// A private_key_jwt client is registered without a secret; its secret cannot be
// rotated; a client that moves to private_key_jwt loses the secret it had.
func TestPrivateKeyJWTClientHasNoSecret(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	c := &store.Client{Name: "signed", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: PrivateKeyJWT, JWKS: testJWKS}
	secret, err := r.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || c.SecretHash != nil || c.Type != store.Confidential {
		t.Fatalf("private_key_jwt client: secret %q, hash %x, type %s", secret, c.SecretHash, c.Type)
	}
	var fe *FieldError
	if _, err := r.RotateSecret(ctx, c.ID, 0); !errors.As(err, &fe) {
		t.Errorf("RotateSecret of a private_key_jwt client: %v, want a FieldError", err)
	}

	web := &store.Client{Name: "moves", GrantTypes: []string{"client_credentials"}}
	if secret, err = r.CreateClient(ctx, web); err != nil || secret == "" {
		t.Fatalf("CreateClient: %q, %v", secret, err)
	}
	if _, err := r.RotateSecret(ctx, web.ID, 3600e9); err != nil {
		t.Fatal(err)
	}
	web.TokenEndpointAuthMethod, web.JWKSURI = PrivateKeyJWT, "https://keys.example.com/jwks.json"
	if err := r.UpdateClient(ctx, web); err != nil {
		t.Fatal(err)
	}
	got, err := r.Store.GetClient(ctx, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretHash != nil || got.PreviousSecretHash != nil || got.JWKSURI != web.JWKSURI {
		t.Errorf("after moving to private_key_jwt: secret %x previous %x jwks_uri %q", got.SecretHash, got.PreviousSecretHash, got.JWKSURI)
	}
}
