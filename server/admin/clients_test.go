/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// noSecretHash fails the test if the body shows the client's stored secret hashes in any
// encoding JSON could give them.
func noSecretHash(t *testing.T, e *env, clientID, body string) {
	t.Helper()
	c, err := e.store.GetClient(e.ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]byte{c.SecretHash, c.PreviousSecretHash} {
		if len(h) == 0 {
			continue
		}
		for _, enc := range []string{hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h)} {
			if strings.Contains(body, enc) {
				t.Fatalf("answer shows a secret hash: %s", body)
			}
		}
	}
	if strings.Contains(body, "secret_hash") {
		t.Fatalf("answer has a secret_hash field: %s", body)
	}
}

func TestClientsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	create := admin.ClientRequest{
		ClientID: "web-app", ClientName: "Web app",
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://web.example.com/cb"}, Scopes: []string{"openid", "orders:read"},
	}
	r := e.do("POST", "/admin/clients", tokAll, mustJSON(t, create))
	want(t, "create", r, http.StatusCreated)
	if loc := r.header.Get("Location"); loc != "/admin/clients/web-app" {
		t.Errorf("Location %q", loc)
	}
	var created admin.Client
	r.json(t, &created)
	if len(created.ClientSecret) < 43 {
		t.Fatalf("create answered no usable secret: %+v", created)
	}
	stored, err := e.store.GetClient(e.ctx, "web-app")
	if err != nil {
		t.Fatal(err)
	}
	if !credentials.SecretMatches(created.ClientSecret, stored.SecretHash) {
		t.Fatal("the secret shown is not the one stored")
	}
	noSecretHash(t, e, "web-app", r.body)
	wantView := admin.Client{
		ClientID: "web-app", ClientName: "Web app", ClientType: "confidential",
		RedirectURIs: []string{"https://web.example.com/cb"}, PostLogoutRedirectURIs: []string{},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "orders:read"}, TokenEndpointAuthMethod: "client_secret_basic",
		CreatedAt: created.CreatedAt, UpdatedAt: created.UpdatedAt,
	}
	firstSecret := created.ClientSecret
	created.ClientSecret = ""
	if d := cmp.Diff(wantView, created); d != "" {
		t.Errorf("created client (-want +got):\n%s", d)
	}

	r = e.do("GET", "/admin/clients/web-app", tokRead, "")
	want(t, "get", r, http.StatusOK)
	var got admin.Client
	r.json(t, &got)
	if strings.Contains(r.body, `"client_secret"`) {
		t.Errorf("GET shows a client_secret: %s", r.body)
	}
	noSecretHash(t, e, "web-app", r.body)
	if d := cmp.Diff(wantView, got, cmpTimes); d != "" {
		t.Errorf("got client (-want +got):\n%s", d)
	}

	// PUT replaces every field but the secret.
	update := admin.ClientRequest{
		ClientName: "Web app v2", GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:write"},
		TokenEndpointAuthMethod: "client_secret_post",
	}
	r = e.do("PUT", "/admin/clients/web-app", tokAll, mustJSON(t, update))
	want(t, "update", r, http.StatusOK)
	r.json(t, &got)
	if got.ClientName != "Web app v2" || len(got.RedirectURIs) != 0 || got.TokenEndpointAuthMethod != "client_secret_post" ||
		!cmp.Equal(got.GrantTypes, []string{"client_credentials"}) || len(got.ResponseTypes) != 0 || got.ClientSecret != "" {
		t.Errorf("updated client: %+v", got)
	}
	after, _ := e.store.GetClient(e.ctx, "web-app")
	if !cmp.Equal(after.SecretHash, stored.SecretHash) {
		t.Error("PUT changed the secret")
	}
	r = e.do("PUT", "/admin/clients/web-app", tokAll, `{"client_id":"other","grant_types":["client_credentials"]}`)
	want(t, "update with another client_id", r, http.StatusBadRequest)
	if f := r.apiError(t).Field; f != "client_id" {
		t.Errorf("field %q, want client_id", f)
	}
	r = e.do("PUT", "/admin/clients/web-app", tokAll, `{"client_type":"public","grant_types":["password"]}`)
	want(t, "update changing the type", r, http.StatusBadRequest)
	if f := r.apiError(t).Field; f != "client_type" {
		t.Errorf("field %q, want client_type", f)
	}
	want(t, "update unknown", e.do("PUT", "/admin/clients/nope", tokAll, `{"grant_types":["client_credentials"]}`), http.StatusNotFound)

	// Rotation: a new secret, shown once; the old one works for the grace period.
	r = e.do("POST", "/admin/clients/web-app/secret", tokAll, `{"grace_period_seconds":3600}`)
	want(t, "rotate", r, http.StatusOK)
	var rotated admin.Client
	r.json(t, &rotated)
	after, _ = e.store.GetClient(e.ctx, "web-app")
	if rotated.ClientSecret == "" || rotated.ClientSecret == firstSecret ||
		!credentials.SecretMatches(rotated.ClientSecret, after.SecretHash) ||
		!credentials.SecretMatches(firstSecret, after.PreviousSecretHash) {
		t.Fatal("rotation did not install the new secret and keep the old one as previous")
	}
	if rotated.PreviousSecretExpiresAt == nil || rotated.PreviousSecretExpiresAt.Before(time.Now().Add(59*time.Minute)) {
		t.Errorf("previous_secret_expires_at %v, want about an hour from now", rotated.PreviousSecretExpiresAt)
	}
	noSecretHash(t, e, "web-app", r.body)
	// Without a body, the old secret stops at once.
	r = e.doCT("POST", "/admin/clients/web-app/secret", tokAll, "", "")
	want(t, "rotate without body", r, http.StatusOK)
	after, _ = e.store.GetClient(e.ctx, "web-app")
	if len(after.PreviousSecretHash) != 0 {
		t.Error("rotation without grace kept the previous secret")
	}
	want(t, "rotate unknown", e.do("POST", "/admin/clients/nope/secret", tokAll, `{}`), http.StatusNotFound)

	// Duplicate id: 409 naming the field.
	r = e.do("POST", "/admin/clients", tokAll, mustJSON(t, create))
	want(t, "create again", r, http.StatusConflict)
	if ae := r.apiError(t); ae.Code != admin.ErrConflict || ae.Field != "client_id" {
		t.Errorf("duplicate: %+v", ae)
	}

	// A public client has no secret, and rotating one is refused.
	r = e.do("POST", "/admin/clients", tokAll, `{"client_id":"spa","token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["http://localhost:3000/cb"]}`)
	want(t, "create public", r, http.StatusCreated)
	var spa admin.Client
	r.json(t, &spa)
	if spa.ClientType != "public" || spa.ClientSecret != "" {
		t.Errorf("public client: %+v", spa)
	}
	want(t, "rotate public", e.do("POST", "/admin/clients/spa/secret", tokAll, ""), http.StatusBadRequest)

	// A command-line tool of the device flow (RFC 8628): public, no redirect URIs.
	r = e.do("POST", "/admin/clients", tokAll, `{"client_id":"orders-cli","token_endpoint_auth_method":"none",`+
		`"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"scopes":["openid"]}`)
	want(t, "create device client", r, http.StatusCreated)
	var cli admin.Client
	r.json(t, &cli)
	if cli.ClientType != "public" || len(cli.GrantTypes) != 2 || cli.GrantTypes[0] != "urn:ietf:params:oauth:grant-type:device_code" {
		t.Errorf("device client: %+v", cli)
	}

	want(t, "delete", e.do("DELETE", "/admin/clients/web-app", tokAll, ""), http.StatusNoContent)
	want(t, "get deleted", e.do("GET", "/admin/clients/web-app", tokAll, ""), http.StatusNotFound)
	want(t, "delete again", e.do("DELETE", "/admin/clients/web-app", tokAll, ""), http.StatusNotFound)
	cutoffs, err := e.store.ListCutoffs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoked := false
	for _, c := range cutoffs {
		revoked = revoked || (c.Kind == store.CutoffClient && c.Subject == "web-app")
	}
	if !revoked {
		t.Errorf("deleting the client set no cutoff for its tokens: %+v", cutoffs)
	}
}

