/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"time"

	"github.com/authly-dev/authly-operator/hack/benchhost"
	"github.com/authly-dev/authly-operator/hack/internal/harness"
	"github.com/authly-dev/authly-operator/server/store/storebench"
)

// maxRequestsPerPoint bounds a point by count as --duration bounds it by time.
const maxRequestsPerPoint = 20_000_000

// Tokens userinfo and introspection present in turn.
const (
	userinfoTokens      = 64
	introspectionTokens = 1000
)

// runner drives the scenarios against one environment.
type runner struct {
	opts options
	env  *env
	fix  *fixtures
	rep  *results
	// hello is the hello-world scenario, which also serves as the reference measured
	// before each point of the scenarios compared with it.
	hello *scenario
}

// scenarioResult is every point of one scenario.
type scenarioResult struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Endpoint string   `json:"endpoint"`
	Notes    string   `json:"notes"`
	Seed     string   `json:"seed,omitempty"`
	Points   []*point `json:"points"`
	// AllPoints, with --passes, are the points of every pass; Points keeps the best of
	// them at each concurrency.
	AllPoints []*point `json:"all_points,omitempty"`
	// Failed says why the scenario stopped before its last point.
	Failed string `json:"failed,omitempty"`
}

// keepBest adds the points of one pass: at each concurrency the point with the most
// requests per CPU-second stays in Points. The machine's speed drifts (other tenants of the
// host), which only ever slows a point down, so the best of several passes is the closest
// to what the server does on the machine undisturbed.
func (res *scenarioResult) keepBest(points []*point, pass int, keepAll bool) {
	for _, p := range points {
		if keepAll {
			p.Pass = pass
			res.AllPoints = append(res.AllPoints, p)
		}
		i := slices.IndexFunc(res.Points, func(q *point) bool { return q.Concurrency == p.Concurrency })
		switch {
		case i < 0:
			res.Points = append(res.Points, p)
		case p.PerCPUSecond > res.Points[i].PerCPUSecond:
			res.Points[i] = p
		}
	}
	slices.SortFunc(res.Points, func(a, b *point) int { return a.Concurrency - b.Concurrency })
}

