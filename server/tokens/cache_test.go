/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCachingVerifierHit(t *testing.T) {
	f := newFixture(t)
	c := NewCachingVerifier(f.verifier, 0)
	tok := f.accessToken(t, ES256)

	first, err := c.VerifyAccessToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.VerifyAccessToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("second verification did not come from the cache")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
	direct, err := f.verifier.VerifyAccessToken(tok)
	if err != nil || direct.JTI != first.JTI || direct.Subject != first.Subject {
		t.Errorf("cached %+v differs from direct %+v (%v)", first, direct, err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.VerifyAccessToken(tok); err != nil {
			t.Fatal(err)
		}
	}); allocs > 1 {
		t.Errorf("cache hit allocates %v times, want at most 1", allocs)
	}
}

func TestCachingVerifierDoesNotCacheFailures(t *testing.T) {
	f := newFixture(t)
	c := NewCachingVerifier(f.verifier, 0)
	good := f.accessToken(t, ES256)
	bad := good[:len(good)-4] + "AAAA"
	for range 2 {
		if _, err := c.VerifyAccessToken(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("bad token: err = %v, want ErrInvalidToken", err)
		}
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d after failures, want 0", c.Len())
	}
}

func TestCachingVerifierExpiry(t *testing.T) {
	f := newFixture(t) // TTL 15m, leeway 30s
	c := NewCachingVerifier(f.verifier, 0)
	tok := f.accessToken(t, ES256)
	if _, err := c.VerifyAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(15*time.Minute + 20*time.Second)
	if _, err := c.VerifyAccessToken(tok); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	f.now = t0.Add(15*time.Minute + 31*time.Second)
	if got, err := c.VerifyAccessToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired token from cache: %+v, %v; want ErrInvalidToken", got, err)
	}
	if c.Len() != 0 {
		t.Errorf("expired entry kept: Len = %d", c.Len())
	}
}

func TestCachingVerifierFollowsKeySet(t *testing.T) {
	f := newFixture(t)
	c := NewCachingVerifier(f.verifier, 0)
	tok := f.accessToken(t, ES256)
	if _, err := c.VerifyAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	// Reloading the same keys (new Key values) keeps the entry valid.
	reloaded := newTestKeys(t)
	if err := f.set.Replace(reloaded.all()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAccessToken(tok); err != nil {
		t.Errorf("after reloading the same keys: %v", err)
	}
	// Same kid, another key (a bad restore): the cached entry must not survive.
	impostor := *reloaded.esNext
	impostor.KID = reloaded.es.KID
	impostor.State = StateActive
	if err := f.set.Replace([]*Key{&impostor, reloaded.rs}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAccessToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("kid now names another key: err = %v, want ErrInvalidToken", err)
	}
	// Key removed.
	if err := f.set.Replace(reloaded.all()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := f.set.Replace([]*Key{reloaded.rs}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAccessToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("key removed: err = %v, want ErrInvalidToken", err)
	}
}

func TestCachingVerifierBounded(t *testing.T) {
	f := newFixture(t)
	const capacity = 16
	c := NewCachingVerifier(f.verifier, capacity)
	var tokens []string
	for i := range 40 {
		cl := sampleAccessClaims()
		cl.Subject = fmt.Sprintf("user-%d", i)
		// Half the tokens are short-lived so that the sweep has expired ones to drop.
		if i%2 == 0 {
			cl.TTL = time.Minute
		}
		tok, err := f.issuer.AccessToken(cl, ES256)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	for i, tok := range tokens {
		if i == 20 {
			f.now = t0.Add(2 * time.Minute) // the short-lived ones issued so far expire
		}
		if i >= 20 && i%2 == 0 {
			continue // issued at t0 with one minute: expired now
		}
		va, err := c.VerifyAccessToken(tok)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if want := fmt.Sprintf("user-%d", i); va.Subject != want {
			t.Errorf("token %d: subject %q, want %q", i, va.Subject, want)
		}
		if n := c.Len(); n > capacity {
			t.Fatalf("after %d tokens Len = %d, over the bound %d", i+1, n, capacity)
		}
	}
	if c.Len() == 0 {
		t.Error("cache empty after verifying tokens")
	}
}

func TestCachingVerifierConcurrent(t *testing.T) {
	f := newFixture(t)
	c := NewCachingVerifier(f.verifier, 8)
	var tokens []string
	for i := range 12 {
		cl := sampleAccessClaims()
		cl.JTI = fmt.Sprintf("jti-%d", i)
		tok, err := f.issuer.AccessToken(cl, ES256)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 30 {
				n := (g + i) % len(tokens)
				va, err := c.VerifyAccessToken(tokens[n])
				if err != nil {
					t.Error(err)
					return
				}
				if want := fmt.Sprintf("jti-%d", n); va.JTI != want {
					t.Errorf("token %d: jti %q, want %q", n, va.JTI, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 8 || n == 0 {
		t.Errorf("Len = %d, want 1..8", n)
	}
}

func BenchmarkCachingVerifierHit(b *testing.B) {
	f := newFixture(b)
	c := NewCachingVerifier(f.verifier, 0)
	tok := f.accessToken(b, ES256)
	if _, err := c.VerifyAccessToken(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyAccessToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}
