/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/authly-dev/authly-operator/hack/internal/harness"
)

// The load of the server scenarios: eight clients, one request every 10 ms or so each.
const (
	loadWorkers = 8
	loadPause   = 10 * time.Millisecond
	loadCodes   = 600
	warmUp      = 2 * time.Second
	afterFault  = 4 * time.Second
)

// fiveXX counts answers with a 5xx other than 503 with Retry-After (which is how the
// server says "try again later": the only 5xx a fault may cause).
func fiveXX(res *result) int {
	n := 0
	for k, c := range res.errors {
		if strings.Contains(k, "HTTP 5") && (!strings.Contains(k, "HTTP 503") || strings.Contains(k, noRetryAfter)) {
			n += c
		}
	}
	return n
}

// postgresFault stops Postgres (fast shutdown) under load, keeps it down for outage, and
// starts it again on the same port and data directory.
func (e *serverEnv) postgresFault(ctx context.Context, name string, outage time.Duration) *result {
	res := newResult(name)
	l, err := e.newLoad(ctx, e.replicas, loadWorkers, loadPause, mixAll, loadCodes, staticRouter(len(e.replicas)))
	if err != nil {
		res.problem("preparing the load: %v", err)
		return res
	}
	var faultStart time.Time
	var restartErr error
	end := l.drive(ctx, warmUp, afterFault, func() time.Time {
		faultStart = time.Now()
		e.stopPostgres()
		sleep(ctx, outage)
		restartErr = e.startPostgres(ctx)
		return time.Now()
	})
	if restartErr != nil {
		res.problem("Postgres did not start again: %v", restartErr)
		return res
	}
	res.note("Postgres down for %.1f s (stop, %s, start on the same port and data directory)", end.Sub(faultStart).Seconds(), outage)
	l.tally(res, end, nil)
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	l.verify(ctx, res)
	return res
}

// sigterm sends SIGTERM to one replica under load, with the load routed by readiness as a
// Service does, and starts it again once it has exited.
func (e *serverEnv) sigterm(ctx context.Context) *result {
	res := newResult("sigterm")
	const victim = 1
	routeCtx, stopRouting := context.WithCancel(ctx)
	defer stopRouting()
	rr := newReadinessRouter(routeCtx, e, 100*time.Millisecond)
	l, err := e.newLoad(ctx, e.replicas, loadWorkers, loadPause, mixAll, loadCodes, rr.pick)
	if err != nil {
		res.problem("preparing the load: %v", err)
		return res
	}
	var termAt time.Time
	var exited bool
	var startErr error
	var slow []answer
	end := l.drive(ctx, warmUp, afterFault, func() time.Time {
		// Requests surely in flight: their bodies are still being sent when the replica
		// gets SIGTERM, and end after its drain, while it shuts down.
		slowDone := e.slowRequests(ctx, victim, slowInFlight, 200*time.Millisecond, shutdownGrace/4+500*time.Millisecond, &slow)
		termAt = time.Now()
		exited = e.replicas[victim].signal(syscall.SIGTERM, shutdownGrace+10*time.Second)
		<-slowDone
		stopped := time.Now()
		res.note("replica %d exited %.1f s after SIGTERM (drains %s, then shuts down)", victim, stopped.Sub(termAt).Seconds(), shutdownGrace/4)
		startErr = e.replicas[victim].start(ctx, e.o.authly)
		return time.Now()
	})
	if !exited {
		res.problem("replica %d did not exit within %s of SIGTERM", victim, shutdownGrace+10*time.Second)
	}
	if startErr != nil {
		res.problem("replica %d did not start again: %v", victim, startErr)
	}
	l.tally(res, end, nil)
	inFlight, failedOnVictim := 0, 0
	for _, s := range l.rec.all() {
		if s.replica != victim {
			continue
		}
		if s.start.Before(termAt) && s.end.After(termAt) {
			inFlight++
		}
		if !s.ok && !s.end.Before(termAt) {
			failedOnVictim++
		}
	}
	for _, a := range slow {
		res.requests++
		if _, err := parseToken(a); err != nil || !a.ok() {
			res.errors["cc (in flight at SIGTERM): "+a.kind()]++
			failedOnVictim++
		}
	}
	res.note("in flight on replica %d when it got SIGTERM: %d request(s) of the load, and %d slow ones whose bodies ended %s after it",
		victim, inFlight, len(slow), shutdownGrace/4+500*time.Millisecond)
	if failedOnVictim > 0 {
		res.problem("%d requests to the replica shutting down failed (they must drain)", failedOnVictim)
	}
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	l.verify(ctx, res)
	return res
}