func run(ctx context.Context, o options) error {
	if _, err := os.Stat(o.authly); err != nil {
		return fmt.Errorf("--authly: %w (build it with `make build`)", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	rep := newResults(o)
	if err := rep.measureCeilings(o); err != nil {
		return err
	}
	e, err := startEnv(ctx, o)
	if err != nil {
		return err
	}
	defer e.stop()
	rep.Settings.ServerArgs = redactArgs(e.serverArg)
	rep.Machine.AuthlyVersion = benchhost.AuthlyVersion(o.authly)
	r := &runner{opts: o, env: e, rep: rep}
	logf("registering clients and %d users", o.users)
	if r.fix, err = setupFixtures(ctx, e.store, o.users); err != nil {
		return err
	}
	// The load itself goes over each worker's own connection (httpConn); this client
	// serves the setup and the pre-flight requests.
	hc := newHTTPClient(prepareWorkers)
	if err := r.fix.obtainTokens(ctx, e.store, hc, e.serverURL, userinfoTokens, introspectionTokens); err != nil {
		return err
	}
	scenarios := buildScenarios(r)
	r.hello = scenarios[helloName]
	byName := map[string]*scenarioResult{}
	for pass := 1; pass <= o.passes && !rep.Interrupted && slices.Contains(o.generators, generatorGo); pass++ {
		if o.passes > 1 {
			logf("pass %d of %d", pass, o.passes)
			if pass > 1 {
				if err := rep.measureCeilings(o); err != nil {
					return err
				}
			}
		}
		r.runPass(ctx, hc, scenarios, byName, pass)
	}
	if slices.Contains(o.generators, generatorWrk) && !rep.Interrupted {
		if err := r.runWrkPoints(ctx, scenarios); err != nil {
			if ctx.Err() != nil {
				rep.Interrupted = true
			}
			rep.WrkSkipped = err.Error()
			logf("wrk: %v", err)
		}
	}
	rep.finish()
	if err := rep.write(o.out); err != nil {
		return err
	}
	logf("wrote %s", o.out)
	if rep.Interrupted {
		return errors.New("the run did not finish; the report holds what was measured")
	}
	return nil
}

// runPass measures every selected scenario once, adding its points to byName's (and the
// report's) results; it marks the report interrupted when the context ends or the server
// dies.
func (r *runner) runPass(ctx context.Context, hc *http.Client, scenarios map[string]*scenario, byName map[string]*scenarioResult, pass int) {
	for _, name := range scenarioOrder {
		if len(r.opts.scenarios) > 0 && !slices.Contains(r.opts.scenarios, name) {
			continue
		}
		sc := scenarios[name]
		res := byName[name]
		if res == nil {
			res = &scenarioResult{Name: sc.Name, Title: sc.Title, Endpoint: sc.Endpoint, Notes: sc.Notes, Seed: sc.Seed}
			byName[name] = res
			r.rep.Scenarios = append(r.rep.Scenarios, res)
		}
		measured := &scenarioResult{}
		err := r.runScenario(ctx, hc, sc, measured)
		res.keepBest(measured.Points, pass, r.opts.passes > 1)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			r.rep.Interrupted = true
			return
		}
		res.Failed = err.Error()
		logf("%s: %v", sc.Name, err)
		if !alive(r.env.server) {
			r.rep.Interrupted = true
			logf("the server exited:\n%s", harness.LogTail(r.env.serverLog, 20))
			return
		}
	}
}

// alive reports whether a child process still runs.
func alive(cmd *exec.Cmd) bool { return running(cmd.Process.Pid) }

func (r *runner) runScenario(ctx context.Context, hc *http.Client, sc *scenario, res *scenarioResult) error {
	var prev *point
	for _, conc := range r.opts.concurrency {
		limit, prepared := int64(maxRequestsPerPoint), 0
		if sc.prepare != nil {
			n := r.itemsFor(sc, prev, conc)
			start := time.Now()
			// One more than the load needs: item 0 is the pre-flight request.
			if err := sc.prepare(ctx, r, n+1); err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			logf("%s c=%d: prepared %d in %s", sc.Name, conc, n, time.Since(start).Round(100*time.Millisecond))
			prepared, limit = n, int64(n+1)
		}
		if err := storebench.VacuumAnalyze(ctx, r.env.store); err != nil {
			return fmt.Errorf("vacuum before the point: %w", err)
		}
		r.settle(ctx)
		if err := r.preflight(ctx, hc, sc); err != nil {
			return fmt.Errorf("pre-flight request failed: %w", err)
		}
		var ref *reference // nil: the scenario's target is relative to nothing
		if sc.relativeTo != "" {
			var err error
			if ref, err = r.measureReference(ctx, sc, conc); err != nil {
				return fmt.Errorf("c=%d: reference %s: %w", conc, sc.relativeTo, err)
			}
		}
		p, err := r.measurePoint(ctx, sc, conc, limit)
		if err != nil {
			return err
		}
		p.Prepared, p.Reference = prepared, ref
		res.Points = append(res.Points, p)
		prev = p
	}
	return nil
}

// measurePoint warms up and then measures sc at concurrency conc, sending at most limit
// requests (the first, the pre-flight's, already sent).
func (r *runner) measurePoint(ctx context.Context, sc *scenario, conc int, limit int64) (*point, error) {
	p := &point{Concurrency: conc}
	fd := &feed{limit: limit}
	fd.next.Store(1)
	if r.opts.warmup > 0 {
		drive(ctx, sc, conc, r.opts.warmup, fd, &errorLog{label: sc.Name + " warm-up"})
		if fd.exhausted.Load() {
			return nil, fmt.Errorf("c=%d: the prepared credentials ran out during the warm-up", conc)
		}
	}
	errs := &errorLog{label: fmt.Sprintf("%s c=%d", sc.Name, conc)}
	before := r.sampleCPU(sc)
	out := drive(ctx, sc, conc, r.opts.duration, fd, errs)
	after := r.sampleCPU(sc)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	summarize(p, out)
	p.ServerCPU, p.PostgresCPU, p.LoadgenCPU = after.server-before.server, after.postgres-before.postgres, after.self-before.self
	if cpu := p.ServerCPU + p.PostgresCPU; cpu > 0 {
		p.PerCPUSecond = float64(p.Requests) / cpu
	}
	p.Exhausted = fd.exhausted.Load()
	p.ErrorKinds = errs.kinds
	logf("%-18s c=%-3d %8.0f req/s  mean %6.2fms  p95 %6.2fms  p99 %6.2fms  err %.2f%%  cpu server %.2fs pg %.2fs  %6.0f req/cpu-s%s",
		sc.Name, conc, p.RPS, p.MeanMs, p.P95Ms, p.P99Ms, 100*p.ErrorRate(), p.ServerCPU, p.PostgresCPU, p.PerCPUSecond,
		map[bool]string{true: "  (prepared credentials ran out: ended early)", false: ""}[p.Exhausted])
	return p, nil
}

// measureReference measures what a point of sc is compared with, just before the point:
// the machine's speed drifts by up to a third over minutes, so a reference measured at
// the start of the run would credit or blame the scenario for the drift. For scenarios
// compared with hello-world it is a hello-world point at the same concurrency; for those
// compared with a ceiling, that ceiling timed again. Only for an sc whose target is
// relative to something (sc.relativeTo set).
func (r *runner) measureReference(ctx context.Context, sc *scenario, conc int) (*reference, error) {
	switch sc.relativeTo {
	case r.hello.Name:
		p, err := r.measurePoint(ctx, r.hello, conc, maxRequestsPerPoint)
		if err != nil {
			return nil, err
		}
		if p.Errors > 0 {
			return nil, fmt.Errorf("%d of %d requests failed", p.Errors, p.Requests)
		}
		return &reference{Name: r.hello.Name, Operations: p.Requests, CPUSeconds: p.ServerCPU + p.PostgresCPU, PerCPUSecond: p.PerCPUSecond}, nil
	default:
		got, err := timeCeilings(r.opts, sc.relativeTo)
		if err != nil {
			return nil, err
		}
		c := got[0]
		logf("%-18s %s: %.0f µs per op", "ceiling", c.Name, c.MicrosPerOp)
		return &reference{Name: c.Name, Operations: int64(c.Ops), CPUSeconds: c.CPUSeconds, PerCPUSecond: c.PerCPUSecond}, nil
	}
}

// itemsFor sizes the credentials prepared for a point: the rate of the previous point
// (or the scenario's guess), allowed to grow with the concurrency, times the warm-up and
// measured time, with a margin. A point that runs out ends early and says so.
func (r *runner) itemsFor(sc *scenario, prev *point, conc int) int {
	rate := sc.initialRate
	if prev != nil && prev.RPS > 0 {
		// A closed loop's rate grows at most with the concurrency, and in practice not
		// beyond the cores that serve it; leave room for both.
		growth := min(float64(conc)/float64(prev.Concurrency), float64(max(4, runtime.NumCPU())))
		rate = prev.RPS * max(growth, 1)
	}
	n := int(rate*1.5*(r.opts.warmup+r.opts.duration).Seconds()) + 2*conc
	return min(max(n, 200), r.opts.maxPrepared)
}

// preflight sends one request and checks its answer thoroughly.
func (r *runner) preflight(ctx context.Context, hc *http.Client, sc *scenario) error {
	body, err := sendOnce(ctx, hc, sc, 0)
	if err != nil {
		return err
	}
	if sc.verify != nil {
		return sc.verify(body)
	}
	return nil
}

// cpuSample is the CPU seconds used so far by the server under test (or the hello-world
// process), by Postgres (postmaster and every child) and by the load tool itself.
type cpuSample struct{ server, postgres, self float64 }

func (r *runner) sampleCPU(sc *scenario) cpuSample {
	pid := r.env.server.Process.Pid
	if sc.hello {
		pid = r.env.hello.Process.Pid
	}
	s := cpuSample{self: selfCPU()}
	var err error
	if s.server, err = processCPU(pid); err != nil {
		logf("reading the CPU time of pid %d: %v", pid, err)
	}
	if s.postgres, err = treeCPU(r.env.postmasterPID); err != nil {
		logf("reading the CPU time of the postmaster: %v", err)
	}
	return s
}

// settle waits (at most 15 s) until the server and Postgres are idle, so that the work
// of preparing data (WAL, autovacuum, checkpoints) is not counted against the next point.
func (r *runner) settle(ctx context.Context) {
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(15 * time.Second)
	srv := &scenario{}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		a := r.sampleCPU(srv)
		time.Sleep(window)
		b := r.sampleCPU(srv)
		if (b.server-a.server)+(b.postgres-a.postgres) < 0.1*window.Seconds() {
			return
		}
	}
}
