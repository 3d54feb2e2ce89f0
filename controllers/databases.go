/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/store"
)

// errDatabaseSecret says the Secret or key named by spec.database.secretRef is missing.
var errDatabaseSecret = errors.New("database secret not found")

// errNoDatabase says that neither the AuthServer, nor a store opened for it, nor the
// database Secret an entry recorded is left: there is no database to remove the entry from.
var errNoDatabase = errors.New("no database left")

// Databases gives the reconcilers a store for each AuthServer's database. The operator
// writes clients and scopes only through server/store, never with SQL of its own. A store
// is kept per AuthServer and reopened when its URL changes; the last one is remembered
// after the AuthServer is deleted, so that clients can still be removed from it.
type Databases struct {
	// MaxConns bounds each store's pool: the operator's share of a database is small.
	MaxConns int32

	mu     sync.Mutex
	stores map[types.NamespacedName]*database
}

type database struct {
	url   string
	store *store.Store
}

// DatabaseURL reads the AuthServer's database URL from its Secret.
func DatabaseURL(ctx context.Context, c client.Reader, as *authlyv1.AuthServer) (string, error) {
	ref := as.Spec.Database.SecretRef
	key := ref.KeyOrDefault()
	var s corev1.Secret
	err := c.Get(ctx, types.NamespacedName{Namespace: as.Namespace, Name: ref.Name}, &s)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("%w: Secret %s/%s does not exist", errDatabaseSecret, as.Namespace, ref.Name)
	}
	if err != nil {
		return "", fmt.Errorf("get the database Secret %s/%s: %w", as.Namespace, ref.Name, err)
	}
	url := string(s.Data[key])
	if url == "" {
		return "", fmt.Errorf("%w: Secret %s/%s has no key %q", errDatabaseSecret, as.Namespace, ref.Name, key)
	}
	return url, nil
}

// Store returns the store of the AuthServer named key on the database at url, opening it
// (or reopening it, when the URL changed) as needed.
func (d *Databases) Store(ctx context.Context, key types.NamespacedName, url string) (*store.Store, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stores == nil {
		d.stores = map[types.NamespacedName]*database{}
	}
	if db, ok := d.stores[key]; ok {
		if db.url == url {
			return db.store, nil
		}
		db.store.Close()
		delete(d.stores, key)
	}
	maxConns := d.MaxConns
	if maxConns == 0 {
		maxConns = 4
	}
	st, err := store.Open(ctx, url, store.Options{MaxConns: maxConns, ApplicationName: "authly-operator"})
	if err != nil {
		return nil, err
	}
	d.stores[key] = &database{url: url, store: st}
	return st, nil
}

// Known returns the store last used for the AuthServer named key, if any.
func (d *Databases) Known(key types.NamespacedName) (*store.Store, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	db, ok := d.stores[key]
	if !ok {
		return nil, false
	}
	return db.store, true
}

// Close closes every store.
func (d *Databases) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, db := range d.stores {
		db.store.Close()
		delete(d.stores, k)
	}
}
