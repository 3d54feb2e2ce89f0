/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command loadtest measures the Authly server on this machine and writes the benchmark
// report: it starts a throwaway PostgreSQL, one `authly server` process and a plain
// net/http hello-world process (the physical limit), prepares every credential the
// requests need directly in the database, then drives each scenario at each concurrency
// over loopback for a bounded time, sampling the CPU the server and Postgres spend. A
// scenario whose target is relative to hello-world or to a ceiling (an argon2id
// verification, a signature) has that reference measured again just before each of its
// points, so that the machine's drift moves both alike; ceilings are timed in a child
// process set up like the server (`loadtest ceiling`).
//
// Output, under --out: REPORT.md (the performance guide's table layout), results.json (raw numbers)
// and PNG plots (throughput, p95 and efficiency against concurrency).
//
//	go run ./hack/loadtest --authly bin/authly --out bench/results
//	go run ./hack/loadtest --authly bin/authly --out /tmp/lt --duration 2s --concurrency 1,10 --scenarios discovery,refresh
//	go run ./hack/loadtest rereport --baseline bench/results/results.json bench/results/scale
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rereportCommand rewrites a report from its results.json (`loadtest rereport DIR`),
// e.g. after the report's layout or a target's computation changed.
const rereportCommand = "rereport"

// options are the command-line settings of a run.
type options struct {
	authly      string
	out         string
	duration    time.Duration
	warmup      time.Duration
	concurrency []int
	scenarios   []string
	pool        int
	// passes is how many times every scenario is measured; each point keeps its best.
	passes int
	// serverCPUs, when positive, is the GOMAXPROCS of the server and of hello-world.
	serverCPUs  int
	users       int
	maxPrepared int
	scale       scaleSpec
	baseline    string
	// debugListen is passed to the server as --debug-listen, to take pprof profiles
	// (go tool pprof http://ADDR/debug/pprof/profile) while a scenario runs.
	debugListen string
	// generators are the load generators to run: generatorGo, generatorWrk or both.
	generators []string
	// wrkRuns is how many times wrk drives each of its scenarios; wrkConnections its -c.
	wrkRuns, wrkConnections int
	// accessTokenAlg is the server's --access-token-alg ("" leaves its default, ES256).
	accessTokenAlg string
}

// scaleSpec is what --scale fills the database with before the server starts.
type scaleSpec struct {
	RefreshTokens, Clients, Revoked int
}

func (s scaleSpec) enabled() bool { return s.RefreshTokens > 0 || s.Clients > 0 || s.Revoked > 0 }