// cmpTimes compares timestamps as instants (the store returns them in the local zone).
var cmpTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestClientsPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("client-%d", i)
		ids = append(ids, id)
		c := &store.Client{ID: id, GrantTypes: []string{"client_credentials"}}
		if _, err := e.reg.CreateClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	pages := 0
	path := "/admin/clients?limit=2"
	for {
		r := e.do("GET", path, tokRead, "")
		want(t, "list", r, http.StatusOK)
		var page admin.List[admin.Client]
		r.json(t, &page)
		pages++
		for _, c := range page.Items {
			seen = append(seen, c.ClientID)
		}
		if len(page.Items) > 2 {
			t.Fatalf("page of %d items with limit=2", len(page.Items))
		}
		if page.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path = "/admin/clients?limit=2&after=" + page.Next
	}
	if d := cmp.Diff(ids, seen); d != "" || pages != 3 {
		t.Errorf("paged through %d pages (want 3), ids (-want +got):\n%s", pages, d)
	}

	r := e.do("GET", "/admin/clients", tokRead, "")
	var all admin.List[admin.Client]
	r.json(t, &all)
	if len(all.Items) != 5 || all.Next != "" {
		t.Errorf("default page: %d items, next %q", len(all.Items), all.Next)
	}

	for _, q := range []string{"limit=0", "limit=501", "limit=two", "limit=-1"} {
		r := e.do("GET", "/admin/clients?"+q, tokRead, "")
		want(t, q, r, http.StatusBadRequest)
		if f := r.apiError(t).Field; f != "limit" {
			t.Errorf("%s: field %q, want limit", q, f)
		}
	}
	r = e.do("GET", "/admin/clients?after=%25%25not-base64", tokRead, "")
	want(t, "bad cursor", r, http.StatusBadRequest)
	if f := r.apiError(t).Field; f != "after" {
		t.Errorf("bad cursor: field %q, want after", f)
	}
}
