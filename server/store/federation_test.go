/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// A federated issuer's keys are stored, read back and replaced; a refresh request stays
// pending until keys fetched at or after it are stored, and a client names the issuer,
// subject and ServiceAccount uid it accepts tokens of.
func TestFederatedIssuers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const iss = "https://kubernetes.default.svc"

	wantErr(t, "RequestFederatedIssuerRefresh(unknown)", s.RequestFederatedIssuerRefresh(ctx, iss, t0), store.ErrNotFound)
	_, err := s.GetFederatedIssuer(ctx, iss)
	wantErr(t, "GetFederatedIssuer(unknown)", err, store.ErrNotFound)
	wantErr(t, "Upsert(not JSON)", s.UpsertFederatedIssuer(ctx, &store.FederatedIssuer{Issuer: iss, JWKS: json.RawMessage(`{`), FetchedAt: t0}), store.ErrInvalid)

	fi := &store.FederatedIssuer{Issuer: iss, Discovery: json.RawMessage(`{"issuer":"` + iss + `"}`),
		JWKS: json.RawMessage(`{"keys":[{"kid":"a"}]}`), FetchedAt: t0, ManagedBy: "k8s:operator"}
	wantErr(t, "UpsertFederatedIssuer", s.UpsertFederatedIssuer(ctx, fi), nil)
	got, err := s.GetFederatedIssuer(ctx, iss)
	wantErr(t, "GetFederatedIssuer", err, nil)
	if got.Issuer != iss || !got.FetchedAt.Equal(t0) || !got.RefreshRequestedAt.IsZero() || got.ManagedBy != "k8s:operator" {
		t.Errorf("stored issuer %+v", got)
	}
	var keys struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(got.JWKS, &keys); err != nil || len(keys.Keys) != 1 || keys.Keys[0].Kid != "a" {
		t.Errorf("JWKS read back %s (%v)", got.JWKS, err)
	}

	// Two requests: the first time stays.
	wantErr(t, "RequestFederatedIssuerRefresh", s.RequestFederatedIssuerRefresh(ctx, iss, t0.Add(time.Minute)), nil)
	wantErr(t, "RequestFederatedIssuerRefresh again", s.RequestFederatedIssuerRefresh(ctx, iss, t0.Add(2*time.Minute)), nil)
	got, _ = s.GetFederatedIssuer(ctx, iss)
	if !got.RefreshRequestedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("refresh requested at %v, want %v", got.RefreshRequestedAt, t0.Add(time.Minute))
	}
	// Keys fetched before the request do not answer it; keys fetched after do.
	fi.FetchedAt = t0.Add(30 * time.Second)
	wantErr(t, "Upsert(older fetch)", s.UpsertFederatedIssuer(ctx, fi), nil)
	if got, _ = s.GetFederatedIssuer(ctx, iss); got.RefreshRequestedAt.IsZero() {
		t.Error("keys fetched before the refresh request cleared it")
	}
	fi.FetchedAt, fi.JWKS = t0.Add(3*time.Minute), json.RawMessage(`{"keys":[{"kid":"b"}]}`)
	wantErr(t, "Upsert(newer fetch)", s.UpsertFederatedIssuer(ctx, fi), nil)
	if got, _ = s.GetFederatedIssuer(ctx, iss); !got.RefreshRequestedAt.IsZero() || !got.FetchedAt.Equal(fi.FetchedAt) {
		t.Errorf("after a fetch that answers the request: %+v", got)
	}
	list, err := s.ListFederatedIssuers(ctx)
	wantErr(t, "ListFederatedIssuers", err, nil)
	if len(list) != 1 || list[0].Issuer != iss {
		t.Errorf("ListFederatedIssuers = %+v", list)
	}

	c := &store.Client{ID: "orders-worker", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "service_account_jwt", FederatedIssuer: iss,
		FederatedSubject: "system:serviceaccount:shop:orders-worker", ServiceAccountUID: "5b7c1f0e-0000-4000-8000-000000000001"}
	wantErr(t, "CreateClient(federated)", s.CreateClient(ctx, c), nil)
	gotClient, err := s.GetClient(ctx, c.ID)
	wantErr(t, "GetClient", err, nil)
	if gotClient.FederatedIssuer != iss || gotClient.FederatedSubject != c.FederatedSubject || gotClient.ServiceAccountUID != c.ServiceAccountUID {
		t.Errorf("client read back %+v", gotClient)
	}
	c.ServiceAccountUID = ""
	_, err = s.UpsertClient(ctx, c)
	wantErr(t, "UpsertClient(uid cleared)", err, nil)
	if gotClient, _ = s.GetClient(ctx, c.ID); gotClient.ServiceAccountUID != "" {
		t.Errorf("uid after upsert %q, want empty", gotClient.ServiceAccountUID)
	}
	bad := &store.Client{ID: "half", Type: store.Confidential, FederatedSubject: "system:serviceaccount:a:b"}
	wantErr(t, "CreateClient(subject without issuer)", s.CreateClient(ctx, bad), store.ErrInvalid)

	wantErr(t, "DeleteFederatedIssuer", s.DeleteFederatedIssuer(ctx, iss), nil)
	wantErr(t, "DeleteFederatedIssuer again", s.DeleteFederatedIssuer(ctx, iss), store.ErrNotFound)
}
