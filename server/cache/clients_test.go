/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// fakeClients is a ClientLoader over a map. It counts calls per id and, when gate is set,
// signals started and waits for gate before answering, so that a test can act while a load
// is in flight.
type fakeClients struct {
	mu      sync.Mutex
	clients map[string]store.Client
	calls   map[string]int
	version int // bumped by set; stamped into Name so tests can tell old from new

	started chan string
	gate    chan struct{}
}

func newFakeClients(ids ...string) *fakeClients {
	f := &fakeClients{clients: map[string]store.Client{}, calls: map[string]int{}}
	for _, id := range ids {
		f.set(id)
	}
	return f
}

// set (re)writes a client, as an admin would in the database.
func (f *fakeClients) set(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	f.clients[id] = store.Client{ID: id, Name: fmt.Sprintf("%s v%d", id, f.version)}
}

func (f *fakeClients) GetClient(ctx context.Context, clientID string) (*store.Client, error) {
	f.mu.Lock()
	f.calls[clientID]++
	c, ok := f.clients[clientID]
	started, gate := f.started, f.gate
	f.mu.Unlock()
	if gate != nil {
		started <- clientID
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	return &c, nil
}

func (f *fakeClients) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func mustClient(t *testing.T, c *Clients, id, wantName string) {
	t.Helper()
	got, err := c.Client(context.Background(), id)
	if err != nil {
		t.Fatalf("Client(%q): %v", id, err)
	}
	if got.ID != id || (wantName != "" && got.Name != wantName) {
		t.Fatalf("Client(%q) = {ID %q, Name %q}, want name %q", id, got.ID, got.Name, wantName)
	}
}

func wantStats(t *testing.T, c *Clients, size int, hits, misses uint64) {
	t.Helper()
	gs, gh, gm := c.Stats()
	if gs != size || gh != hits || gm != misses {
		t.Errorf("Stats() = size %d, hits %d, misses %d; want %d, %d, %d", gs, gh, gm, size, hits, misses)
	}
}

func TestClientsReadThrough(t *testing.T) {
	f := newFakeClients("a", "b")
	c := NewClients(f)

	mustClient(t, c, "a", "a v1")
	mustClient(t, c, "a", "a v1")
	mustClient(t, c, "a", "a v1")
	if n := f.callsFor("a"); n != 1 {
		t.Errorf("loader called %d times for a, want 1", n)
	}
	wantStats(t, c, 1, 2, 1)

	mustClient(t, c, "b", "b v2")
	wantStats(t, c, 2, 2, 2)

	// A change in the database is not seen until the entry is dropped...
	f.set("a")
	mustClient(t, c, "a", "a v1")
	// ...and Invalidate drops that one entry only.
	c.Invalidate("a")
	wantStats(t, c, 1, 3, 2)
	mustClient(t, c, "a", "a v3")
	mustClient(t, c, "b", "b v2")
	if a, b := f.callsFor("a"), f.callsFor("b"); a != 2 || b != 1 {
		t.Errorf("loader calls a=%d b=%d after Invalidate(a), want 2 and 1", a, b)
	}

	// Invalidating an id that is not cached is harmless.
	c.Invalidate("zzz")
	wantStats(t, c, 2, 4, 3)

	c.Reset()
	wantStats(t, c, 0, 4, 3)
	mustClient(t, c, "a", "a v3")
	mustClient(t, c, "b", "b v2")
	if a, b := f.callsFor("a"), f.callsFor("b"); a != 3 || b != 2 {
		t.Errorf("loader calls a=%d b=%d after Reset, want 3 and 2", a, b)
	}
}

func TestClientsUnknownNotCached(t *testing.T) {
	f := newFakeClients("a")
	c := NewClients(f)
	for i := 1; i <= 3; i++ {
		got, err := c.Client(context.Background(), "nobody")
		if !errors.Is(err, store.ErrNotFound) || got != nil {
			t.Fatalf("Client(nobody) = %v, %v; want nil, ErrNotFound", got, err)
		}
		if n := f.callsFor("nobody"); n != i {
			t.Fatalf("after %d lookups the loader was called %d times", i, n)
		}
	}
	wantStats(t, c, 0, 0, 3)

	// Once the client exists it is found (and cached) without any invalidation.
	f.set("nobody")
	mustClient(t, c, "nobody", "nobody v2")
	mustClient(t, c, "nobody", "nobody v2")
	if n := f.callsFor("nobody"); n != 4 {
		t.Errorf("loader called %d times, want 4", n)
	}
}

// TestClientsLoadRacingInvalidation: a load that was in flight while the cache was
// invalidated may carry data older than the change, so it is returned but not stored.
func TestClientsLoadRacingInvalidation(t *testing.T) {
	tests := []struct {
		name       string
		during     func(c *Clients, f *fakeClients)
		wantCached bool
	}{
		{"nothing happens", func(*Clients, *fakeClients) {}, true},
		{"Invalidate of the loading id", func(c *Clients, f *fakeClients) { f.set("a"); c.Invalidate("a") }, false},
		{"Invalidate of another id", func(c *Clients, _ *fakeClients) { c.Invalidate("b") }, false},
		{"Reset", func(c *Clients, f *fakeClients) { f.set("a"); c.Reset() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeClients("a", "b")
			c := NewClients(f)
			gate := make(chan struct{})
			f.started, f.gate = make(chan string, 1), gate

			type result struct {
				cl  *store.Client
				err error
			}
			done := make(chan result, 1)
			go func() {
				cl, err := c.Client(context.Background(), "a")
				done <- result{cl, err}
			}()
			select {
			case <-f.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the load never started")
			}
			tt.during(c, f)
			// Later loads answer at once.
			f.mu.Lock()
			f.started, f.gate = nil, nil
			f.mu.Unlock()
			close(gate)
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the load never returned")
			}
			if r.err != nil || r.cl.Name != "a v1" {
				t.Fatalf("racing load returned %+v, %v; want a v1 (what it read)", r.cl, r.err)
			}

			size, _, _ := c.Stats()
			if cached := size == 1; cached != tt.wantCached {
				t.Errorf("cached after the racing load: %v, want %v", cached, tt.wantCached)
			}
			got, err := c.Client(context.Background(), "a")
			if err != nil {
				t.Fatal(err)
			}
			wantCalls, wantName := 2, "a v3"
			if tt.wantCached {
				wantCalls, wantName = 1, "a v1"
			} else if tt.name == "Invalidate of another id" {
				wantName = "a v1"
			}
			if n := f.callsFor("a"); n != wantCalls {
				t.Errorf("loader called %d times for a, want %d", n, wantCalls)
			}
			if got.Name != wantName {
				t.Errorf("Client(a) after the race = %q, want %q", got.Name, wantName)
			}
			// And now it is cached.
			mustClient(t, c, "a", wantName)
			if n := f.callsFor("a"); n != wantCalls {
				t.Errorf("loader called %d times for a after a hit, want %d", n, wantCalls)
			}
		})
	}
}

