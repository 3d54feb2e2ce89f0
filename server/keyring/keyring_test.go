/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package keyring

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
	"github.com/authly-dev/authly-operator/server/tokens"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// t0 is the keyring's "now": a whole second, so that it survives Postgres' microseconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const issuer = "https://auth.example.com"

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newSealer(t *testing.T, fill byte) *tokens.Sealer {
	t.Helper()
	s, err := tokens.NewSealer(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

func rows(t *testing.T, s *store.Store) []*store.SigningKey {
	t.Helper()
	list, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	return list
}

// byAlgState maps "ALG/state" to the kids in that state.
func byAlgState(list []*store.SigningKey) map[string][]string {
	m := map[string][]string{}
	for _, k := range list {
		key := k.Algorithm + "/" + string(k.State)
		m[key] = append(m[key], k.KID)
	}
	for _, v := range m {
		sort.Strings(v)
	}
	return m
}

// wantOneActiveOneNext fails unless each algorithm has exactly one active and one next key
// and nothing else is stored.
func wantOneActiveOneNext(t *testing.T, list []*store.SigningKey) {
	t.Helper()
	m := byAlgState(list)
	for _, alg := range Algorithms {
		for _, st := range []store.KeyState{store.KeyActive, store.KeyNext} {
			if n := len(m[alg+"/"+string(st)]); n != 1 {
				t.Errorf("%s keys in state %s: %d, want 1", alg, st, n)
			}
		}
	}
	if len(list) != 2*len(Algorithms) {
		t.Errorf("%d keys stored, want %d: %v", len(list), 2*len(Algorithms), m)
	}
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, storetest.URL(t))
	k := &Keyring{Store: s, Clock: fixedClock(t0)}
	if err := k.Ensure(ctx); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	first := rows(t, s)
	wantOneActiveOneNext(t, first)
	for _, r := range first {
		if r.Encrypted {
			t.Errorf("key %s encrypted without a Sealer", r.KID)
		}
		if !r.CreatedAt.Equal(t0) {
			t.Errorf("key %s CreatedAt %v, want the clock's %v", r.KID, r.CreatedAt, t0)
		}
		if !r.RetireAfter.IsZero() {
			t.Errorf("new key %s has RetireAfter %v", r.KID, r.RetireAfter)
		}
		if _, err := x509.ParsePKCS8PrivateKey(r.PrivateKey); err != nil {
			t.Errorf("key %s is not PKCS#8 DER: %v", r.KID, err)
		}
	}

	// Idempotent: a second start changes nothing.
	if err := k.Ensure(ctx); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	second := rows(t, s)
	if a, b := byAlgState(first), byAlgState(second); !equalMaps(a, b) {
		t.Errorf("second Ensure changed the keys: %v -> %v", a, b)
	}
}

// TestEnsureFillsGaps: Ensure adds only what is missing.
func TestEnsureFillsGaps(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, storetest.URL(t))
	k := &Keyring{Store: s, Clock: fixedClock(t0)}
	row, err := k.newRow(tokens.ES256, store.KeyActive)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InsertSigningKey(ctx, row); err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(ctx); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	list := rows(t, s)
	wantOneActiveOneNext(t, list)
	if got := byAlgState(list)["ES256/active"]; len(got) != 1 || got[0] != row.KID {
		t.Errorf("ES256 active key %v, want the existing %s", got, row.KID)
	}
}

func equalMaps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

// TestEnsureConcurrent: two replicas starting at once end with one key per slot.
func TestEnsureConcurrent(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint("run", i), func(t *testing.T) {
			url := storetest.URL(t)
			stores := []*store.Store{openStore(t, url), openStore(t, url)}
			var wg sync.WaitGroup
			errs := make([]error, len(stores))
			start := make(chan struct{})
			for j, s := range stores {
				wg.Go(func() {
					<-start
					errs[j] = (&Keyring{Store: s}).Ensure(context.Background())
				})
			}
			close(start)
			wg.Wait()
			for j, err := range errs {
				if err != nil {
					t.Errorf("run %d, replica %d: Ensure: %v", i, j, err)
				}
			}
			wantOneActiveOneNext(t, rows(t, stores[0]))
		})
	}
}

// signAndVerify signs an access token with the active key of alg in a key set made of
// keys and checks it verifies; it returns the token and the kid that signed it.
func signAndVerify(t *testing.T, keys []*tokens.Key, alg string) (token, kid string) {
	t.Helper()
	ks, err := tokens.NewKeySet(keys)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	iss := &tokens.Issuer{Issuer: issuer, Keys: ks}
	issued, err := iss.IssueAccessToken(tokens.AccessClaims{
		Subject: "alice", ClientID: "web", Audience: []string{"api"}, TTL: time.Hour,
	}, alg)
	if err != nil {
		t.Fatalf("IssueAccessToken(%s): %v", alg, err)
	}
	verify(t, keys, issued.Token)
	return issued.Token, issued.KID
}

