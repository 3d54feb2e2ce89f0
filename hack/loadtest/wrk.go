/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The second load generator: wrk (https://github.com/wg/wrk, Debian package wrk), a C
// event loop whose own cost per request is far below the Go generator's. The Go
// generator's hello-world reference costs about twice the server CPU per request that it
// costs under wrk (more, smaller reads and writes per request on the server's side), which
// flatters every ratio against it; wrk's ratios are the stricter ones, and those issue 16
// sets its targets on.

// wrkScenarios are the scenarios wrk drives: those whose requests need no single-use
// credential prepared in the database.
var wrkScenarios = []string{helloName, "discovery", "jwks", "client_credentials", "introspection"}

// Generators of --generators.
const (
	generatorGo  = "go"
	generatorWrk = "wrk"
)

// wrkPoint is one wrk run of one scenario.
type wrkPoint struct {
	Scenario    string  `json:"scenario"`
	Run         int     `json:"run"`
	Connections int     `json:"connections"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"requests_per_second"`
	MeanMs      float64 `json:"mean_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// ServerCPU is the CPU seconds of the server (hello-world: its own process) during the
	// run, from /proc/PID/stat; Postgres is idle for these scenarios and not counted.
	ServerCPU float64 `json:"server_cpu_seconds"`
	// MicrosPerRequest is ServerCPU per request, in µs.
	MicrosPerRequest float64 `json:"server_cpu_us_per_request"`
	// VsHello is hello-world's MicrosPerRequest in the same run over this one's: requests
	// per CPU-second relative to hello-world's.
	VsHello float64 `json:"vs_hello,omitempty"`
}

// wrkSummary is what the script's done() prints.
type wrkSummary struct {
	Requests   int64   `json:"requests"`
	DurationUs float64 `json:"duration_us"`
	Errors     int64   `json:"errors"`
	MeanUs     float64 `json:"mean_us"`
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
}

// wrkDone is the end of every script: one JSON line with the run's summary. Errors are
// connection, read, write and timeout errors and answers outside 2xx and 3xx.
const wrkDone = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"mean_us":%f,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
`

// luaString quotes s for Lua: every byte outside printable ASCII and the quote and
// backslash are escaped as decimal escapes, which Lua reads in any version.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// wrkScript writes the Lua script that sends sc's requests: a single fixed request when
// distinct is 1 (wrk then builds it once), else requests 0..distinct-1 in turn, formatted
// once at start-up.
func wrkScript(ctx context.Context, sc *scenario, distinct int) (string, error) {
	var b strings.Builder
	b.WriteString("local reqs = {}\ninit = function(args)\n")
	for i := 0; i < distinct; i++ {
		req, err := sc.request(ctx, i)
		if err != nil {
			return "", err
		}
		body := ""
		if req.Body != nil {
			raw, err := io.ReadAll(req.Body)
			if err != nil {
				return "", err
			}
			body = string(raw)
		}
		names := make([]string, 0, len(req.Header))
		for k := range req.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		var hdr strings.Builder
		hdr.WriteString("{")
		for _, k := range names {
			fmt.Fprintf(&hdr, "[%s]=%s,", luaString(k), luaString(req.Header.Get(k)))
		}
		hdr.WriteString("}")
		bodyArg := "nil"
		if body != "" {
			bodyArg = luaString(body)
		}
		fmt.Fprintf(&b, "  reqs[%d] = wrk.format(%s, %s, %s, %s)\n", i+1, luaString(req.Method), luaString(req.URL.RequestURI()), hdr.String(), bodyArg)
	}
	b.WriteString("end\n")
	if distinct == 1 {
		// A request function that returns the same bytes every time: wrk still calls it,
		// which costs the generator a little, not the server.
		b.WriteString("request = function() return reqs[1] end\n")
	} else {
		b.WriteString("local n = 0\nrequest = function()\n  n = n % #reqs + 1\n  return reqs[n]\nend\n")
	}
	b.WriteString(wrkDone)
	return b.String(), nil
}

// runWrkPoints drives the wrk scenarios that were selected, --wrk-runs times each in
// turn, each point just after a hello-world point of its own (its reference), and adds
// the points to the report.
func (r *runner) runWrkPoints(ctx context.Context, scenarios map[string]*scenario) error {
	wrkPath, err := exec.LookPath("wrk")
	if err != nil {
		return fmt.Errorf("wrk is not installed (Debian: apt-get install -y wrk): %w", err)
	}
	dir, err := os.MkdirTemp(r.env.tmp, "wrk-")
	if err != nil {
		return err
	}
	names := slices.DeleteFunc(slices.Clone(wrkScenarios), func(n string) bool {
		return n != helloName && len(r.opts.scenarios) > 0 && !slices.Contains(r.opts.scenarios, n)
	})
	scripts := map[string]string{}
	for _, name := range names {
		sc := scenarios[name]
		distinct := 1
		if name == "introspection" {
			distinct = len(r.fix.serviceTokens)
		}
		script, err := wrkScript(ctx, sc, distinct)
		if err != nil {
			return fmt.Errorf("wrk script for %s: %w", name, err)
		}
		path := filepath.Join(dir, name+".lua")
		if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
			return err
		}
		scripts[name] = path
	}
	for run := 1; run <= r.opts.wrkRuns; run++ {
		for _, name := range names {
			if name == helloName {
				continue
			}
			// Hello-world just before each point: this machine's speed drifts within
			// seconds when it is shared, and the pair shares the drift.
			var hello *wrkPoint
			for _, sc := range []*scenario{scenarios[helloName], scenarios[name]} {
				target := r.env.serverURL
				if sc.hello {
					target = strings.TrimSuffix(r.env.helloURL, "/")
				}
				r.settle(ctx)
				p, err := r.wrkPoint(ctx, wrkPath, scripts[sc.Name], target, sc, run)
				if err != nil {
					return fmt.Errorf("wrk %s: %w", sc.Name, err)
				}
				if sc.hello {
					hello = p
				} else if p.MicrosPerRequest > 0 {
					p.VsHello = hello.MicrosPerRequest / p.MicrosPerRequest
				}
				logf("wrk %-18s run %d  %8.0f req/s  mean %6.2fms  p99 %6.2fms  err %d  server %5.1f µs/req  vs hello %.2f",
					sc.Name, run, p.RPS, p.MeanMs, p.P99Ms, p.Errors, p.MicrosPerRequest, p.VsHello)
				r.rep.Wrk = append(r.rep.Wrk, p)
			}
		}
	}
	return nil
}

// wrkPoint runs wrk once against target and samples the server's CPU around it.
func (r *runner) wrkPoint(ctx context.Context, wrkPath, script, target string, sc *scenario, run int) (*wrkPoint, error) {
	conns := r.opts.wrkConnections
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(r.opts.duration.Seconds())) + "s",
		"--timeout", "10s", "-s", script, target}
	if r.opts.warmup > 0 {
		warm := append(slices.Clone(args[:2]), "-d"+strconv.Itoa(max(1, int(r.opts.warmup.Seconds())))+"s", "-s", script, target)
		if out, err := exec.CommandContext(ctx, wrkPath, warm...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("warm-up: %w: %s", err, out)
		}
	}
	before := r.sampleCPU(sc)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, wrkPath, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	after := r.sampleCPU(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s%s", err, stdout.String(), stderr.String())
	}
	_, line, ok := bytes.Cut(stdout.Bytes(), []byte("WRKJSON "))
	if !ok {
		return nil, fmt.Errorf("no summary in wrk's output: %s", stdout.String())
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	var s wrkSummary
	if err := json.Unmarshal(line, &s); err != nil {
		return nil, fmt.Errorf("wrk summary %q: %w", line, err)
	}
	if s.Requests == 0 {
		return nil, errors.New("wrk sent no request")
	}
	secs := s.DurationUs / 1e6
	if secs <= 0 {
		secs = time.Since(start).Seconds()
	}
	p := &wrkPoint{
		Scenario: sc.Name, Run: run, Connections: conns, Requests: s.Requests, Errors: s.Errors, Seconds: secs,
		RPS: float64(s.Requests) / secs, MeanMs: s.MeanUs / 1e3, P50Ms: s.P50Us / 1e3, P99Ms: s.P99Us / 1e3, MaxMs: s.MaxUs / 1e3,
		ServerCPU: after.server - before.server,
	}
	p.MicrosPerRequest = p.ServerCPU / float64(p.Requests) * 1e6
	if s.Errors > 0 {
		return p, fmt.Errorf("%d of %d requests failed", s.Errors, s.Requests)
	}
	return p, nil
}

