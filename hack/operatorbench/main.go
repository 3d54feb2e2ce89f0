/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command operatorbench measures the operator at scale: how long 1,000 OAuthClients applied
// at once take to become Ready, and how much memory the operator holds with 10,000 of them.
// It is a benchmark that writes a report (`make bench-operator`), not a test.
//
// It starts a throwaway Postgres, a kube-apiserver and etcd (envtest, from bin/k8s) and
// `authly operator` as a separate process, so that the operator's CPU time and memory are
// read from /proc on their own. Everything it starts is stopped when it ends, on Ctrl-C
// and on --timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/authly-dev/authly-operator/hack/benchhost"
)

// options are the command's flags.
type options struct {
	n        int
	nMemory  int
	out      string
	authly   string
	assets   string
	crds     string
	timeout  time.Duration
	creators int
	settle   time.Duration
	profile  string
	verbose  bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000, "OAuthClients created at once in phase 1 (time to all Ready)")
	flag.IntVar(&o.nMemory, "n-memory", 10000, "OAuthClients in total in phase 2 (operator memory); 0 skips phase 2")
	flag.StringVar(&o.out, "out", "bench/results/operator.md", "Markdown report to write")
	flag.StringVar(&o.authly, "authly", "bin/authly", "the authly binary (make build)")
	flag.StringVar(&o.assets, "assets", "bin/k8s", "directory with kube-apiserver and etcd (make envtest)")
	flag.StringVar(&o.crds, "crds", "config/crd/bases", "directory with the CRDs")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.IntVar(&o.creators, "creators", 32, "goroutines creating OAuthClients")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "wait after phase 2 before reading the operator's memory")
	flag.StringVar(&o.profile, "profile-dir", "", "when set, serve pprof from the operator and save a CPU profile of phase 1 and a heap profile after phase 2 here")
	flag.BoolVar(&o.verbose, "verbose", false, "copy the operator's log to stderr")
	flag.Parse()
	if o.n < 1 || o.nMemory < 0 || o.creators < 1 {
		fmt.Fprintln(os.Stderr, "operatorbench: --n and --creators must be at least 1, --n-memory at least 0")
		os.Exit(2)
	}
	if o.nMemory > 0 && o.nMemory < o.n {
		fmt.Fprintf(os.Stderr, "operatorbench: --n-memory (%d) must be 0 or at least --n (%d)\n", o.nMemory, o.n)
		os.Exit(2)
	}

	// The benchmark's own watch logs nothing worth reading; the operator's log is kept.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	err := run(ctx, o)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("gave up after --timeout %s: %w", o.timeout, err)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "operatorbench:", err)
		os.Exit(1)
	}
}

// run sets everything up, runs both phases and writes the report.
func run(ctx context.Context, o options) (err error) {
	m := benchhost.Describe()
	logf("starting Postgres, kube-apiserver and etcd")
	e, err := startEnv(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping the operator, kube-apiserver, etcd and Postgres")
		if serr := e.stop(); serr != nil && err == nil {
			err = serr
		}
		if err != nil {
			e.op.printLogTail(os.Stderr, 30)
		}
		e.removeTemp()
	}()
	if err := e.createServer(ctx); err != nil {
		return err
	}
	rep := &report{machine: m, opts: o, operatorArgs: e.op.args}

	logf("phase 1: creating %d OAuthClients with %d goroutines", o.n, o.creators)
	if rep.phase1, err = e.phase(ctx, 0, o.n, o.profile, "phase1-cpu.pprof"); err != nil {
		return fmt.Errorf("phase 1: %w", err)
	}
	logf("phase 1: all %d Ready %.1f s after the first create", o.n, rep.phase1.allReady.Seconds())
	if rep.phase1.verify, err = e.verify(ctx, o.n); err != nil {
		return fmt.Errorf("phase 1: %w", err)
	}

	if o.nMemory > o.n {
		logf("phase 2: growing to %d OAuthClients", o.nMemory)
		if rep.phase2, err = e.phase(ctx, o.n, o.nMemory, "", ""); err != nil {
			return fmt.Errorf("phase 2: %w", err)
		}
		logf("phase 2: all %d Ready; settling for %s", o.nMemory, o.settle)
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
			return ctx.Err()
		}
		if rep.memory, err = e.memory(ctx); err != nil {
			return fmt.Errorf("phase 2: %w", err)
		}
		if rep.phase2.verify, err = e.verify(ctx, o.nMemory); err != nil {
			return fmt.Errorf("phase 2: %w", err)
		}
		if o.profile != "" {
			if err := e.saveHeapProfile(ctx, o.profile); err != nil {
				return err
			}
		}
	} else if rep.memory, err = e.memory(ctx); err != nil {
		return err
	}
	m.Finish()
	rep.machine = m
	if err := rep.write(o.out); err != nil {
		return err
	}
	logf("wrote %s", o.out)
	rep.printTargets(os.Stdout)
	return nil
}

// logf prints progress to stderr with the time.
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s operatorbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}