func verify(t *testing.T, keys []*tokens.Key, token string) {
	t.Helper()
	ks, err := tokens.NewKeySet(keys)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	v := &tokens.Verifier{Issuer: issuer, Keys: ks}
	va, err := v.VerifyAccessToken(token)
	if err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	if va.Subject != "alice" || va.ClientID != "web" {
		t.Fatalf("verified claims %+v", va)
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		sealer *tokens.Sealer
	}{
		{"clear", nil},
		{"sealed", newSealer(t, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, storetest.URL(t))
			k := &Keyring{Store: s, Sealer: tt.sealer, Clock: fixedClock(t0)}
			if err := k.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			list := rows(t, s)
			for _, r := range list {
				if r.Encrypted != (tt.sealer != nil) {
					t.Errorf("key %s Encrypted = %v, want %v", r.KID, r.Encrypted, tt.sealer != nil)
				}
				_, err := x509.ParsePKCS8PrivateKey(r.PrivateKey)
				if tt.sealer != nil && err == nil {
					t.Errorf("key %s is stored as clear PKCS#8 DER although a Sealer is set", r.KID)
				}
			}

			keys, err := k.Load(ctx)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := map[string]string{} // kid -> alg/state
			for _, r := range list {
				want[r.KID] = r.Algorithm + "/" + string(r.State)
			}
			got := map[string]string{}
			for _, key := range keys {
				got[key.KID] = key.Algorithm + "/" + key.State
				if !key.CreatedAt.Equal(t0) {
					t.Errorf("key %s CreatedAt %v, want %v", key.KID, key.CreatedAt, t0)
				}
				// The kid is derived from the public key, so a wrong key under a right kid shows.
				if kid, err := tokens.KeyID(key.Private.Public()); err != nil || kid != key.KID {
					t.Errorf("key %s: KeyID of its public key is %q (%v)", key.KID, kid, err)
				}
			}
			if len(got) != len(want) || len(keys) != len(list) {
				t.Fatalf("Load returned %v, want %v", got, want)
			}
			for kid, w := range want {
				if got[kid] != w {
					t.Errorf("key %s: loaded as %q, want %q", kid, got[kid], w)
				}
			}
			active := byAlgState(list)
			for _, alg := range Algorithms {
				_, kid := signAndVerify(t, keys, alg)
				if want := active[alg+"/active"]; len(want) != 1 || kid != want[0] {
					t.Errorf("%s token signed by %s, want the active key %v", alg, kid, want)
				}
			}
		})
	}
}

