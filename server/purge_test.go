/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/store"
)

// The purge loop deletes a retired signing key once no token it signed can be valid: its
// RetireAfter plus the longest token lifetime (ID tokens here) plus the verifier's leeway.
// Every replica then stops publishing it.
func TestPurgeDeletesRetiredKeys(t *testing.T) {
	e := newTestEnv(t, func(c *server.Config) {
		c.AccessTokenTTL = 10 * time.Minute
		c.IDTokenTTL = 2 * time.Hour
	})
	before, err := e.store.ListSigningKeys(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	const retain = time.Hour
	if err := e.srv.Keyring().Rotate(e.ctx, retain); err != nil {
		t.Fatal(err)
	}
	retired := map[string]time.Time{}
	keys, err := e.store.ListSigningKeys(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.State == store.KeyRetired {
			retired[k.KID] = k.RetireAfter
		}
	}
	if len(retired) != 2 {
		t.Fatalf("%d retired keys after a rotation of %d keys, want 2", len(retired), len(before))
	}
	// The two algorithms' keys retire a moment apart.
	var first, last time.Time
	for _, at := range retired {
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	waitFor(t, "the JWKS to publish the new keys", func() bool { return len(jwksKIDs(t, e.URL)) == len(keys) })

	const lifetime = 2*time.Hour + 30*time.Second
	survivors := func() map[string]bool {
		t.Helper()
		keys, err := e.store.ListSigningKeys(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, k := range keys {
			out[k.KID] = true
		}
		return out
	}
	// Past RetireAfter, and past it plus the access token lifetime: ID tokens it signed
	// may still be valid.
	for _, at := range []time.Time{last, last.Add(10 * time.Minute), first.Add(lifetime - time.Microsecond)} {
		e.srv.Purge(e.ctx, at)
		left := survivors()
		for kid := range retired {
			if !left[kid] {
				t.Fatalf("retired key %s deleted at RetireAfter%+v, before the tokens it signed expired", kid, at.Sub(retired[kid]))
			}
		}
	}
	e.srv.Purge(e.ctx, last.Add(lifetime))
	left := survivors()
	for kid := range retired {
		if left[kid] {
			t.Errorf("retired key %s kept after every token it signed expired", kid)
		}
	}
	if len(left) != len(keys)-len(retired) {
		t.Errorf("%d keys left, want %d: only retired keys go", len(left), len(keys)-len(retired))
	}
	waitFor(t, "the JWKS to drop the deleted keys", func() bool {
		kids := jwksKIDs(t, e.URL)
		for kid := range retired {
			if kids[kid] {
				return false
			}
		}
		return len(kids) == len(left)
	})
}
