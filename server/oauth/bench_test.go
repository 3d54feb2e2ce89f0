/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// benchClients is a Clients that holds one client in memory, as the server's cache does
// after the first lookup: the benchmark measures client authentication, not the database.
type benchClients struct{ client *store.Client }

func (c benchClients) Client(_ context.Context, id string) (*store.Client, error) {
	if id == c.client.ID {
		return c.client, nil
	}
	return nil, store.ErrNotFound
}

// BenchmarkAuthenticateClient is client authentication on the token, introspection and
// revocation endpoints with a cached client: parsing the credentials and the constant-time
// SHA-256 secret comparison.
func BenchmarkAuthenticateClient(b *testing.B) {
	const id, secret = "bench-service", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0"
	client := &store.Client{ID: id, Type: store.Confidential, TokenEndpointAuthMethod: AuthSecretBasic,
		GrantTypes: []string{GrantClientCredentials}, SecretHash: credentials.HashSecret(secret)}
	postClient := *client
	postClient.TokenEndpointAuthMethod = AuthSecretPost
	for _, bc := range []struct {
		name   string
		client *store.Client
		header string
		form   form
	}{
		{AuthSecretBasic, client, "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), form{"grant_type": GrantClientCredentials}},
		{AuthSecretPost, &postClient, "", form{"grant_type": GrantClientCredentials, "client_id": id, "client_secret": secret}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := &Provider{clients: benchClients{bc.client}, now: time.Now}
			r := httptest.NewRequest(http.MethodPost, PathToken, nil)
			if bc.header != "" {
				r.Header.Set("Authorization", bc.header)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.authenticateClient(ctx, r, bc.form); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticatePrivateKeyJWT is private_key_jwt client authentication with an
// inline ES256 key and a cached client: parsing the registered JWK Set, verifying the
// assertion's signature and claims, and recording its jti in the (in-memory) store. Each
// iteration needs a fresh assertion (its jti is single use); signing it is outside the
// timer.
func BenchmarkAuthenticatePrivateKeyJWT(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		b.Fatal(err)
	}
	const id = "bench-signed"
	client := &store.Client{ID: id, Type: store.Confidential, TokenEndpointAuthMethod: AuthPrivateKeyJWT,
		GrantTypes: []string{GrantClientCredentials}, JWKS: raw}
	cfg := Config{Issuer: fuzzIssuer}
	if err := cfg.SetDefaults(); err != nil {
		b.Fatal(err)
	}
	p := &Provider{cfg: cfg, clients: benchClients{client}, store: newFakeStore(), now: time.Now,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := httptest.NewRequest(http.MethodPost, PathToken, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": id, "sub": id, "aud": fuzzIssuer + PathToken,
			"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": rand.Text()})
		tok.Header["kid"] = "k1"
		assertion, err := tok.SignedString(key)
		if err != nil {
			b.Fatal(err)
		}
		f := form{"grant_type": GrantClientCredentials, "client_assertion_type": ClientAssertionTypeJWTBearer, "client_assertion": assertion}
		b.StartTimer()
		if _, err := p.authenticateClient(ctx, r, f); err != nil {
			b.Fatal(err)
		}
	}
}
