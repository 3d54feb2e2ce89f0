/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/authly-dev/authly-operator/hack/internal/harness"
)

// Paths of the server.
const (
	tokenPath      = "/api/v1/oauth/token"
	revokePath     = "/api/v1/oauth/revoke"
	introspectPath = "/api/v1/oauth/introspect"
	authorizePath  = "/api/v1/oauth/authorize"
	userinfoPath   = "/oidc/userinfo"
	logoutPath     = "/oidc/logout"
	jwksPath       = "/.well-known/jwks.json"
	oidcPath       = "/.well-known/openid-configuration"
	oauthMetaPath  = "/.well-known/oauth-authorization-server"
	formType       = "application/x-www-form-urlencoded"
)

// requestTimeout bounds every request of the suite.
const requestTimeout = 10 * time.Second

// answer is one HTTP exchange: its status and body, or the transport error.
type answer struct {
	replica    int
	start, end time.Time
	status     int
	body       []byte
	header     http.Header
	err        error
}

func (a answer) ok() bool { return a.err == nil && a.status >= 200 && a.status < 300 }

// kind classifies an answer: "HTTP 503 temporarily_unavailable", "connection refused"...
func (a answer) kind() string {
	if a.err != nil {
		return transportKind(a.err)
	}
	k := fmt.Sprintf("HTTP %d", a.status)
	if code := harness.OAuthError(a.body); code != "" {
		k += " " + code
	}
	if a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
		k += noRetryAfter
	}
	return k
}

// noRetryAfter marks a 503 that does not say when to try again.
const noRetryAfter = " without Retry-After"

// refused says the request never reached a server: nothing can have happened.
func (a answer) refused() bool { return a.err != nil && errors.Is(a.err, syscall.ECONNREFUSED) }

// ambiguous says the server may have acted on the request without the client knowing:
// the connection broke after the request was sent, or an unexpected 5xx.
func (a answer) ambiguous() bool {
	if a.err != nil {
		return !a.refused()
	}
	return a.status >= 500 && a.status != http.StatusServiceUnavailable
}

// transportKind shortens a transport error to a stable kind (without addresses).
func transportKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "Timeout"), strings.Contains(err.Error(), "timeout"):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	s := err.Error()
	for _, k := range []string{"connection reset", "EOF", "broken pipe", "server closed idle connection"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return "transport error"
}

// newHTTPClient is a keep-alive client as an application's would be.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConns:        4*conns + 16,
			MaxIdleConnsPerHost: conns + 8,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// exchange sends one request to base+path and reads the whole answer.
func exchange(ctx context.Context, hc *http.Client, replica int, method, rawURL string, header http.Header, body string) answer {
	a := answer{replica: replica, start: time.Now()}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		a.err, a.end = err, time.Now()
		return a
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		a.err, a.end = err, time.Now()
		return a
	}
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	a.status, a.header, a.err, a.end = resp.StatusCode, resp.Header, err, time.Now()
	return a
}

// postForm sends a form with client_secret_basic authentication.
func postForm(ctx context.Context, hc *http.Client, replica int, base, path string, c oauthClient, form url.Values) answer {
	h := http.Header{"Content-Type": {formType}}
	if c.Basic != "" {
		h.Set("Authorization", c.Basic)
	}
	return exchange(ctx, hc, replica, http.MethodPost, base+path, h, form.Encode())
}

// tokenAnswer is the token endpoint's success answer.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func parseToken(a answer) (tokenAnswer, error) {
	var t tokenAnswer
	if err := json.Unmarshal(a.body, &t); err != nil || t.AccessToken == "" {
		return t, fmt.Errorf("no access_token in %.200s", a.body)
	}
	return t, nil
}

// introspectActive answers whether a token introspects active on a replica.
func (e *serverEnv) introspect(ctx context.Context, hc *http.Client, replica int, token string) answer {
	return e.introspectAt(ctx, hc, e.replicas[replica], token)
}

func (e *serverEnv) introspectAt(ctx context.Context, hc *http.Client, r *replica, token string) answer {
	return postForm(ctx, hc, r.idx, r.url, introspectPath, e.fx.resource, url.Values{"token": {token}})
}

func active(a answer) bool {
	var v struct {
		Active bool `json:"active"`
	}
	return a.ok() && json.Unmarshal(a.body, &v) == nil && v.Active
}

// sample is one request of the load, for counting and for recovery times.
type sample struct {
	op         string
	replica    int
	start, end time.Time
	ok         bool
	kind       string // error kind when !ok
}

