// Package cache keeps the server's hot reads in memory: clients by id and the access-token
// revocation state. Entries are dropped when the store announces a change (Postgres
// NOTIFY), so every replica serves what the database holds.
package cache

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/authly-dev/authly-operator/server/store"
)

// ClientLoader reads a client from the database.
type ClientLoader interface {
	GetClient(ctx context.Context, clientID string) (*store.Client, error)
}

// Clients is a read-through cache of clients. Unknown ids are not cached, so that requests
// with random ids cannot fill memory.
type Clients struct {
	load ClientLoader

	mu      sync.RWMutex
	entries map[string]*store.Client
	// gen counts invalidations: a load that raced with one does not store its result,
	// which may be older than the change.
	gen uint64

	hits, misses atomic.Uint64
}

// NewClients returns an empty cache in front of load.
func NewClients(load ClientLoader) *Clients {
	return &Clients{load: load, entries: make(map[string]*store.Client)}
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
	c.gen++
	c.mu.Unlock()
}

// Reset drops every client.
func (c *Clients) Reset() {
	c.mu.Lock()
	c.entries = make(map[string]*store.Client)
	c.gen++
	c.mu.Unlock()
}
