/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/authly-dev/authly-operator/hack/internal/harness"
)

// The races: how many presentations at once, how many rounds.
const (
	raceWays   = 50
	raceRounds = 5
)

// races presents one refresh token, one code, and revokes one token, 50 ways at once
// across the replicas.
func (e *serverEnv) races(ctx context.Context) []*result {
	return []*result{e.raceRefresh(ctx), e.raceCode(ctx), e.raceRevoke(ctx)}
}

// race sends n requests built by req at once, request i to replica i % replicas, each on
// its own connection, and returns the answers.
func (e *serverEnv) race(ctx context.Context, n int, req func(ctx context.Context, hc *http.Client, i, r int) answer) []answer {
	hc := newHTTPClient(n)
	// Open the connections first, so that the requests leave together.
	var warm sync.WaitGroup
	for i := range n {
		r := i % len(e.replicas)
		warm.Go(func() {
			_ = exchange(ctx, hc, r, http.MethodGet, e.replicas[r].url+"/health", nil, "")
		})
	}
	warm.Wait()
	out := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = req(ctx, hc, i, i%len(e.replicas))
		})
	}
	close(start)
	wg.Wait()
	hc.CloseIdleConnections()
	return out
}

// winners counts the successes and files every other answer under its kind.
func winners(res *result, op string, answers []answer) int {
	n := 0
	for _, a := range answers {
		res.requests++
		if a.ok() {
			n++
			continue
		}
		if a.status == http.StatusBadRequest && harness.OAuthError(a.body) == "invalid_grant" {
			continue // the expected answer of a loser
		}
		res.errors[op+": "+a.kind()]++
	}
	return n
}

func (e *serverEnv) raceRefresh(ctx context.Context) *result {
	res := newResult("race-refresh")
	tokens, err := e.refreshTokens(ctx, raceRounds)
	if err != nil {
		res.problem("preparing: %v", err)
		return res
	}
	var dist []int
	for _, rt := range tokens {
		answers := e.race(ctx, raceWays, func(ctx context.Context, hc *http.Client, _, r int) answer {
			return postForm(ctx, hc, r, e.replicas[r].url, tokenPath, e.fx.web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		})
		w := winners(res, "refresh", answers)
		dist = append(dist, w)
		// The replicas run with the server's default refresh-token reuse interval (none):
		// a spent token is reuse, whatever replica it reaches.
		if w != 1 {
			res.problem("%d presentations of one refresh token won, want exactly 1", w)
		}
	}
	res.note("winners per round: %v (%d presentations each, spread over %d replicas)", dist, raceWays, len(e.replicas))
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	return res
}

func (e *serverEnv) raceCode(ctx context.Context) *result {
	res := newResult("race-code")
	codes, err := e.codes(ctx, raceRounds)
	if err != nil {
		res.problem("preparing: %v", err)
		return res
	}
	var dist []int
	for _, code := range codes {
		answers := e.race(ctx, raceWays, func(ctx context.Context, hc *http.Client, _, r int) answer {
			return postForm(ctx, hc, r, e.replicas[r].url, tokenPath, e.fx.web, codeBody(code))
		})
		w := winners(res, "code", answers)
		dist = append(dist, w)
		if w != 1 {
			res.problem("%d redemptions of one code won, want exactly 1", w)
		}
	}
	res.note("winners per round: %v (%d redemptions each, spread over %d replicas)", dist, raceWays, len(e.replicas))
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	return res
}

// raceRevoke revokes one access token and one refresh token 25 ways each at once, then
// checks that every replica refuses both.
func (e *serverEnv) raceRevoke(ctx context.Context) *result {
	res := newResult("race-revoke")
	hc := newHTTPClient(4)
	const rounds = 3
	rts, err := e.refreshTokens(ctx, rounds)
	if err != nil {
		res.problem("preparing: %v", err)
		return res
	}
	var settle time.Duration
	for round := range rounds {
		a := postForm(ctx, hc, 0, e.replicas[0].url, tokenPath, e.fx.service, url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}})
		res.requests++
		t, err := parseToken(a)
		if err != nil || !a.ok() {
			res.problem("client_credentials before the race: %s", a.kind())
			return res
		}
		// Every replica has seen the token active (and cached its verification).
		for r := range e.replicas {
			res.requests++
			if !active(e.introspect(ctx, hc, r, t.AccessToken)) {
				res.problem("replica %d finds a fresh token inactive", r)
			}
		}
		rt := rts[round]
		answers := e.race(ctx, raceWays, func(ctx context.Context, hc *http.Client, i, r int) answer {
			if i%2 == 0 {
				return postForm(ctx, hc, r, e.replicas[r].url, revokePath, e.fx.service, url.Values{"token": {t.AccessToken}, "token_type_hint": {"access_token"}})
			}
			return postForm(ctx, hc, r, e.replicas[r].url, revokePath, e.fx.web, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}})
		})
		ok := 0
		for _, a := range answers {
			res.requests++
			if a.ok() {
				ok++
			} else {
				res.errors["revoke: "+a.kind()]++
			}
		}
		if ok != raceWays {
			res.problem("round %d: %d of %d revocations answered 200 (RFC 7009: every one should)", round, ok, raceWays)
		}
		// Every replica must now refuse both; the deny-list reaches the others by NOTIFY.
		revokedAt := time.Now()
		deadline := revokedAt.Add(15 * time.Second)
		for r := range e.replicas {
			for {
				a := e.introspect(ctx, hc, r, t.AccessToken)
				res.requests++
				if a.ok() && !active(a) {
					settle = max(settle, time.Since(revokedAt))
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					res.loss(1, "revoked access token still active on replica %d after 15 s", r)
					break
				}
				sleep(ctx, 50*time.Millisecond)
			}
			a := postForm(ctx, hc, r, e.replicas[r].url, tokenPath, e.fx.web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			res.requests++
			if a.ok() {
				res.loss(1, "revoked refresh token still rotates on replica %d", r)
			} else if a.status != http.StatusBadRequest {
				res.errors["refresh after revoke: "+a.kind()]++
			}
		}
	}
	res.note("%d rounds: every replica answered inactive at most %.2f s after the revocations returned", rounds, settle.Seconds())
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	return res
}
