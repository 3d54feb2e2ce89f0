/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authly-dev/authly-operator/hack/internal/harness"
)

// point is the measurement of one scenario at one concurrency.
type point struct {
	Concurrency int     `json:"concurrency"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"requests_per_second"`
	MeanMs      float64 `json:"mean_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// CPU seconds used during the measured time.
	ServerCPU   float64 `json:"server_cpu_seconds"`
	PostgresCPU float64 `json:"postgres_cpu_seconds"`
	LoadgenCPU  float64 `json:"loadgen_cpu_seconds"`
	// PerCPUSecond is requests per CPU-second of server + Postgres.
	PerCPUSecond float64 `json:"requests_per_cpu_second"`
	// Prepared is how many single-use credentials were stored for the point (warm-up
	// included); Exhausted says the point ran out of them and ended early.
	Prepared   int                   `json:"prepared,omitempty"`
	Exhausted  bool                  `json:"exhausted,omitempty"`
	ErrorKinds map[string]*errorKind `json:"error_kinds,omitempty"`
	// Pass is the pass over all scenarios the point was measured in (with --passes).
	Pass int `json:"pass,omitempty"`
	// Reference is what the point is compared with, measured just before it (see
	// runner.measureReference).
	Reference *reference `json:"reference,omitempty"`
}

// reference is a measurement a point is compared with: a hello-world point (requests)
// or a ceiling (operations in the load tool), in operations per CPU-second.
type reference struct {
	Name         string  `json:"name"`
	Operations   int64   `json:"operations"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PerCPUSecond float64 `json:"per_cpu_second"`
}

// errorKind counts one kind of failure and keeps its first occurrence.
type errorKind struct {
	Count int64  `json:"count"`
	First string `json:"first"`
}

// ErrorRate is the share of requests that failed.
func (p *point) ErrorRate() float64 {
	if p.Requests == 0 {
		return 0
	}
	return float64(p.Errors) / float64(p.Requests)
}

// feed hands out request numbers up to a limit (the prepared credentials).
type feed struct {
	next      atomic.Int64
	limit     int64
	exhausted atomic.Bool
}

func (f *feed) take() (int, bool) {
	i := f.next.Add(1) - 1
	if i >= f.limit {
		f.exhausted.Store(true)
		return 0, false
	}
	return int(i), true
}

// errorLog collects failures by kind; the first of each kind is printed as it happens.
type errorLog struct {
	mu    sync.Mutex
	kinds map[string]*errorKind
	label string
}

func (l *errorLog) add(kind, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[string]*errorKind{}
	}
	k, ok := l.kinds[kind]
	if !ok {
		k = &errorKind{First: detail}
		l.kinds[kind] = k
		logf("%s: first error of kind %q: %s", l.label, kind, detail)
	}
	k.Count++
}

// loadResult is what the workers of one run produced.
type loadResult struct {
	latencies []time.Duration
	errors    int64
	elapsed   time.Duration
}

// drive runs conc workers, each on its own connection, that send requests of sc until d
// has passed, ctx ends or the feed runs dry. Every request finishes (requestTimeout), so
// drive returns shortly after d.
func drive(ctx context.Context, sc *scenario, conc int, d time.Duration, fd *feed, errs *errorLog) loadResult {
	start := time.Now()
	deadline := start.Add(d)
	per := make([][]time.Duration, conc)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			var buf bytes.Buffer
			var conn httpConn
			defer conn.close()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i, ok := fd.take()
				if !ok {
					break
				}
				t0 := time.Now()
				err := send(ctx, conn.exchange, sc, i, &buf)
				lat = append(lat, time.Since(t0))
				if err != nil {
					failed.Add(1)
					var re *requestError
					if errors.As(err, &re) {
						errs.add(re.kind, re.detail)
					} else {
						errs.add("other", err.Error())
					}
				}
			}
			per[w] = lat
		})
	}
	wg.Wait()
	res := loadResult{elapsed: time.Since(start), errors: failed.Load()}
	for _, l := range per {
		res.latencies = append(res.latencies, l...)
	}
	return res
}

// requestError is a failed request: transport error, non-2xx status or a 2xx answer
// that is not what the scenario expects.
type requestError struct{ kind, detail string }

func (e *requestError) Error() string { return e.kind + ": " + e.detail }

// exchange sends req and reads the whole answer into body, returning its status code.
type exchange func(req *http.Request, body *bytes.Buffer) (status int, err error)