// wrkMedian is a scenario's wrk runs summarized: the median of each figure over the runs.
type wrkMedian struct {
	Scenario                       string
	Runs                           int
	MicrosPerRequest, VsHello, RPS float64
	MeanMs, P99Ms, TailRatio       float64
	VsHelloRuns                    []float64
}

// wrkMedians summarizes the wrk points per scenario, in wrkScenarios order.
func wrkMedians(points []*wrkPoint) []wrkMedian {
	var out []wrkMedian
	for _, name := range wrkScenarios {
		var us, vs, rps, mean, p99, tail []float64
		m := wrkMedian{Scenario: name}
		for _, p := range points {
			if p.Scenario != name {
				continue
			}
			m.Runs++
			us = append(us, p.MicrosPerRequest)
			rps = append(rps, p.RPS)
			mean = append(mean, p.MeanMs)
			p99 = append(p99, p.P99Ms)
			if p.MeanMs > 0 {
				tail = append(tail, p.P99Ms/p.MeanMs)
			}
			if p.VsHello > 0 {
				vs = append(vs, p.VsHello)
			}
		}
		if m.Runs == 0 {
			continue
		}
		m.VsHelloRuns = vs
		m.MicrosPerRequest, m.VsHello, m.RPS = median(us), median(vs), median(rps)
		m.MeanMs, m.P99Ms, m.TailRatio = median(mean), median(p99), median(tail)
		out = append(out, m)
	}
	return out
}

