/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command fault is the project's fault suite (`make fault`). It starts its own Postgres and
// three `authly server` replicas on 127.0.0.1, drives a bounded load at them and injects
// faults: Postgres restarted and stopped for seconds, a replica sent SIGTERM with requests
// in flight, a replica killed and restarted, single-use credentials raced 50 ways across
// the replicas, the smallest database pool under 64 clients and a sweep of malformed
// input. Then it runs the operator (`authly operator`, a child process) against envtest's
// kube-apiserver and etcd, stops and restarts the API server while OAuthClients are
// applied, kills the manager again and again while it registers, updates and deletes
// clients, and kills it right after each step of a registration and of a removal.
//
// Every answer is classified by its status and OAuth error code, so the suite measures
// whatever the server does. After each fault it checks, once things settle, that nothing
// was lost (see the report's explanations), prints a table and writes it as Markdown. It
// exits non-zero when a scenario lost data or broke its invariant; latency never fails it.
//
//	go run ./hack/fault --authly bin/authly --assets bin/k8s --out bench/results/FAULTS.md
//	go run ./hack/fault --authly /tmp/authly --only races,bad-input --out /tmp/faults.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/authly-dev/authly-operator/hack/benchhost"
)

// options are the command's flags.
type options struct {
	authly  string
	assets  string
	crds    string
	out     string
	only    []string
	timeout time.Duration
}

func main() {
	var o options
	var only string
	flag.StringVar(&o.authly, "authly", "bin/authly", "the authly binary under test (make build)")
	flag.StringVar(&o.assets, "assets", "bin/k8s", "directory with kube-apiserver and etcd (make envtest)")
	flag.StringVar(&o.crds, "crds", "config/crd/bases", "directory with the CRDs")
	flag.StringVar(&o.out, "out", "bench/results/FAULTS.md", "Markdown report to write (empty: none)")
	flag.StringVar(&only, "only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ","))
	flag.DurationVar(&o.timeout, "timeout", 14*time.Minute, "give up after this long")
	flag.Parse()
	if only != "" {
		for _, s := range strings.Split(only, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(scenarioNames(), s) {
				fmt.Fprintf(os.Stderr, "fault: unknown scenario %q (known: %s)\n", s, strings.Join(scenarioNames(), ", "))
				os.Exit(2)
			}
			o.only = append(o.only, s)
		}
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	failed, err := run(ctx, o)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("gave up after --timeout %s: %w", o.timeout, err)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		os.Exit(1)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "fault: %d scenario(s) failed\n", failed)
		os.Exit(1)
	}
}

// scenario is one row (or several) of the report.
type scenario struct {
	name string
	// operator scenarios run against envtest; the others against the server replicas.
	operator bool
	run      func(ctx context.Context, e *serverEnv, k *kubeEnv) []*result
}

func scenarios() []scenario {
	return []scenario{
		{name: "pg-restart", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result {
			return []*result{e.postgresFault(ctx, "pg-restart", 0)}
		}},
		{name: "pg-outage", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result {
			return []*result{e.postgresFault(ctx, "pg-outage", pgOutage)}
		}},
		{name: "sigterm", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result { return []*result{e.sigterm(ctx)} }},
		{name: "sigkill", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result { return []*result{e.sigkill(ctx)} }},
		{name: "races", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result { return e.races(ctx) }},
		{name: "small-pool", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result { return []*result{e.smallPool(ctx)} }},
		{name: "bad-input", run: func(ctx context.Context, e *serverEnv, _ *kubeEnv) []*result { return []*result{e.badInput(ctx)} }},
		{name: "apiserver-restart", operator: true, run: func(ctx context.Context, _ *serverEnv, k *kubeEnv) []*result {
			return []*result{k.apiserverRestart(ctx)}
		}},
		{name: "manager-kill", operator: true, run: func(ctx context.Context, _ *serverEnv, k *kubeEnv) []*result {
			return []*result{k.managerKill(ctx)}
		}},
		{name: "manager-kill-steps", operator: true, run: func(ctx context.Context, _ *serverEnv, k *kubeEnv) []*result {
			return []*result{k.managerKillSteps(ctx)}
		}},
	}
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	return names
}

// run starts what the chosen scenarios need, runs them in order and writes the report. It
// returns how many scenarios failed.
func run(ctx context.Context, o options) (failed int, err error) {
	started := time.Now()
	host := benchhost.Describe()
	if _, err := os.Stat(o.authly); err != nil {
		return 0, fmt.Errorf("%s is missing (make build): %w", o.authly, err)
	}
	var chosen []scenario
	needServer, needKube := false, false
	for _, s := range scenarios() {
		if len(o.only) > 0 && !slices.Contains(o.only, s.name) {
			continue
		}
		chosen = append(chosen, s)
		needServer = needServer || !s.operator
		needKube = needKube || s.operator
	}
	tmp, err := os.MkdirTemp("", "authly-fault-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	// When we are root, Postgres runs as the postgres user, who must reach its directory.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, err
	}

	var results []*result
	var se *serverEnv
	if needServer {
		logf("starting Postgres and %d authly server replicas", replicaCount)
		if se, err = startServerEnv(ctx, o, tmp); err != nil {
			return 0, err
		}
		defer se.stop()
	}
	var ke *kubeEnv
	for _, s := range chosen {
		if ctx.Err() != nil {
			break
		}
		if s.operator && ke == nil {
			if se != nil {
				// The operator scenarios need little of the server's Postgres but all the CPU
				// they can get on a 2-core machine.
				se.stop()
				se = nil
			}
			logf("starting Postgres, kube-apiserver and etcd for the operator scenarios")
			if ke, err = startKubeEnv(ctx, o, tmp); err != nil {
				return 0, err
			}
			defer ke.stop()
		}
		logf("scenario %s", s.name)
		t0 := time.Now()
		rs := s.run(ctx, se, ke)
		for _, r := range rs {
			r.duration = time.Since(t0)
			logf("scenario %s: %s", r.name, r.summary())
		}
		results = append(results, rs...)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	host.Finish()
	rep := &report{host: host, results: results, elapsed: time.Since(started), authly: o.authly}
	rep.print(os.Stdout)
	if o.out != "" {
		if err := rep.write(o.out); err != nil {
			return 0, err
		}
		logf("wrote %s", o.out)
	}
	for _, r := range results {
		if !r.passed() {
			failed++
		}
	}
	return failed, nil
}

// logf prints progress to stderr with the time.
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s fault: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}
