/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"crypto"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestKeySetActiveAndLookup(t *testing.T) {
	keys := newTestKeys(t)
	set, err := NewKeySet(keys.all())
	if err != nil {
		t.Fatal(err)
	}
	for alg, want := range map[string]*Key{ES256: keys.es, RS256: keys.rs} {
		got, err := set.Active(alg)
		if err != nil || got != want {
			t.Errorf("Active(%s) = %v, %v; want key %s", alg, got, err, want.KID)
		}
	}
	if _, err := set.Active("HS256"); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("Active(HS256) error = %v, want ErrNoActiveKey", err)
	}
	for _, k := range keys.all() {
		if got, ok := set.Lookup(k.KID); !ok || got != k {
			t.Errorf("Lookup(%s) = %v, %v", k.KID, got, ok)
		}
	}
	if _, ok := set.Lookup("nope"); ok {
		t.Error("Lookup(unknown) found a key")
	}
	if _, ok := set.Lookup(""); ok {
		t.Error(`Lookup("") found a key`)
	}

	// Two active ES256 keys: the newest signs.
	newer := *keys.esNext
	newer.State = StateActive
	if err := set.Replace([]*Key{keys.es, &newer}); err != nil {
		t.Fatal(err)
	}
	if got, err := set.Active(ES256); err != nil || got.KID != newer.KID {
		t.Errorf("Active(ES256) with two active keys = %v, %v; want the newer %s", got, err, newer.KID)
	}
	if _, err := set.Active(RS256); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("Active(RS256) after Replace without RS256 = %v, want ErrNoActiveKey", err)
	}

	var zero KeySet
	if _, err := zero.Active(ES256); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("zero KeySet Active error = %v", err)
	}
	var nilSet *KeySet
	if _, ok := nilSet.Lookup(keys.es.KID); ok || string(nilSet.JWKS()) != `{"keys":[]}` {
		t.Error("nil KeySet is not empty")
	}
}

func TestKeySetRefuses(t *testing.T) {
	keys := newTestKeys(t)
	dup := *keys.esNext
	dup.KID = keys.es.KID
	noKID := *keys.es
	noKID.KID = ""
	badState := *keys.es
	badState.State = "primary"
	wrongAlg := *keys.es
	wrongAlg.Algorithm = RS256
	hmac := *keys.es
	hmac.Algorithm = "HS256"
	noPrivate := *keys.es
	noPrivate.Private = nil

	for name, list := range map[string][]*Key{
		"nil key":         {keys.es, nil},
		"duplicate kid":   {keys.es, &dup},
		"empty kid":       {&noKID},
		"unknown state":   {&badState},
		"wrong algorithm": {&wrongAlg},
		"HS256":           {&hmac},
		"no private key":  {&noPrivate},
	} {
		if _, err := NewKeySet(list); err == nil {
			t.Errorf("NewKeySet(%s) succeeded", name)
		}
	}

	set, err := NewKeySet(keys.all())
	if err != nil {
		t.Fatal(err)
	}
	before := string(set.JWKS())
	if err := set.Replace([]*Key{keys.es, &dup}); err == nil {
		t.Fatal("Replace with a duplicate kid succeeded")
	}
	if string(set.JWKS()) != before {
		t.Error("failed Replace changed the JWKS")
	}
	if _, ok := set.Lookup(keys.rs.KID); !ok {
		t.Error("failed Replace dropped a key")
	}
}

func TestJWKS(t *testing.T) {
	keys := newTestKeys(t)
	retired := loadKey(t, "testkey-es256-next.pem", ES256, StateRetired, t0.Add(-1000*time.Hour))
	retired.KID = "retired-copy" // the same public key under another kid is enough here
	set, err := NewKeySet([]*Key{retired, keys.esNext, keys.rs, keys.es})
	if err != nil {
		t.Fatal(err)
	}
	raw := set.JWKS()

	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &parsed); err != nil {
		t.Fatalf("go-jose cannot parse the JWKS: %v\n%s", err, raw)
	}
	if len(parsed.Keys) != 4 {
		t.Fatalf("JWKS has %d keys, want 4", len(parsed.Keys))
	}
	// Active first (ES256 and RS256 were created together: kid order), then next, then retired.
	wantOrder := []*Key{keys.es, keys.rs, keys.esNext, retired}
	if keys.rs.KID < keys.es.KID {
		wantOrder[0], wantOrder[1] = keys.rs, keys.es
	}
	for i, want := range wantOrder {
		got := parsed.Keys[i]
		if got.KeyID != want.KID || got.Algorithm != want.Algorithm || got.Use != "sig" {
			t.Errorf("key %d: kid %q alg %q use %q; want %q %q sig", i, got.KeyID, got.Algorithm, got.Use, want.KID, want.Algorithm)
		}
		if !got.Valid() || !got.IsPublic() {
			t.Errorf("key %d is not a valid public JWK", i)
		}
		pub, ok := got.Key.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(want.Private.Public()) {
			t.Errorf("key %d: public key does not match %s", i, want.KID)
		}
	}

	// Exact members: nothing private leaks, and EC coordinates are fixed-width.
	var members struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := m[private]; ok {
				t.Errorf("JWK %s has private member %q", m["kid"], private)
			}
		}
		switch m["kty"] {
		case "EC":
			if m["crv"] != "P-256" || len(m["x"]) != 43 || len(m["y"]) != 43 {
				t.Errorf("EC JWK %v: want crv P-256 and 43-character x, y", m)
			}
		case "RSA":
			if m["e"] != "AQAB" || len(m["n"]) != 342 {
				t.Errorf("RSA JWK e=%q len(n)=%d; want AQAB and 342", m["e"], len(m["n"]))
			}
		default:
			t.Errorf("JWK with kty %q", m["kty"])
		}
	}
}

func TestJWKSFollowsReplace(t *testing.T) {
	keys := newTestKeys(t)
	set, err := NewKeySet([]*Key{keys.es})
	if err != nil {
		t.Fatal(err)
	}
	first := set.JWKS()
	if allocs := testing.AllocsPerRun(100, func() { _ = set.JWKS() }); allocs != 0 {
		t.Errorf("JWKS allocates %v times per call, want 0", allocs)
	}
	if err := set.Replace(keys.all()); err != nil {
		t.Fatal(err)
	}
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(set.JWKS(), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Keys) != 3 {
		t.Errorf("after Replace the JWKS has %d keys, want 3", len(parsed.Keys))
	}
	if string(first) == string(set.JWKS()) {
		t.Error("JWKS did not change after Replace")
	}
}

func TestKeySetConcurrentReplace(t *testing.T) {
	keys := newTestKeys(t)
	set, err := NewKeySet(keys.all())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					if err := set.Replace(keys.all()); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				if _, err := set.Active(ES256); err != nil {
					t.Error(err)
					return
				}
				if len(set.JWKS()) == 0 {
					t.Error("empty JWKS during Replace")
					return
				}
			}
		})
	}
	wg.Wait()
}
