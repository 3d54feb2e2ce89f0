/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// adminBackend is where `authly admin` makes its changes: the database itself
// (--database-url), or the admin API of a running server (--url and --token). Both answer
// with the admin API's documents, so the output is the same either way.
type adminBackend interface {
	createClient(ctx context.Context, req admin.ClientRequest) (admin.Client, error)
	listClients(ctx context.Context) ([]admin.Client, error)
	deleteClient(ctx context.Context, id string) error
	rotateSecret(ctx context.Context, id string, grace time.Duration) (admin.Client, error)
	createUser(ctx context.Context, req admin.UserRequest) (admin.User, error)
	setUserGroups(ctx context.Context, id string, groups []string) (admin.User, error)
	createScope(ctx context.Context, req admin.ScopeRequest) (admin.Scope, error)
	setFederatedIssuer(ctx context.Context, req admin.FederatedIssuerRequest) (admin.FederatedIssuer, error)
	close()
}

// listPageSize is the page size the CLI lists with, through either backend.
const listPageSize = 500

// databaseBackend works on the database through the registry, as the server would.
type databaseBackend struct {
	st  *store.Store
	reg *registry.Registry
}

func newDatabaseBackend(st *store.Store) *databaseBackend {
	return &databaseBackend{st: st, reg: &registry.Registry{Store: st}}
}

func (b *databaseBackend) close() { b.st.Close() }

func (b *databaseBackend) createClient(ctx context.Context, req admin.ClientRequest) (admin.Client, error) {
	c := req.StoreClient()
	secret, err := b.reg.CreateClient(ctx, c)
	if err != nil {
		return admin.Client{}, err
	}
	return admin.ViewClient(c, secret), nil
}

func (b *databaseBackend) listClients(ctx context.Context) ([]admin.Client, error) {
	views := []admin.Client{}
	after := ""
	for {
		page, err := b.st.ListClients(ctx, store.Page{Limit: listPageSize, After: after})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			views = append(views, admin.ViewClient(c, ""))
		}
		if len(page) < listPageSize {
			return views, nil
		}
		after = page[len(page)-1].ID
	}
}

func (b *databaseBackend) deleteClient(ctx context.Context, id string) error {
	return b.st.DeleteClient(ctx, id, time.Now())
}

func (b *databaseBackend) rotateSecret(ctx context.Context, id string, grace time.Duration) (admin.Client, error) {
	secret, err := b.reg.RotateSecret(ctx, id, grace)
	if err != nil {
		return admin.Client{}, err
	}
	c, err := b.st.GetClient(ctx, id)
	if err != nil {
		return admin.Client{}, err
	}
	return admin.ViewClient(c, secret), nil
}

func (b *databaseBackend) createUser(ctx context.Context, req admin.UserRequest) (admin.User, error) {
	u := req.StoreUser("")
	if err := b.reg.CreateUser(ctx, u, req.Password); err != nil {
		return admin.User{}, err
	}
	return admin.ViewUser(u), nil
}

func (b *databaseBackend) setUserGroups(ctx context.Context, id string, groups []string) (admin.User, error) {
	if _, err := b.reg.SetUserGroups(ctx, id, groups); err != nil {
		return admin.User{}, err
	}
	u, err := b.st.GetUser(ctx, id)
	if err != nil {
		return admin.User{}, fmt.Errorf("read user %s back: %w", id, err)
	}
	return admin.ViewUser(u), nil
}

func (b *databaseBackend) createScope(ctx context.Context, req admin.ScopeRequest) (admin.Scope, error) {
	s := &store.Scope{Name: req.Name, Description: req.Description, Default: req.Default}
	if err := b.reg.CreateScope(ctx, s); err != nil {
		return admin.Scope{}, err
	}
	return admin.ViewScope(s), nil
}

// apiBackend calls the admin API of a running server.
type apiBackend struct{ remote *admin.Remote }

func (b *apiBackend) close() {}

func (b *apiBackend) createClient(ctx context.Context, req admin.ClientRequest) (admin.Client, error) {
	return b.remote.CreateClient(ctx, req)
}

func (b *apiBackend) listClients(ctx context.Context) ([]admin.Client, error) {
	views := []admin.Client{}
	after := ""
	for {
		page, err := b.remote.ListClients(ctx, listPageSize, after)
		if err != nil {
			return nil, err
		}
		views = append(views, page.Items...)
		if page.Next == "" {
			return views, nil
		}
		after = page.Next
	}
}

func (b *apiBackend) deleteClient(ctx context.Context, id string) error {
	return b.remote.DeleteClient(ctx, id)
}

func (b *apiBackend) rotateSecret(ctx context.Context, id string, grace time.Duration) (admin.Client, error) {
	return b.remote.RotateSecret(ctx, id, grace)
}

func (b *apiBackend) createUser(ctx context.Context, req admin.UserRequest) (admin.User, error) {
	return b.remote.CreateUser(ctx, req)
}

func (b *apiBackend) setUserGroups(ctx context.Context, id string, groups []string) (admin.User, error) {
	return b.remote.SetUserGroups(ctx, id, groups)
}

func (b *apiBackend) createScope(ctx context.Context, req admin.ScopeRequest) (admin.Scope, error) {
	return b.remote.CreateScope(ctx, req)
}

func (b *databaseBackend) setFederatedIssuer(ctx context.Context, req admin.FederatedIssuerRequest) (admin.FederatedIssuer, error) {
	if e := req.Validate(); e != nil {
		return admin.FederatedIssuer{}, e
	}
	fi := &store.FederatedIssuer{Issuer: req.Issuer, JWKS: req.JWKS, FetchedAt: time.Now()}
	if err := b.st.UpsertFederatedIssuer(ctx, fi); err != nil {
		return admin.FederatedIssuer{}, err
	}
	return admin.ViewFederatedIssuer(fi), nil
}

func (b *apiBackend) setFederatedIssuer(ctx context.Context, req admin.FederatedIssuerRequest) (admin.FederatedIssuer, error) {
	return b.remote.SetFederatedIssuer(ctx, req)
}