// median of v (0 when empty); v is sorted in place.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// renderWrk writes the report's wrk section.
func renderWrk(b *strings.Builder, r *results) {
	if len(r.Wrk) == 0 {
		if r.WrkSkipped != "" {
			fmt.Fprintf(b, "## The wrk generator\n\nNot measured: %s\n\n", r.WrkSkipped)
		}
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	conns := r.Wrk[0].Connections
	w("## The wrk generator\n\n")
	w("The scenarios that need no prepared credential again, driven by `wrk -t1 -c%d -d%s` (one thread, %d keep-alive\n"+
		"connections, %s warm-up before each) in the same run, each point just after a hello-world point of its own,\n"+
		"%d runs; each figure is the median over the runs. **Server CPU per request** is the `authly server`\n"+
		"process's (hello-world's own process for hello-world) from `/proc/PID/stat`: these scenarios touch no\n"+
		"database. **vs hello-world** is the CPU per request of the hello-world point just before over the scenario's,\n"+
		"i.e. requests per CPU-second relative to hello-world's: the median of the per-point ratios.\n\n",
		conns, r.Settings.Duration, conns, r.Settings.Warmup, r.Settings.WrkRuns)
	w("**Which ratios the targets use**: issue 16's targets (discovery and JWKS ≥ 0.85× hello-world, introspection\n" +
		"≥ 0.55×, client_credentials' CPU beyond its signature ≤ 1.5× hello-world's whole request) are read on this\n" +
		"table. The Go generator's tables above compare with a hello-world that costs the server about twice as much\n" +
		"per request under that generator (more, smaller reads and writes), which flatters its ratios.\n\n")
	w("| Scenario | Server CPU µs per request | vs hello-world | ratio per point | Requests/sec | Avg Response | 99th %%ile | p99/mean |\n")
	w("|---|---:|---:|---|---:|---:|---:|---:|\n")
	for _, m := range wrkMedians(r.Wrk) {
		vs, runs := "1.00", "—"
		if m.Scenario != helloName {
			vs = ratio(m.VsHello)
			parts := make([]string, len(m.VsHelloRuns))
			for i, v := range m.VsHelloRuns {
				parts[i] = ratio(v)
			}
			runs = strings.Join(parts, ", ")
		}
		w("| %s | %.1f | %s | %s | %s | %s | %s | %s |\n", m.Scenario, m.MicrosPerRequest, vs, runs, thousands(m.RPS),
			ms(m.MeanMs), ms(m.P99Ms), fmt.Sprintf("%.1f×", m.TailRatio))
	}
	w("\n")
	// The target is about the default ES256 access tokens; an RS256 signature's cost varies
	// more between its ceiling and the server than the rest of the request costs.
	if c := r.ceiling(ceilES256Acc); c != nil && r.Settings.AccessTokenAlg != "RS256" {
		var beyond, rel []float64
		for _, p := range r.Wrk {
			if p.Scenario != "client_credentials" || p.VsHello <= 0 {
				continue
			}
			hello := p.MicrosPerRequest * p.VsHello // the point just before
			beyond = append(beyond, p.MicrosPerRequest-c.MicrosPerOp)
			rel = append(rel, (p.MicrosPerRequest-c.MicrosPerOp)/hello)
		}
		if len(rel) > 0 {
			w("client_credentials beyond its signature: server CPU per request minus the %s ceiling above (%.0f µs),\n"+
				"%.1f µs per request (median), %.2f× the whole request of the hello-world point just before (median of the\n"+
				"points); the target is at most 1.5×.\n\n", c.Name, c.MicrosPerOp, median(beyond), median(rel))
		}
	}
}
