/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestUseClientAssertionRefusesReplayUntilExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	exp := t0.Add(time.Minute)

	wantErr(t, "first use", s.UseClientAssertion(ctx, "svc", "jti-1", exp, t0), nil)
	wantErr(t, "replay", s.UseClientAssertion(ctx, "svc", "jti-1", exp, t0.Add(30*time.Second)), store.ErrAlreadyUsed)
	// The jti is the client's: another client may pick the same one.
	wantErr(t, "same jti, other client", s.UseClientAssertion(ctx, "other", "jti-1", exp, t0), nil)
	// Once the first assertion has expired (not yet purged), the jti is free again.
	wantErr(t, "after expiry", s.UseClientAssertion(ctx, "svc", "jti-1", exp.Add(time.Minute), exp), nil)
	wantErr(t, "replay of the second", s.UseClientAssertion(ctx, "svc", "jti-1", exp.Add(time.Minute), exp), store.ErrAlreadyUsed)
}

func TestClientKeysRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	jwks := `{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "AA", "y": "BB"}]}`
	c := &store.Client{ID: "pkjwt", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: []byte(jwks)}
	wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
	got, err := s.GetClient(ctx, c.ID)
	wantErr(t, "GetClient", err, nil)
	if got.JWKSURI != "" || len(got.JWKS) == 0 || got.SecretHash != nil {
		t.Fatalf("read back jwks %q jwks_uri %q secret %x", got.JWKS, got.JWKSURI, got.SecretHash)
	}
	// jsonb normalises the document; what matters is that it is the same set.
	if want := `{"keys": [{"x": "AA", "y": "BB", "crv": "P-256", "kid": "k1", "kty": "EC"}]}`; string(got.JWKS) != want {
		t.Errorf("jwks read back %s, want %s", got.JWKS, want)
	}

	got.JWKS, got.JWKSURI = nil, "https://keys.example.com/jwks.json"
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, got), nil)
	again, err := s.GetClient(ctx, c.ID)
	wantErr(t, "GetClient", err, nil)
	if again.JWKS != nil || again.JWKSURI != "https://keys.example.com/jwks.json" {
		t.Errorf("after update: jwks %q jwks_uri %q", again.JWKS, again.JWKSURI)
	}

	// Both sources at once is refused by the schema.
	again.JWKS = []byte(jwks)
	if err := s.UpdateClient(ctx, again); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("jwks and jwks_uri together: %v, want ErrInvalid", err)
	}
}