func TestClientsLoaderError(t *testing.T) {
	boom := errors.New("database down")
	c := NewClients(errLoader{boom})
	for range 2 {
		if _, err := c.Client(context.Background(), "a"); !errors.Is(err, boom) {
			t.Fatalf("Client = %v, want %v", err, boom)
		}
	}
	wantStats(t, c, 0, 0, 2)
}

type errLoader struct{ err error }

func (l errLoader) GetClient(context.Context, string) (*store.Client, error) { return nil, l.err }

// TestClientsConcurrent is for -race: readers, invalidations and resets at once.
func TestClientsConcurrent(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	f := newFakeClients(ids...)
	c := NewClients(f)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := ids[(g+i)%len(ids)]
				cl, err := c.Client(context.Background(), id)
				switch {
				case err != nil:
					errs <- err
					return
				case cl.ID != id:
					errs <- fmt.Errorf("Client(%q) returned %q", id, cl.ID)
					return
				}
				switch {
				case g == 0 && i%7 == 0:
					c.Invalidate(id)
				case g == 1 && i%50 == 0:
					c.Reset()
				case g == 2 && i%11 == 0:
					f.set(id)
				case g == 3:
					c.Stats()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	size, hits, misses := c.Stats()
	if size > len(ids) || hits+misses != 8*500 || hits == 0 {
		t.Errorf("Stats() = size %d, hits %d, misses %d; want size <= %d, 4000 lookups, some hits", size, hits, misses, len(ids))
	}
	// Whatever the interleaving, a Reset followed by a read gives the database's version.
	c.Reset()
	for _, id := range ids {
		want := f.clients[id].Name
		mustClient(t, c, id, want)
	}
}

// grantLoader is a GrantTypeLoader over a settable answer, counting its calls; onQuery,
// when set, runs inside a query (to invalidate while one is in flight).
type grantLoader struct {
	*fakeClients
	mu      sync.Mutex
	inUse   map[string]bool
	queries int
	onQuery func()
}

func (g *grantLoader) AnyClientHasGrantType(_ context.Context, grantType string) (bool, error) {
	g.mu.Lock()
	g.queries++
	ok := g.inUse[grantType]
	hook := g.onQuery
	g.onQuery = nil
	g.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ok, nil
}

func (g *grantLoader) set(grantType string, inUse bool) {
	g.mu.Lock()
	g.inUse[grantType] = inUse
	g.mu.Unlock()
}

func TestAnyHasGrantTypeFollowsInvalidations(t *testing.T) {
	ctx := context.Background()
	g := &grantLoader{fakeClients: newFakeClients(), inUse: map[string]bool{}}
	c := NewClients(g)
	want := func(wantInUse bool, wantQueries int) {
		t.Helper()
		got, err := c.AnyHasGrantType(ctx, "password")
		if err != nil {
			t.Fatal(err)
		}
		g.mu.Lock()
		n := g.queries
		g.mu.Unlock()
		if got != wantInUse || n != wantQueries {
			t.Fatalf("AnyHasGrantType = %v after %d queries, want %v after %d", got, n, wantInUse, wantQueries)
		}
	}
	want(false, 1)
	want(false, 1) // cached
	g.set("password", true)
	want(false, 1) // not seen until a client changes
	c.Invalidate("any-client")
	want(true, 2)
	want(true, 2)
	g.set("password", false)
	c.Reset()
	want(false, 3)

	// An answer read while a change arrives is not kept: it may predate the change.
	g.mu.Lock()
	g.onQuery = func() { g.set("password", true); c.Invalidate("x") }
	g.mu.Unlock()
	c.Invalidate("y")
	want(false, 4)
	want(true, 5)

	// A loader that cannot answer is an error, not a guess.
	if _, err := NewClients(newFakeClients()).AnyHasGrantType(ctx, "password"); err == nil {
		t.Error("AnyHasGrantType without a GrantTypeLoader: no error")
	}
}