func TestLoadSealerMismatch(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	s := openStore(t, url)
	sealed := &Keyring{Store: s, Sealer: newSealer(t, 1)}
	if err := sealed.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	clearURL := storetest.URL(t)
	clearRing := &Keyring{Store: openStore(t, clearURL)}
	if err := clearRing.Ensure(ctx); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		k       *Keyring
		wantErr []string // substrings of the error
	}{
		{"encrypted keys without a Sealer", &Keyring{Store: s}, []string{"encrypted", "no key encryption key"}},
		{"encrypted keys with another KEK", &Keyring{Store: s, Sealer: newSealer(t, 2)}, []string{"wrong key encryption key"}},
		{"clear keys with a Sealer", &Keyring{Store: clearRing.Store, Sealer: newSealer(t, 1)}, []string{"unencrypted", "refusing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := tt.k.Load(ctx)
			if err == nil {
				t.Fatalf("Load returned %d keys, want an error", len(keys))
			}
			if keys != nil {
				t.Errorf("Load returned keys with its error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "keyring: key ") {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	for _, sealer := range []*tokens.Sealer{nil, newSealer(t, 3)} {
		t.Run(map[bool]string{true: "sealed", false: "clear"}[sealer != nil], func(t *testing.T) {
			s := openStore(t, storetest.URL(t))
			k := &Keyring{Store: s, Sealer: sealer, Clock: fixedClock(t0)}
			if err := k.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			before := byAlgState(rows(t, s))
			keys, err := k.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			oldTokens := map[string]string{}
			for _, alg := range Algorithms {
				oldTokens[alg], _ = signAndVerify(t, keys, alg)
			}

			const retain = 2 * time.Hour
			if err := k.Rotate(ctx, retain); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			list := rows(t, s)
			after := byAlgState(list)
			retireAfter := map[string]time.Time{}
			for _, r := range list {
				retireAfter[r.KID] = r.RetireAfter
				if r.Encrypted != (sealer != nil) {
					t.Errorf("key %s Encrypted = %v after rotation", r.KID, r.Encrypted)
				}
			}
			for _, alg := range Algorithms {
				oldActive, oldNext := before[alg+"/active"][0], before[alg+"/next"][0]
				if got := after[alg+"/active"]; len(got) != 1 || got[0] != oldNext {
					t.Errorf("%s active after rotation %v, want the old next key %s", alg, got, oldNext)
				}
				if got := after[alg+"/retired"]; len(got) != 1 || got[0] != oldActive {
					t.Errorf("%s retired after rotation %v, want the old active key %s", alg, got, oldActive)
				}
				if got, want := retireAfter[oldActive], t0.Add(retain); !got.Equal(want) {
					t.Errorf("%s old active key RetireAfter %v, want %v", alg, got, want)
				}
				next := after[alg+"/next"]
				if len(next) != 1 || next[0] == oldActive || next[0] == oldNext {
					t.Errorf("%s next after rotation %v, want one new key", alg, next)
				} else if !retireAfter[next[0]].IsZero() {
					t.Errorf("%s new next key has RetireAfter %v", alg, retireAfter[next[0]])
				}
			}
			if len(list) != 3*len(Algorithms) {
				t.Errorf("%d keys after rotation, want %d", len(list), 3*len(Algorithms))
			}

			keys, err = k.Load(ctx)
			if err != nil {
				t.Fatalf("Load after rotation: %v", err)
			}
			if len(keys) != len(list) {
				t.Errorf("Load after rotation returned %d keys, want %d (retired ones included)", len(keys), len(list))
			}
			for _, alg := range Algorithms {
				verify(t, keys, oldTokens[alg])
				if _, kid := signAndVerify(t, keys, alg); kid != before[alg+"/next"][0] {
					t.Errorf("%s signs with %s after rotation, want the old next key %s", alg, kid, before[alg+"/next"][0])
				}
			}

			// A second rotation moves on again: still one active and one next per algorithm.
			if err := k.Rotate(ctx, retain); err != nil {
				t.Fatalf("second Rotate: %v", err)
			}
			again := byAlgState(rows(t, s))
			for _, alg := range Algorithms {
				if got := again[alg+"/active"]; len(got) != 1 || got[0] != after[alg+"/next"][0] {
					t.Errorf("%s active after second rotation %v, want %v", alg, got, after[alg+"/next"])
				}
				if n := len(again[alg+"/retired"]); n != 2 {
					t.Errorf("%s retired keys after second rotation: %d, want 2", alg, n)
				}
			}
		})
	}
}

func TestLoadSkipsExpiredRetiredKeys(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, storetest.URL(t))
	k := &Keyring{Store: s, Clock: fixedClock(t0)}
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	const retain = time.Hour
	if err := k.Rotate(ctx, retain); err != nil {
		t.Fatal(err)
	}
	// A retired key without RetireAfter is kept for good.
	if _, err := s.Pool().Exec(ctx, `UPDATE signing_keys SET retire_after = NULL WHERE state = 'retired' AND alg = 'RS256'`); err != nil {
		t.Fatal(err)
	}
	retired := byAlgState(rows(t, s))
	esRetired, rsRetired := retired["ES256/retired"][0], retired["RS256/retired"][0]

	tests := []struct {
		name       string
		now        time.Time
		wantKeys   int
		wantESKept bool
	}{
		{"before RetireAfter", t0.Add(30 * time.Minute), 6, true},
		{"at RetireAfter", t0.Add(retain), 6, true},
		{"just after RetireAfter", t0.Add(retain + time.Microsecond), 5, false},
		{"long after", t0.Add(100 * 24 * time.Hour), 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Keyring{Store: s, Clock: fixedClock(tt.now)}
			keys, err := l.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			kids := map[string]bool{}
			for _, key := range keys {
				kids[key.KID] = true
			}
			if len(keys) != tt.wantKeys {
				t.Errorf("Load at %v returned %d keys, want %d", tt.now, len(keys), tt.wantKeys)
			}
			if kids[esRetired] != tt.wantESKept {
				t.Errorf("retired ES256 key loaded = %v, want %v", kids[esRetired], tt.wantESKept)
			}
			if !kids[rsRetired] {
				t.Error("retired RS256 key without RetireAfter was skipped")
			}
			// Whatever is skipped, both algorithms can still sign.
			for _, alg := range Algorithms {
				signAndVerify(t, keys, alg)
			}
		})
	}
}