// recorder collects the load's samples.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(op string, a answer, ok bool, kind string) {
	r.mu.Lock()
	r.samples = append(r.samples, sample{op: op, replica: a.replica, start: a.start, end: a.end, ok: ok, kind: kind})
	r.mu.Unlock()
}

func (r *recorder) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample(nil), r.samples...)
}

// chain is one client's line of refresh-token rotations.
type chain struct {
	mu      sync.Mutex
	current string
	// ambiguous: the last attempt with current got no clear answer (the server may have
	// rotated it); a refusal of current is then not a loss.
	ambiguous bool
	broken    bool
}

// router picks the replica of a worker's next request; -1 when none is available.
type router func(worker, seq int) int

// staticRouter spreads requests over every replica, dead or alive.
func staticRouter(n int) router { return func(worker, seq int) int { return (worker + seq) % n } }

// readinessRouter sends requests only to replicas whose /ready answered 200 at the last
// probe, as a Kubernetes Service's endpoints do.
type readinessRouter struct {
	ready []atomic.Bool
}

func newReadinessRouter(ctx context.Context, e *serverEnv, every time.Duration) *readinessRouter {
	rr := &readinessRouter{ready: make([]atomic.Bool, len(e.replicas))}
	hc := &http.Client{Timeout: time.Second}
	probe := func() {
		for i, r := range e.replicas {
			rr.ready[i].Store(ready(ctx, hc, r.url))
		}
	}
	probe()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				probe()
			}
		}
	}()
	return rr
}

func (rr *readinessRouter) pick(worker, seq int) int {
	n := len(rr.ready)
	for i := range n {
		c := (worker + seq + i) % n
		if rr.ready[c].Load() {
			return c
		}
	}
	return -1
}

// loadGen is the bounded load of a scenario: workers sending a mix of operations.
type loadGen struct {
	e *serverEnv
	// targets are the replicas the load reaches (the route picks among them).
	targets []*replica
	hc      *http.Client
	rec     recorder
	route   router
	workers int
	pause   time.Duration
	mix     []string
	// preTokens are access tokens issued before the fault (introspected by the load).
	preTokens []string
	codes     []string
	codeNext  atomic.Int64
	chains    []*chain

	mu sync.Mutex
	// issued are access tokens issued with a 200 during the load (a sample), revoked the
	// ones whose revocation answered 200.
	issued, revoked []string
	// lostRefresh counts refresh tokens received with a 200 and refused afterwards.
	lostRefresh int
	seq         atomic.Int64
}

// Operation mixes of the load.
var (
	mixAll = []string{"cc", "introspect", "refresh", "jwks", "code", "discovery", "password", "introspect"}
	mixDB  = []string{"refresh", "code", "password", "cc", "introspect"}
)

// newLoad prepares the credentials of a load with workers clients.
func (e *serverEnv) newLoad(ctx context.Context, targets []*replica, workers int, pause time.Duration, mix []string, codes int, route router) (*loadGen, error) {
	l := &loadGen{e: e, targets: targets, hc: newHTTPClient(workers), route: route, workers: workers, pause: pause, mix: mix}
	rts, err := e.refreshTokens(ctx, workers)
	if err != nil {
		return nil, err
	}
	for _, rt := range rts {
		l.chains = append(l.chains, &chain{current: rt})
	}
	if l.codes, err = e.codes(ctx, codes); err != nil {
		return nil, err
	}
	for i := range 8 {
		a := postForm(ctx, l.hc, i%len(e.replicas), e.replicas[i%len(e.replicas)].url, tokenPath, e.fx.service,
			url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}})
		if !a.ok() {
			return nil, fmt.Errorf("access token before the fault: %s", a.kind())
		}
		t, err := parseToken(a)
		if err != nil {
			return nil, fmt.Errorf("access token before the fault: %w", err)
		}
		l.preTokens = append(l.preTokens, t.AccessToken)
	}
	return l, nil
}

// run drives the load until stop is closed or ctx ends.
func (l *loadGen) run(ctx context.Context, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				r := l.route(w, seq)
				if r < 0 {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				l.do(ctx, w, r, l.mix[(w+seq)%len(l.mix)])
				if l.pause > 0 {
					time.Sleep(l.pause)
				}
			}
		})
	}
	wg.Wait()
}

