/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authly-dev/authly-operator/server/admin"
)

// testJWKS is a JWK Set with one public P-256 key (RFC 7515 appendix A.3).
const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256",` +
	`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

// The admin API registers private_key_jwt clients with jwks or jwks_uri, answers without
// a secret, shows the keys back, and names the field of a bad key set.
func TestPrivateKeyJWTClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/admin/clients", tokAll, `{"client_id":"signed","grant_types":["client_credentials"],`+
		`"token_endpoint_auth_method":"private_key_jwt","jwks":`+testJWKS+`}`)
	want(t, "create", r, http.StatusCreated)
	var c admin.Client
	r.json(t, &c)
	if c.ClientSecret != "" || c.ClientType != "confidential" || c.TokenEndpointAuthMethod != "private_key_jwt" || !strings.Contains(string(c.JWKS), `"k1"`) {
		t.Fatalf("created: %+v (jwks %s)", c, c.JWKS)
	}
	want(t, "rotate the secret it has not", e.do("POST", "/admin/clients/signed/secret", tokAll, ""), http.StatusBadRequest)

	r = e.do("PUT", "/admin/clients/signed", tokAll, `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt",`+
		`"jwks_uri":"https://keys.example.com/signed/jwks.json"}`)
	want(t, "update to a jwks_uri", r, http.StatusOK)
	c = admin.Client{}
	r.json(t, &c)
	if c.JWKSURI != "https://keys.example.com/signed/jwks.json" || len(c.JWKS) != 0 {
		t.Errorf("updated: jwks_uri %q jwks %s", c.JWKSURI, c.JWKS)
	}

	for _, bad := range []struct{ body, field string }{
		{`"token_endpoint_auth_method":"private_key_jwt"`, "jwks"},
		{`"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, "jwks"},
		{`"token_endpoint_auth_method":"private_key_jwt","jwks":"not a set"`, "jwks"},
		{`"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://keys.example.com/jwks"`, "jwks_uri"},
		{`"token_endpoint_auth_method":"private_key_jwt","jwks":` + testJWKS + `,"jwks_uri":"https://keys.example.com/jwks"`, "jwks_uri"},
		{`"jwks_uri":"https://keys.example.com/jwks"`, "jwks"},
	} {
		r := e.do("POST", "/admin/clients", tokAll, `{"grant_types":["client_credentials"],`+bad.body+`}`)
		want(t, bad.body, r, http.StatusBadRequest)
		if f := r.apiError(t).Field; f != bad.field {
			t.Errorf("%s: field %q, want %s", bad.body, f, bad.field)
		}
	}
}
