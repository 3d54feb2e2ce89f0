package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// drive runs conc workers that send requests of sc until d has passed, ctx ends or the
// feed runs dry. Every request finishes (the client has a timeout), so drive returns
// shortly after d.
func drive(ctx context.Context, hc *http.Client, sc *scenario, conc int, d time.Duration, fd *feed, errs *errorLog) loadResult {
	start := time.Now()
	deadline := start.Add(d)
	per := make([][]time.Duration, conc)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			var buf bytes.Buffer
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i, ok := fd.take()
				if !ok {
					break
				}
				t0 := time.Now()
				err := send(ctx, hc, sc, i, &buf)
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

// send makes request i and reads the whole answer (so the connection is reused).
func send(ctx context.Context, hc *http.Client, sc *scenario, i int, buf *bytes.Buffer) error {
	req, err := sc.request(ctx, i)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &requestError{"interrupted", err.Error()}
		}
		return &requestError{"transport: " + transportKind(err), err.Error()}
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return &requestError{"transport: reading body", err.Error()}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		kind := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if code := oauthError(buf.Bytes()); code != "" {
			kind += " " + code
		}
		return &requestError{kind, snippet(buf.Bytes())}
	}
	if err := sc.check(buf.Bytes()); err != nil {
		return &requestError{"unexpected answer", err.Error() + ": " + snippet(buf.Bytes())}
	}
	return nil
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

// oauthError is the "error" member of an RFC 6749 error answer, if the body is one.
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) > 64 {
		return ""
	}
	return e.Error
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

// newHTTPClient is a keep-alive client with an idle connection for every worker.
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
	err := send(ctx, hc, sc, i, &buf)
	return buf.Bytes(), err
}
