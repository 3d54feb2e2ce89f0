/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