// do sends one operation of worker w to replica r and records it.
func (l *loadGen) do(ctx context.Context, w, r int, op string) {
	e := l.e
	base := l.targets[r].url
	n := l.seq.Add(1)
	switch op {
	case "cc":
		a := postForm(ctx, l.hc, r, base, tokenPath, e.fx.service, url.Values{"grant_type": {"client_credentials"}, "scope": {apiScope}})
		t, ok := l.record(op, a)
		if r2 := l.route(w+1, int(n)); ok && n%4 == 0 && r2 >= 0 {
			// Revoke some of them at once, on the next replica the route picks.
			ra := postForm(ctx, l.hc, r2, l.targets[r2].url, revokePath, e.fx.service, url.Values{"token": {t.AccessToken}, "token_type_hint": {"access_token"}})
			if _, ok := l.record("revoke", ra); ok {
				l.mu.Lock()
				if len(l.revoked) < 60 {
					l.revoked = append(l.revoked, t.AccessToken)
				}
				l.mu.Unlock()
			}
		} else if ok {
			l.keepIssued(t.AccessToken, n)
		}
	case "introspect":
		a := e.introspectAt(ctx, l.hc, l.targets[r], l.preTokens[int(n)%len(l.preTokens)])
		switch {
		case !a.ok():
			l.rec.add(op, a, false, a.kind())
		case !active(a):
			l.rec.add(op, a, false, "inactive (a token issued before the fault)")
		default:
			l.rec.add(op, a, true, "")
		}
	case "refresh":
		if !l.refresh(ctx, l.chains[w%len(l.chains)], r, base) {
			l.do(ctx, w, r, "jwks")
		}
	case "code":
		i := int(l.codeNext.Add(1) - 1)
		if i >= len(l.codes) {
			l.do(ctx, w, r, "jwks")
			return
		}
		a := postForm(ctx, l.hc, r, base, tokenPath, e.fx.web, codeBody(l.codes[i]))
		if t, ok := l.record(op, a); ok {
			l.keepIssued(t.AccessToken, n)
		}
	case "password":
		u := e.fx.users[int(e.fx.userSeq.Add(1))%len(e.fx.users)]
		a := postForm(ctx, l.hc, r, base, tokenPath, e.fx.password,
			url.Values{"grant_type": {"password"}, "username": {u.Username}, "password": {userPassword}, "scope": {"profile"}})
		if t, ok := l.record(op, a); ok {
			l.keepIssued(t.AccessToken, n)
		}
	case "jwks", "discovery":
		path := jwksPath
		if op == "discovery" {
			path = oidcPath
		}
		a := exchange(ctx, l.hc, r, http.MethodGet, base+path, nil, "")
		l.rec.add(op, a, a.ok(), a.kind())
	}
}

// record notes a token answer and parses a successful one.
func (l *loadGen) record(op string, a answer) (tokenAnswer, bool) {
	if !a.ok() {
		l.rec.add(op, a, false, a.kind())
		return tokenAnswer{}, false
	}
	if op == "revoke" {
		l.rec.add(op, a, true, "")
		return tokenAnswer{}, true
	}
	t, err := parseToken(a)
	if err != nil {
		l.rec.add(op, a, false, "200 without a token")
		return t, false
	}
	l.rec.add(op, a, true, "")
	return t, true
}

// keepIssued keeps a sample of the access tokens issued, to check after the fault.
func (l *loadGen) keepIssued(tok string, n int64) {
	if n%5 != 0 {
		return
	}
	l.mu.Lock()
	if len(l.issued) < 120 {
		l.issued = append(l.issued, tok)
	}
	l.mu.Unlock()
}

// refresh rotates chain c once on replica r; false when the chain is broken.
func (l *loadGen) refresh(ctx context.Context, c *chain, r int, base string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return false
	}
	a := postForm(ctx, l.hc, r, base, tokenPath, l.e.fx.web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.current}})
	l.refreshOutcome(c, a)
	return true
}

// refreshOutcome applies the answer to a rotation of c.current.
func (l *loadGen) refreshOutcome(c *chain, a answer) {
	switch {
	case a.ok():
		t, err := parseToken(a)
		if err != nil || t.RefreshToken == "" {
			l.rec.add("refresh", a, false, "200 without a refresh token")
			return
		}
		c.current, c.ambiguous = t.RefreshToken, false
		l.rec.add("refresh", a, true, "")
	case a.status == http.StatusBadRequest && harness.OAuthError(a.body) == "invalid_grant":
		c.broken = true
		if c.ambiguous {
			l.rec.add("refresh", a, false, "chain broken after a lost answer (invalid_grant)")
			return
		}
		l.rec.add("refresh", a, false, "LOST: a refresh token received with 200 refused (invalid_grant)")
		l.mu.Lock()
		l.lostRefresh++
		l.mu.Unlock()
	default:
		if a.ambiguous() {
			c.ambiguous = true
		}
		l.rec.add("refresh", a, false, a.kind())
	}
}

