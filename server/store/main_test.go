/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// t0 is the tests' "now": a whole second, so that it survives Postgres' microseconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// equateEmpty treats nil and empty slices alike: the store reads an empty array back as
// an empty slice.
var equateEmpty = cmpopts.EquateEmpty()

// newStore opens a Store on a fresh database, closed when the test ends.
func newStore(tb testing.TB) *store.Store {
	tb.Helper()
	return openStore(tb, storetest.URL(tb), store.Options{})
}

func openStore(tb testing.TB, url string, opts store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), url, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// hash is the SHA-256 of a secret, the way callers pass codes and tokens.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func mustClient(tb testing.TB, s *store.Store, id string) *store.Client {
	tb.Helper()
	c := &store.Client{
		ID:                      id,
		Name:                    "Client " + id,
		Type:                    store.Confidential,
		RedirectURIs:            []string{"https://" + id + ".example.com/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethod: "client_secret_basic",
		SecretHash:              hash("secret-" + id),
	}
	if err := s.CreateClient(context.Background(), c); err != nil {
		tb.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func mustUser(tb testing.TB, s *store.Store, username string) *store.User {
	tb.Helper()
	u := &store.User{Username: username, Email: username + "@example.com", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

func mustScope(tb testing.TB, s *store.Store, name string) *store.Scope {
	tb.Helper()
	sc := &store.Scope{Name: name, Description: "the " + name + " scope"}
	if err := s.CreateScope(context.Background(), sc); err != nil {
		tb.Fatalf("CreateScope(%s): %v", name, err)
	}
	return sc
}

// mustRefresh stores a refresh token of a new family for the client and user.
func mustRefresh(tb testing.TB, s *store.Store, secret, clientID, userID string, scopes ...string) *store.RefreshToken {
	tb.Helper()
	t := &store.RefreshToken{
		Hash:            hash(secret),
		FamilyID:        "family-" + secret,
		ClientID:        clientID,
		UserID:          userID,
		Scopes:          scopes,
		AuthTime:        t0.Add(-time.Minute),
		AccessTokenJTI:  "jti-" + secret,
		AccessExpiresAt: t0.Add(time.Hour),
		ExpiresAt:       t0.Add(24 * time.Hour),
		CreatedAt:       t0,
	}
	if err := s.CreateRefreshToken(context.Background(), t); err != nil {
		tb.Fatalf("CreateRefreshToken: %v", err)
	}
	return t
}

// mustCode stores an authorization code issued at t0, valid for a minute.
func mustCode(tb testing.TB, s *store.Store, secret, clientID, userID string) *store.AuthorizationCode {
	tb.Helper()
	c := &store.AuthorizationCode{
		Hash:          hash(secret),
		ClientID:      clientID,
		UserID:        userID,
		RedirectURI:   "https://" + clientID + ".example.com/callback",
		Scopes:        []string{"openid", "offline_access"},
		Nonce:         "nonce-" + secret,
		CodeChallenge: "challenge-" + secret,
		AuthTime:      t0.Add(-time.Minute),
		ExpiresAt:     t0.Add(time.Minute),
		CreatedAt:     t0,
	}
	if err := s.CreateAuthorizationCode(context.Background(), c); err != nil {
		tb.Fatalf("CreateAuthorizationCode: %v", err)
	}
	return c
}

// wantErr fails the test unless err is (wraps) want; want nil means no error.
func wantErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if want == nil {
		if err != nil {
			tb.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		tb.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func diff(tb testing.TB, what string, got, want any, opts ...cmp.Option) {
	tb.Helper()
	if d := cmp.Diff(want, got, append(opts, equateEmpty)...); d != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// count runs a COUNT query on the store's pool, for assertions on rows the API does not
// expose.
func count(tb testing.TB, s *store.Store, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// recorder collects the Changes a Listen delivers.
type recorder struct {
	mu      sync.Mutex
	changes []store.Change
}

func (r *recorder) add(c store.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *recorder) count(c store.Change) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, got := range r.changes {
		if got == c {
			n++
		}
	}
	return n
}

// waitFor polls until the recorder has seen c at least n times, or fails after a deadline.
func (r *recorder) waitFor(tb testing.TB, c store.Change, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count(c) < n {
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			tb.Fatalf("no %d× %+v within 10s; got %+v", n, c, r.changes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listen runs s.Listen into a recorder until the test ends, and waits for its first
// ChangeReset so that nothing written afterwards is missed.
func listen(tb testing.TB, s *store.Store) *recorder {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{}
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, r.add) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Listen returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("Listen did not return within 10s of cancel")
		}
	})
	r.waitFor(tb, store.Change{Kind: store.ChangeReset}, 1)
	return r
}

// parallel runs f n times at once and returns the errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			errs[i] = f(i)
		}()
	}
	start.Done()
	wg.Wait()
	return errs
}

// tally counts errors by kind: nil, or one of the store's errors, or "other: ...".
func tally(errs []error) map[string]int {
	out := map[string]int{}
	for _, err := range errs {
		switch {
		case err == nil:
			out["ok"]++
		case errors.Is(err, store.ErrAlreadyUsed):
			out["already used"]++
		default:
			out[fmt.Sprintf("other: %v", err)]++
		}
	}
	return out
}