// clientExchange sends with a net/http client (the pre-flight requests).
func clientExchange(hc *http.Client) exchange {
	return func(req *http.Request, body *bytes.Buffer) (int, error) {
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return 0, &requestError{"transport: reading body", err.Error()}
		}
		return resp.StatusCode, nil
	}
}

// send makes request i and checks the answer.
func send(ctx context.Context, do exchange, sc *scenario, i int, buf *bytes.Buffer) error {
	req, err := sc.request(ctx, i)
	if err != nil {
		return err
	}
	status, err := do(req, buf)
	if err != nil {
		var re *requestError
		switch {
		case errors.As(err, &re):
			return re
		case ctx.Err() != nil:
			return &requestError{"interrupted", err.Error()}
		default:
			return &requestError{"transport: " + transportKind(err), err.Error()}
		}
	}
	if status < 200 || status > 299 {
		kind := fmt.Sprintf("HTTP %d", status)
		if code := harness.OAuthError(buf.Bytes()); code != "" {
			kind += " " + code
		}
		return &requestError{kind, snippet(buf.Bytes())}
	}
	if err := sc.check(buf.Bytes()); err != nil {
		return &requestError{"unexpected answer", err.Error() + ": " + snippet(buf.Bytes())}
	}
	return nil
}

// requestTimeout bounds one request of the load; a worker also stops between requests
// when the run is interrupted.
const requestTimeout = 30 * time.Second

// httpConn is one worker's keep-alive HTTP/1.1 connection, used without net/http's
// Transport: the worker writes the request and reads the answer itself. The Transport
// hands each request between three goroutines; on a machine whose two cores the load
// generator shares with the server and Postgres, that cost CPU and added wake-ups to every
// request's latency. Measured on hello-world: 40 µs of load-generator CPU per request
// with the Transport and 30 without, and 24k against 35k requests/s.
type httpConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (h *httpConn) exchange(req *http.Request, body *bytes.Buffer) (int, error) {
	if h.conn == nil {
		c, err := net.DialTimeout("tcp", req.URL.Host, requestTimeout)
		if err != nil {
			return 0, err
		}
		h.conn = c
		h.r, h.w = bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 4<<10)
	}
	status, keep, err := h.roundTrip(req, body)
	if err != nil || !keep {
		h.close()
	}
	return status, err
}

func (h *httpConn) roundTrip(req *http.Request, body *bytes.Buffer) (status int, keep bool, err error) {
	if err := h.conn.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, false, err
	}
	if err := req.Write(h.w); err != nil {
		return 0, false, err
	}
	if err := h.w.Flush(); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(h.r, req)
	if err != nil {
		return 0, false, err
	}
	body.Reset()
	_, err = body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, false, &requestError{"transport: reading body", err.Error()}
	}
	return resp.StatusCode, !resp.Close, nil
}

func (h *httpConn) close() {
	if h.conn != nil {
		_ = h.conn.Close()
		h.conn = nil
	}
}

// transportKind shortens a transport error to a stable kind (without addresses).
func transportKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "timeout", "EOF", "broken pipe", "too many open files"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return "other"
}

// summarize fills the latency and rate fields of p from a run.
func summarize(p *point, res loadResult) {
	p.Requests = int64(len(res.latencies))
	p.Errors = res.errors
	p.Seconds = res.elapsed.Seconds()
	if p.Seconds > 0 {
		p.RPS = float64(p.Requests) / p.Seconds
	}
	if len(res.latencies) == 0 {
		return
	}
	slices.Sort(res.latencies)
	var sum time.Duration
	for _, l := range res.latencies {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p.MeanMs = ms(sum / time.Duration(len(res.latencies)))
	p.P50Ms = ms(percentile(res.latencies, 50))
	p.P95Ms = ms(percentile(res.latencies, 95))
	p.P99Ms = ms(percentile(res.latencies, 99))
	p.MaxMs = ms(res.latencies[len(res.latencies)-1])
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, pct float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(pct / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// newHTTPClient is a keep-alive client with an idle connection for each of maxConc
// concurrent requests.
func newHTTPClient(maxConc int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        2*maxConc + 16,
			MaxIdleConnsPerHost: maxConc + 8,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sendOnce makes request i and returns its answer.
func sendOnce(ctx context.Context, hc *http.Client, sc *scenario, i int) ([]byte, error) {
	var buf bytes.Buffer
	err := send(ctx, clientExchange(hc), sc, i, &buf)
	return buf.Bytes(), err
}