func main() {
	if len(os.Args) > 1 && os.Args[1] == helloCommand {
		if err := runHello(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest hello:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == ceilingCommand {
		if err := runCeiling(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest ceiling:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == rereportCommand {
		fs := flag.NewFlagSet(rereportCommand, flag.ExitOnError)
		baseline := fs.String("baseline", "", "results.json of an empty-database run to compare with")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "usage: loadtest rereport [--baseline FILE] DIR")
			os.Exit(2)
		}
		if err := rereport(fs.Arg(0), *baseline); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest rereport:", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var o options
	var conc, scen, scale, gens string
	fs.StringVar(&o.authly, "authly", "", "the authly binary to load-test (required)")
	fs.StringVar(&o.out, "out", "bench/results", "directory for REPORT.md, results.json and the plots")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario and concurrency")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measured point")
	fs.StringVar(&conc, "concurrency", "1,10,50,100,200", "comma-separated concurrency levels")
	fs.StringVar(&scen, "scenarios", "", "comma-separated subset of scenarios (default all): "+strings.Join(scenarioNames(), ","))
	fs.IntVar(&o.pool, "pool", defaultPool(), "database pool size of the server (pool-max-conns); the default is 4 per core of the machine Postgres runs on")
	fs.IntVar(&o.serverCPUs, "server-cpus", 1, "GOMAXPROCS of the server and of hello-world, as the operator sets it for a replica planned with this many cores (1 is its default replica; 0: Go's default, every core)")
	fs.IntVar(&o.passes, "passes", 1, "passes over all scenarios; each point of the report is the best of its passes (the machine's speed drifts)")
	fs.IntVar(&o.users, "users", 2000, "users for the password grant, used in turn")
	fs.IntVar(&o.maxPrepared, "max-prepared", 400_000, "most codes or refresh tokens prepared for one point; a point that uses them up ends early")
	fs.StringVar(&scale, "scale", "", "fill the database first: REFRESH_TOKENS,CLIENTS,REVOKED (e.g. 10000000,100000,100000)")
	fs.StringVar(&o.baseline, "baseline", "", "results.json of an empty-database run to compare throughput with (for --scale)")
	fs.StringVar(&o.debugListen, "server-debug-listen", "", "serve the server's /debug/pprof on this address (e.g. 127.0.0.1:6060) to profile it during the run")
	fs.StringVar(&gens, "generators", "go,wrk", "load generators: go (the built-in one, every scenario), wrk (the scenarios without prepared credentials; skipped with a note when wrk is not installed)")
	fs.IntVar(&o.wrkRuns, "wrk-runs", 3, "runs of each wrk scenario (each run with its own hello-world); the report shows the medians")
	fs.IntVar(&o.wrkConnections, "wrk-connections", 50, "wrk's connections (-c)")
	fs.StringVar(&o.accessTokenAlg, "access-token-alg", "", "the server's --access-token-alg (ES256 or RS256; empty: the server's default)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.authly == "" {
		return o, errors.New("--authly is required (the binary `make build` writes to bin/authly)")
	}
	if o.duration <= 0 || o.warmup < 0 {
		return o, errors.New("--duration must be positive and --warmup not negative")
	}
	var err error
	if o.concurrency, err = parseInts(conc); err != nil || len(o.concurrency) == 0 {
		return o, fmt.Errorf("--concurrency %q: want positive integers separated by commas", conc)
	}
	for _, c := range o.concurrency {
		if c < 1 || c > 10_000 {
			return o, fmt.Errorf("--concurrency %d out of range [1, 10000]", c)
		}
	}
	slices.Sort(o.concurrency)
	o.concurrency = slices.Compact(o.concurrency)
	if scen != "" {
		known := scenarioNames()
		for _, s := range strings.Split(scen, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(known, s) {
				return o, fmt.Errorf("--scenarios: unknown scenario %q (known: %s)", s, strings.Join(known, ", "))
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	for _, g := range strings.Split(gens, ",") {
		g = strings.TrimSpace(g)
		if g != generatorGo && g != generatorWrk {
			return o, fmt.Errorf("--generators: unknown generator %q (known: go, wrk)", g)
		}
		o.generators = append(o.generators, g)
	}
	if o.wrkRuns < 1 || o.wrkConnections < 1 {
		return o, errors.New("--wrk-runs and --wrk-connections must be positive")
	}
	if o.accessTokenAlg != "" && o.accessTokenAlg != "ES256" && o.accessTokenAlg != "RS256" {
		return o, fmt.Errorf("--access-token-alg %q: want ES256 or RS256", o.accessTokenAlg)
	}
	if o.passes < 1 {
		return o, errors.New("--passes must be at least 1")
	}
	if o.serverCPUs < 0 {
		return o, errors.New("--server-cpus must not be negative")
	}
	if o.pool < 1 || o.users < 1 || o.maxPrepared < 100 {
		return o, errors.New("--pool and --users must be positive, --max-prepared at least 100")
	}
	if scale != "" {
		n, err := parseInts(scale)
		if err != nil || len(n) != 3 || n[0] < 0 || n[1] < 0 || n[2] < 0 {
			return o, fmt.Errorf("--scale %q: want REFRESH_TOKENS,CLIENTS,REVOKED", scale)
		}
		o.scale = scaleSpec{RefreshTokens: n[0], Clients: n[1], Revoked: n[2]}
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// defaultPool sizes the server's pool for a Postgres that shares this machine's cores:
// about four connections per core keep every core busy while a query waits on the
// network. More connections than that do not add throughput; they make the backends
// compete for the cores and for Postgres's locks, which costs CPU per query. On this
// 2-core machine a rotation took 135 µs of Postgres CPU with 8 connections and 316 µs
// with 100, at 50 concurrent clients.
func defaultPool() int { return 4 * runtime.NumCPU() }
