/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// `authly admin federated-issuer set` stores a cluster's JWKS and `authly admin client
// create --federated-...` registers a client that authenticates with its ServiceAccount's
// tokens, with no secret, in a database without the operator.
func TestAdminCLIFederatedIssuerAndClient(t *testing.T) {
	dbURL := storetest.URL(t)
	db := []string{"--database-url", dbURL}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	const issuer = "https://kubernetes.default.svc.cluster.local"
	out, err := runCLI(t, "", append([]string{"admin", "federated-issuer", "set", "--issuer", issuer, "--jwks-file", file}, db...)...)
	if err != nil {
		t.Fatal(err)
	}
	var fi admin.FederatedIssuer
	if err := json.Unmarshal([]byte(out), &fi); err != nil || fi.Issuer != issuer {
		t.Fatalf("set: %s (%v)", out, err)
	}
	// From standard input too; a JWKS without a key is refused, naming the field.
	if _, err := runCLI(t, `{"keys":[]}`, append([]string{"admin", "federated-issuer", "set", "--issuer", issuer}, db...)...); err == nil || !strings.Contains(err.Error(), "jwks") {
		t.Errorf("an empty JWKS: %v, want refused naming jwks", err)
	}

	out, err = runCLI(t, "", append([]string{"admin", "client", "create", "--client-id", "orders-worker", "--grant-types", "client_credentials",
		"--federated-issuer", issuer, "--federated-subject", "system:serviceaccount:shop:orders-worker",
		"--service-account-uid", "5f0c3a52-7d0e-4b8c-9d55-2e1f0b7c4a11"}, db...)...)
	if err != nil {
		t.Fatal(err)
	}
	var c admin.Client
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret != "" || c.TokenEndpointAuthMethod != "service_account_jwt" || c.ServiceAccountUID == "" {
		t.Errorf("created %+v: want no secret, service_account_jwt and the uid", c)
	}
	st, err := store.Open(context.Background(), dbURL, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	row, err := st.GetClient(context.Background(), "orders-worker")
	if err != nil || row.FederatedIssuer != issuer || len(row.SecretHash) != 0 {
		t.Errorf("row %+v (%v)", row, err)
	}
}