// drive runs the load, calls inject after warm, and keeps the load going for after once
// inject returns the end of the fault. It returns that end.
func (l *loadGen) drive(ctx context.Context, warm, after time.Duration, inject func() time.Time) time.Time {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { l.run(ctx, stop); close(done) }()
	sleep(ctx, warm)
	end := inject()
	sleep(ctx, after)
	close(stop)
	<-done
	return end
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// tally fills res with the load's requests and errors, and the recovery time after end
// of every operation (on the replicas accepted by onReplica) that failed.
func (l *loadGen) tally(res *result, faultEnd time.Time, onReplica func(int) bool) {
	samples := l.rec.all()
	res.requests += len(samples)
	failedOps := map[string]bool{}
	for _, s := range samples {
		if !s.ok {
			res.errors[s.op+": "+s.kind]++
			if onReplica == nil || onReplica(s.replica) {
				failedOps[s.op] = true
			}
		}
	}
	if faultEnd.IsZero() {
		return
	}
	for op := range failedOps {
		var first time.Time
		for _, s := range samples {
			if s.op == op && s.ok && !s.end.Before(faultEnd) && (onReplica == nil || onReplica(s.replica)) {
				if first.IsZero() || s.end.Before(first) {
					first = s.end
				}
			}
		}
		if first.IsZero() {
			res.recovered = false
			res.problem("%s never succeeded again after the fault", op)
			continue
		}
		res.recovery = max(res.recovery, first.Sub(faultEnd))
	}
}

// verify checks, once every replica is ready again, that the load's data survived: every
// refresh chain rotates once more, every access token issued with a 200 introspects active
// on every replica, and every revoked one inactive on every replica.
func (l *loadGen) verify(ctx context.Context, res *result) {
	e := l.e
	if err := e.allReady(ctx, 30*time.Second); err != nil {
		res.problem("replicas not ready after the fault: %v", err)
		return
	}
	res.loss(l.lostRefresh, "refresh token(s) received with 200 then refused during the load")
	hc := newHTTPClient(4)
	for i, c := range l.chains {
		if c.broken {
			continue
		}
		r := i % len(e.replicas)
		var a answer
		for attempt := range 5 {
			a = postForm(ctx, hc, r, e.replicas[r].url, tokenPath, e.fx.web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.current}})
			if a.ok() || a.status == http.StatusBadRequest || attempt == 4 {
				break
			}
			sleep(ctx, 500*time.Millisecond)
		}
		switch {
		case a.ok():
		case a.status == http.StatusBadRequest && c.ambiguous:
			res.errors["refresh: chain broken after a lost answer (invalid_grant)"]++
		case a.status == http.StatusBadRequest:
			res.loss(1, "refresh token received with 200 refused after the fault (%s)", a.kind())
		default:
			res.problem("refresh chain %d could not be checked: %s", i, a.kind())
		}
	}
	l.mu.Lock()
	issued := append(append([]string(nil), l.preTokens...), l.issued...)
	revoked := append([]string(nil), l.revoked...)
	l.mu.Unlock()
	inactive := 0
	for _, tok := range issued {
		for r := range e.replicas {
			a := e.introspect(ctx, hc, r, tok)
			if !a.ok() {
				res.problem("introspection on replica %d after the fault: %s", r, a.kind())
				continue
			}
			if !active(a) {
				inactive++
			}
		}
	}
	res.loss(inactive, "introspection(s) of access tokens issued with 200 answered inactive")
	stillActive := 0
	deadline := time.Now().Add(15 * time.Second)
	for _, tok := range revoked {
		for r := range e.replicas {
			for {
				a := e.introspect(ctx, hc, r, tok)
				if a.ok() && !active(a) {
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					stillActive++
					break
				}
				sleep(ctx, 200*time.Millisecond)
			}
		}
	}
	res.loss(stillActive, "revocation(s) answered 200 but the token still introspects active on a replica")
	res.note("checked afterwards: %d refresh chains, %d access tokens and %d revocations on each of %d replicas",
		len(l.chains), len(issued), len(revoked), len(e.replicas))
}
