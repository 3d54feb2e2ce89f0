/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// movableClock is real time plus an offset the test moves, shared by replicas.
type movableClock struct{ offset atomic.Int64 }

func (c *movableClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *movableClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

const testReuseInterval = 30 * time.Second

// grantRefreshToken stores a refresh token for the user and client, as a code exchange
// would have issued it, and returns its value.
func (e *testEnv) grantRefreshToken(client *store.Client, user *store.User, now time.Time) string {
	e.t.Helper()
	value, err := credentials.NewOrderedToken(nil, now)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.store.CreateRefreshToken(e.ctx, &store.RefreshToken{
		Hash: credentials.StorageKey(value), FamilyID: "family-" + value[len(value)-12:], ClientID: client.ID,
		UserID: user.ID, Scopes: []string{"openid", "orders:read"}, AuthTime: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return value
}

func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

// refreshConcurrently presents the refresh token n times at once, alternately to each
// replica, and returns the answers. It does not fail the test itself (it runs off the
// test's goroutine): a transport error is an answer with status 0.
func refreshConcurrently(t *testing.T, replicas []*testEnv, clientID, secret, token string, n int) []tokenResult {
	t.Helper()
	results := make([]tokenResult, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			results[i] = postToken(replicas[i%len(replicas)].URL, clientID, secret, refreshForm(token))
		})
	}
	start.Done()
	wg.Wait()
	return results
}

func postToken(base, clientID, secret string, form url.Values) tokenResult {
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResult{ErrorDescription: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenResult{ErrorDescription: err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	var res tokenResult
	if err == nil {
		err = json.Unmarshal(body, &res)
	}
	if err != nil {
		return tokenResult{ErrorDescription: fmt.Sprintf("%d %q: %v", resp.StatusCode, body, err)}
	}
	res.status = resp.StatusCode
	return res
}

// outcomes tallies answers by status and error code.
func outcomes(results []tokenResult) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		out[fmt.Sprintf("%d %s", r.status, r.Error)]++
	}
	return out
}

func sumMetric(t *testing.T, series string, replicas ...*testEnv) float64 {
	t.Helper()
	sum := 0.0
	for _, e := range replicas {
		if v := metricValue(t, e.scrape(), series); v > 0 {
			sum += v
		}
	}
	return sum
}

// Issue 14, item 3: with a reuse interval, a client whose refresh response was lost may
// present the spent token again. Twenty concurrent presentations over two replicas within
// the interval all succeed and leave exactly one live refresh token; after the interval,
// or from another client, a second use revokes the family as before.
func TestRefreshReuseIntervalAcrossReplicas(t *testing.T) {
	clock := &movableClock{}
	a, b := newReplicaPair(t, generousLimits, func(c *server.Config) {
		c.RefreshTokenReuseInterval = testReuseInterval
		c.Clock = clock.now
	})
	replicas := []*testEnv{a, b}
	user := a.user("hana", "correct horse battery")
	client, secret := a.webClient()
	other, otherSecret := a.webClient()
	const n = 20

	// activeRefreshTokens counts the tokens that introspect as active for the client.
	activeRefreshTokens := func(results []tokenResult) int {
		active := 0
		for _, r := range results {
			if r.RefreshToken != "" && a.introspect(client.ID, secret, r.RefreshToken) {
				active++
			}
		}
		return active
	}

	t.Run("within the interval", func(t *testing.T) {
		token := a.grantRefreshToken(client, user, clock.now())
		results := refreshConcurrently(t, replicas, client.ID, secret, token, n)
		if got := outcomes(results); got["200 "] != n {
			t.Fatalf("outcomes %v, want %d × 200", got, n)
		}
		if got := activeRefreshTokens(results); got != 1 {
			t.Fatalf("%d of the %d refresh tokens issued are active, want exactly 1", got, n)
		}
		if got := sumMetric(t, `authly_refresh_token_reuse_total{outcome="grace"}`, a, b); got != n-1 {
			t.Errorf("grace rotations counted: %v, want %d", got, n-1)
		}

		// A second lost response: the spent token works again within the interval of its
		// first rotation, and the live token it replaced dies.
		clock.advance(testReuseInterval / 2)
		var live string
		for _, r := range results {
			if a.introspect(client.ID, secret, r.RefreshToken) {
				live = r.RefreshToken
			}
		}
		again := b.tokenRequest(client.ID, secret, refreshForm(token))
		if again.status != http.StatusOK {
			t.Fatalf("presented again within the interval: %d %s", again.status, again.ErrorDescription)
		}
		if a.introspect(client.ID, secret, live) {
			t.Error("the refresh token the repeated rotation replaced is still active")
		}
		// The family lives on: the newest token rotates normally.
		next := a.tokenRequest(client.ID, secret, refreshForm(again.RefreshToken))
		if next.status != http.StatusOK {
			t.Fatalf("newest token: %d %s", next.status, next.ErrorDescription)
		}
		// Its child was used: the original token is a replay now, even within the interval.
		replay := b.tokenRequest(client.ID, secret, refreshForm(token))
		if replay.Error != "invalid_grant" {
			t.Fatalf("original token after its successor was used: %+v, want invalid_grant", replay)
		}
		if a.introspect(client.ID, secret, next.RefreshToken) {
			t.Error("the family survived a replay")
		}
	})

	t.Run("after the interval", func(t *testing.T) {
		revokedBefore := sumMetric(t, `authly_refresh_token_reuse_total{outcome="revoked_family"}`, a, b)
		token := a.grantRefreshToken(client, user, clock.now())
		first := a.tokenRequest(client.ID, secret, refreshForm(token))
		if first.status != http.StatusOK {
			t.Fatalf("first rotation: %d %s", first.status, first.ErrorDescription)
		}
		clock.advance(testReuseInterval + time.Second)
		results := refreshConcurrently(t, replicas, client.ID, secret, token, n)
		if got := outcomes(results); got["400 invalid_grant"] != n {
			t.Fatalf("outcomes %v, want %d × 400 invalid_grant", got, n)
		}
		if a.introspect(client.ID, secret, first.RefreshToken) {
			t.Error("the first rotation's token survived the replays")
		}
		if got := sumMetric(t, `authly_refresh_token_reuse_total{outcome="revoked_family"}`, a, b) - revokedBefore; got != n {
			t.Errorf("family revocations counted: %v, want %d", got, n)
		}
	})

	t.Run("another client within the interval", func(t *testing.T) {
		token := a.grantRefreshToken(client, user, clock.now())
		first := a.tokenRequest(client.ID, secret, refreshForm(token))
		if first.status != http.StatusOK {
			t.Fatalf("first rotation: %d %s", first.status, first.ErrorDescription)
		}
		stolen := b.tokenRequest(other.ID, otherSecret, refreshForm(token))
		if stolen.Error != "invalid_grant" {
			t.Fatalf("another client's presentation: %+v, want invalid_grant", stolen)
		}
		if a.introspect(client.ID, secret, first.RefreshToken) {
			t.Error("the family survived another client's presentation")
		}
		if retry := a.tokenRequest(client.ID, secret, refreshForm(token)); retry.Error != "invalid_grant" {
			t.Errorf("own client after the family was revoked: %+v, want invalid_grant", retry)
		}
	})
}

// Without a reuse interval (the default) a second use is a replay at once.
func TestRefreshReuseIntervalOffIsStrict(t *testing.T) {
	e := newTestEnv(t)
	user := e.user("ivan", "correct horse battery")
	client, secret := e.webClient()
	token := e.grantRefreshToken(client, user, time.Now())
	first := e.tokenRequest(client.ID, secret, refreshForm(token))
	if first.status != http.StatusOK {
		t.Fatalf("first rotation: %d %s", first.status, first.ErrorDescription)
	}
	if again := e.tokenRequest(client.ID, secret, refreshForm(token)); again.Error != "invalid_grant" {
		t.Fatalf("second use: %+v, want invalid_grant", again)
	}
	if e.introspect(client.ID, secret, first.RefreshToken) {
		t.Error("the family survived the second use")
	}
	if got := metricValue(t, e.scrape(), `authly_refresh_token_reuse_total{outcome="revoked_family"}`); got != 1 {
		t.Errorf("family revocations counted: %v, want 1", got)
	}
}
