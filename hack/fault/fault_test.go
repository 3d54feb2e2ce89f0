/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestAnswerKindAndAmbiguity(t *testing.T) {
	refused := fmt.Errorf("dial tcp 127.0.0.1:1: connect: %w", syscall.ECONNREFUSED)
	for _, c := range []struct {
		a         answer
		kind      string
		ambiguous bool
	}{
		{answer{status: 200, body: []byte(`{"access_token":"x"}`)}, "HTTP 200", false},
		{answer{status: 503, body: []byte(`{"error":"temporarily_unavailable"}`), header: http.Header{"Retry-After": {"1"}}}, "HTTP 503 temporarily_unavailable", false},
		{answer{status: 503, body: []byte(`{"error":"temporarily_unavailable"}`)}, "HTTP 503 temporarily_unavailable without Retry-After", false},
		{answer{status: 500, body: []byte(`{"error":"server_error"}`)}, "HTTP 500 server_error", true},
		{answer{status: 400, body: []byte(`not json`)}, "HTTP 400", false},
		{answer{err: refused}, "connection refused", false},
		{answer{err: fmt.Errorf("read: %w", syscall.ECONNRESET)}, "connection reset", true},
		{answer{err: fmt.Errorf("Post: %w", io.EOF)}, "EOF", true},
		{answer{err: errors.New("something else")}, "transport error", true},
	} {
		if got := c.a.kind(); got != c.kind {
			t.Errorf("kind(%v %s) = %q, want %q", c.a.err, c.a.body, got, c.kind)
		}
		if got := c.a.ambiguous(); got != c.ambiguous {
			t.Errorf("ambiguous(%q) = %v, want %v", c.kind, got, c.ambiguous)
		}
	}
}

// A refused refresh token counts as lost unless the previous attempt got no clear answer.
func TestRefreshOutcome(t *testing.T) {
	invalidGrant := answer{status: http.StatusBadRequest, body: []byte(`{"error":"invalid_grant"}`)}
	l := &loadGen{}
	c := &chain{current: "rt-1"}
	l.refreshOutcome(c, answer{status: 200, body: []byte(`{"access_token":"at","refresh_token":"rt-2"}`)})
	if c.current != "rt-2" || c.broken {
		t.Fatalf("after a rotation: %+v", c)
	}
	l.refreshOutcome(c, answer{status: 503, body: []byte(`{"error":"temporarily_unavailable"}`)})
	if c.ambiguous {
		t.Fatal("a 503 made the chain ambiguous: the server says it did nothing")
	}
	l.refreshOutcome(c, invalidGrant)
	if !c.broken || l.lostRefresh != 1 {
		t.Fatalf("a refused token after clear answers: broken %v, lost %d, want broken and 1 lost", c.broken, l.lostRefresh)
	}

	c = &chain{current: "rt-1"}
	l.refreshOutcome(c, answer{err: fmt.Errorf("read: %w", syscall.ECONNRESET)})
	l.refreshOutcome(c, invalidGrant)
	if !c.broken || l.lostRefresh != 1 {
		t.Fatalf("a refused token after a lost answer: broken %v, lost %d, want broken and no new loss", c.broken, l.lostRefresh)
	}
	kinds := map[string]int{}
	for _, s := range l.rec.all() {
		if !s.ok {
			kinds[s.kind]++
		}
	}
	if kinds["chain broken after a lost answer (invalid_grant)"] != 1 {
		t.Errorf("kinds %v: want one chain broken after a lost answer", kinds)
	}
}

func TestTallyRecovery(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	l := &loadGen{}
	l.rec.samples = []sample{
		{op: "refresh", replica: 0, start: at(0), end: at(10), ok: true},
		{op: "refresh", replica: 0, start: at(100), end: at(110), ok: false, kind: "HTTP 503 temporarily_unavailable"},
		{op: "refresh", replica: 1, start: at(1000), end: at(1300), ok: true},
		{op: "refresh", replica: 0, start: at(1100), end: at(1250), ok: true},
		{op: "cc", replica: 0, start: at(100), end: at(110), ok: false, kind: "connection refused"},
		{op: "cc", replica: 2, start: at(2000), end: at(2500), ok: true},
		{op: "jwks", replica: 1, start: at(100), end: at(110), ok: true},
	}
	res := newResult("t")
	l.tally(res, at(1000), nil)
	if res.requests != 7 || res.errors["refresh: HTTP 503 temporarily_unavailable"] != 1 || res.errors["cc: connection refused"] != 1 {
		t.Fatalf("requests %d, errors %v", res.requests, res.errors)
	}
	// refresh is back at 1250 ms, cc at 2500 ms: the longest counts.
	if res.recovery != 1500*time.Millisecond || !res.recovered {
		t.Errorf("recovery %v (recovered %v), want 1.5s", res.recovery, res.recovered)
	}

	// Only replica 0 counts: cc failed there and never succeeded there again.
	res = newResult("t")
	l.tally(res, at(1000), func(r int) bool { return r == 0 })
	if res.recovered || res.passed() {
		t.Errorf("recovered %v, passed %v: cc never succeeded again on replica 0", res.recovered, res.passed())
	}
}

func TestReportMarkdown(t *testing.T) {
	ok := newResult("races")
	ok.requests = 250
	bad := newResult("pg-outage")
	bad.requests = 10
	bad.errors["refresh: HTTP 500 server_error"] = 3
	bad.errors["code: HTTP 503 temporarily_unavailable"] = 5
	bad.recovery = 1250 * time.Millisecond
	bad.problem("3 answers were a 5xx | other than 503")
	bad.loss(2, "tokens")
	path := filepath.Join(t.TempDir(), "FAULTS.md")
	rep := &report{results: []*result{ok, bad}, elapsed: 5 * time.Minute}
	if err := rep.write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"| races | ok | 250 | none | – | 0 |",
		"| pg-outage | FAIL | 10 | code: HTTP 503 temporarily_unavailable ×5; refresh: HTTP 500 server_error ×3 | 1.25 s | 2 |",
		`FAIL: 3 answers were a 5xx \| other than 503`,
		"## The scenarios",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if n := fiveXX(bad); n != 3 {
		t.Errorf("fiveXX = %d, want the 3 answers 500", n)
	}
	bad.errors["cc: HTTP 503 temporarily_unavailable"+noRetryAfter] = 2
	if n := fiveXX(bad); n != 5 {
		t.Errorf("fiveXX = %d, want 5 with the 503s without Retry-After", n)
	}
	if !ok.passed() || bad.passed() {
		t.Errorf("passed: %v and %v, want true and false", ok.passed(), bad.passed())
	}
}