// slowInFlight is how many slow requests are in flight at SIGTERM.
const slowInFlight = 4

// slowRequests starts n client_credentials requests to replica r whose bodies are sent in
// two halves: the first now, the second after lead+tail, and returns once the first
// halves have been sent for lead (then the caller sends its signal); the returned channel
// closes when every answer is in answers.
func (e *serverEnv) slowRequests(ctx context.Context, r, n int, lead, tail time.Duration, answers *[]answer) <-chan struct{} {
	hc := newHTTPClient(n)
	out := make([]answer, n)
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}}.Encode()
	half := len(body) / 2
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.replicas[r].url+tokenPath, pr)
		if err != nil {
			out[i] = answer{replica: r, err: err}
			continue
		}
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", formType)
		req.Header.Set("Authorization", e.fx.service.Basic)
		wg.Go(func() {
			a := answer{replica: r, start: time.Now()}
			resp, err := hc.Do(req)
			if err == nil {
				a.body, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				a.status = resp.StatusCode
			}
			a.err, a.end = err, time.Now()
			out[i] = a
		})
		wg.Go(func() {
			_, _ = io.WriteString(pw, body[:half])
			sleep(ctx, lead+tail)
			_, _ = io.WriteString(pw, body[half:])
			_ = pw.Close()
		})
	}
	sleep(ctx, lead)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		*answers = out
		close(done)
	}()
	return done
}

// sigkill kills one replica under load, the load still sending to it, and starts it again
// after 2 s.
func (e *serverEnv) sigkill(ctx context.Context) *result {
	res := newResult("sigkill")
	const victim = 2
	l, err := e.newLoad(ctx, e.replicas, loadWorkers, loadPause, mixAll, loadCodes, staticRouter(len(e.replicas)))
	if err != nil {
		res.problem("preparing the load: %v", err)
		return res
	}
	var startErr error
	end := l.drive(ctx, warmUp, afterFault, func() time.Time {
		e.replicas[victim].signal(syscall.SIGKILL, 5*time.Second)
		sleep(ctx, 2*time.Second)
		restart := time.Now()
		if startErr = e.replicas[victim].startAsync(e.o.authly); startErr == nil {
			startErr = e.replicas[victim].waitReady(ctx, 30*time.Second)
		}
		return restart
	})
	if startErr != nil {
		res.problem("replica %d did not start again: %v", victim, startErr)
	}
	l.tally(res, end, func(r int) bool { return r == victim })
	others := 0
	for _, s := range l.rec.all() {
		if !s.ok && s.replica != victim {
			others++
		}
	}
	if others > 0 {
		res.problem("%d requests to the replicas that were not killed failed", others)
	}
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	res.note("recovery: from the restart of the killed replica to its first success of each kind that failed")
	l.verify(ctx, res)
	return res
}

// smallPool runs a fourth server with a database pool of one connection under 64
// concurrent clients sending database-bound grants.
func (e *serverEnv) smallPool(ctx context.Context) *result {
	res := newResult("small-pool")
	ports, err := harness.FreePorts(1)
	if err != nil {
		res.problem("%v", err)
		return res
	}
	small := e.newReplica(len(e.replicas), ports[0], 1)
	if err := small.start(ctx, e.o.authly); err != nil {
		res.problem("starting the server with --pool-max-conns 1: %v", err)
		return res
	}
	defer small.stop()
	// The load reaches only the small server; the checks afterwards use every replica.
	const clients = 64
	l, err := e.newLoad(ctx, []*replica{small}, clients, 0, mixDB, 1200, func(int, int) int { return 0 })
	if err != nil {
		res.problem("preparing the load: %v", err)
		return res
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { l.run(ctx, stop); close(done) }()
	sleep(ctx, 6*time.Second)
	close(stop)
	<-done
	l.tally(res, time.Time{}, nil)
	var slowest time.Duration
	for _, s := range l.rec.all() {
		slowest = max(slowest, s.end.Sub(s.start))
	}
	res.note("%d clients, pool of 1 connection: slowest answer %.2f s", clients, slowest.Seconds())
	if n := fiveXX(res); n > 0 {
		res.problem("%d answers were a 5xx other than 503 with Retry-After", n)
	}
	l.verify(ctx, res)
	return res
}
