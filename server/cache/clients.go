/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package cache keeps the server's hot reads in memory: clients by id and the access-token
// revocation state. Entries are dropped when the store announces a change (Postgres
// NOTIFY), so every replica serves what the database holds.
package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/authly-dev/authly-operator/server/store"
)

// ClientLoader reads a client from the database.
type ClientLoader interface {
	GetClient(ctx context.Context, clientID string) (*store.Client, error)
}

// GrantTypeLoader answers whether any client may use a grant type (store.Store does).
type GrantTypeLoader interface {
	AnyClientHasGrantType(ctx context.Context, grantType string) (bool, error)
}

// Clients is a read-through cache of clients. Unknown ids are not cached, so that requests
// with random ids cannot fill memory.
type Clients struct {
	load ClientLoader

	mu      sync.RWMutex
	entries map[string]*store.Client
	// grantTypes caches AnyHasGrantType's answers; every invalidation drops them.
	grantTypes map[string]bool
	// gen counts invalidations: a load that raced with one does not store its result,
	// which may be older than the change.
	gen uint64

	hits, misses atomic.Uint64
}

// NewClients returns an empty cache in front of load.
func NewClients(load ClientLoader) *Clients {
	return &Clients{load: load, entries: make(map[string]*store.Client), grantTypes: make(map[string]bool)}
}

// AnyHasGrantType reports whether some client may use grantType (discovery advertises the
// password grant only then). The answer is kept until a client changes: any change
// invalidates a client on every replica (the store's NOTIFY) and drops the answer with it,
// and a reconnected listener resets the cache, so the answer is as current as the cached
// clients are. The loader must implement GrantTypeLoader.
func (c *Clients) AnyHasGrantType(ctx context.Context, grantType string) (bool, error) {
	c.mu.RLock()
	ok, known := c.grantTypes[grantType]
	gen := c.gen
	c.mu.RUnlock()
	if known {
		return ok, nil
	}
	gl, isLoader := c.load.(GrantTypeLoader)
	if !isLoader {
		return false, errors.New("cache: the client loader cannot tell which grant types are in use")
	}
	ok, err := gl.AnyClientHasGrantType(ctx, grantType)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.grantTypes[grantType] = ok
	}
	c.mu.Unlock()
	return ok, nil
}

// Client returns the client with that id; callers must not modify it.
func (c *Clients) Client(ctx context.Context, clientID string) (*store.Client, error) {
	c.mu.RLock()
	cl, ok := c.entries[clientID]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		c.hits.Add(1)
		return cl, nil
	}
	c.misses.Add(1)
	cl, err := c.load.GetClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.entries[clientID] = cl
	}
	c.mu.Unlock()
	return cl, nil
}

// Stats returns the number of cached clients, hits and misses.
func (c *Clients) Stats() (size int, hits, misses uint64) {
	c.mu.RLock()
	size = len(c.entries)
	c.mu.RUnlock()
	return size, c.hits.Load(), c.misses.Load()
}

// Invalidate drops one client.
func (c *Clients) Invalidate(clientID string) {
	c.mu.Lock()
	delete(c.entries, clientID)
	clear(c.grantTypes)
	c.gen++
	c.mu.Unlock()
}

// Reset drops every client.
func (c *Clients) Reset() {
	c.mu.Lock()
	c.entries = make(map[string]*store.Client)
	clear(c.grantTypes)
	c.gen++
	c.mu.Unlock()
}
