/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/hack/internal/harness"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// What the benchmark creates.
const (
	benchNamespace = "operatorbench"
	benchServer    = "main"
	benchDBSecret  = "authly-db"
	benchIssuer    = "https://auth.bench.example.com"
	benchDatabase  = "postgres"
)

// env is what the benchmark runs against: Postgres, the control plane and the operator.
type env struct {
	tmp      string
	creators int
	pg       *pgcluster.Cluster
	te       *envtest.Environment
	cfg      *rest.Config
	c        client.Client
	scheme   *runtime.Scheme
	op       *operator
	watcher  *readyWatcher
}

// startEnv starts Postgres, kube-apiserver and etcd, then the operator. On error, what was
// started is stopped again.
func startEnv(ctx context.Context, o options) (e *env, err error) {
	e = &env{scheme: runtime.NewScheme(), creators: o.creators}
	if err := clientgoscheme.AddToScheme(e.scheme); err != nil {
		return nil, err
	}
	if err := authlyv1.AddToScheme(e.scheme); err != nil {
		return nil, err
	}
	for _, p := range []string{o.authly, filepath.Join(o.assets, "kube-apiserver"), filepath.Join(o.assets, "etcd")} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s is missing (make build envtest): %w", p, err)
		}
	}
	if e.tmp, err = os.MkdirTemp("", "operatorbench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.stop()
			e.removeTemp()
		}
	}()
	if e.pg, err = pgcluster.Start(ctx, pgcluster.Options{}); err != nil {
		return e, fmt.Errorf("postgres: %w", err)
	}
	e.te = &envtest.Environment{
		BinaryAssetsDirectory: o.assets,
		CRDDirectoryPaths:     []string{o.crds},
		ErrorIfCRDPathMissing: true,
	}
	if e.cfg, err = e.te.Start(); err != nil {
		e.te = nil
		return e, fmt.Errorf("envtest (kube-apiserver and etcd from %s): %w", o.assets, err)
	}
	// The benchmark's own client must not be what limits the rate of creates.
	cfg := rest.CopyConfig(e.cfg)
	cfg.QPS, cfg.Burst = 2000, 4000
	if e.c, err = client.New(cfg, client.Options{Scheme: e.scheme}); err != nil {
		return e, err
	}
	kubeconfig := filepath.Join(e.tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, e.te.KubeConfig, 0o600); err != nil {
		return e, err
	}
	if e.op, err = startOperator(ctx, o, kubeconfig, filepath.Join(e.tmp, "operator.log")); err != nil {
		return e, err
	}
	return e, nil
}

// stop stops the operator, the control plane and Postgres, whichever were started.
func (e *env) stop() error {
	var errs []error
	if e.watcher != nil {
		e.watcher.stop()
	}
	if e.op != nil {
		errs = append(errs, e.op.stop())
	}
	if e.te != nil {
		if err := e.te.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping envtest: %w", err))
		}
	}
	if e.pg != nil {
		e.pg.Stop()
	}
	return errors.Join(errs...)
}

func (e *env) removeTemp() {
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

// createServer makes the namespace, the database Secret and an AuthServer with one
// replica, starts watching OAuthClients, and waits until the operator has migrated the
// database (DatabaseReady=True). No pods run in envtest; OAuthClients need only that.
func (e *env) createServer(ctx context.Context) error {
	err := harness.CreateAuthServer(ctx, e.c, harness.AuthServer{
		Namespace: benchNamespace, Name: benchServer, Issuer: benchIssuer,
		DatabaseSecret: benchDBSecret, DatabaseURL: e.pg.URL(benchDatabase),
	})
	if err != nil {
		return err
	}
	if e.watcher, err = watchReady(ctx, e.cfg, e.scheme); err != nil {
		return err
	}
	logf("waiting for AuthServer %s/%s to be DatabaseReady", benchNamespace, benchServer)
	key := types.NamespacedName{Namespace: benchNamespace, Name: benchServer}
	return harness.WaitDatabaseReady(ctx, e.c, key, 2*time.Minute, func() error {
		if !e.op.running() {
			return fmt.Errorf("the operator exited: %w", e.op.exitErr())
		}
		return nil
	})
}

// operator is `authly operator` running as a child process.
type operator struct {
	args      []string
	cmd       *exec.Cmd
	log       *os.File
	logPath   string
	metrics   string // base URL of /metrics
	pprof     string // base URL of /debug/pprof, "" when off
	done      chan struct{}
	waitErr   error
	stopOnce  sync.Once
	stopError error
}

// startOperator runs the operator against kubeconfig, with metrics (and pprof when
// profiling) on loopback ports, and waits until its readiness probe answers.
func startOperator(ctx context.Context, o options, kubeconfig, logPath string) (*operator, error) {
	ports, err := harness.FreePorts(3)
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	op := &operator{
		logPath: logPath,
		metrics: "http://" + addr(ports[0]) + "/metrics",
		done:    make(chan struct{}),
	}
	op.args = []string{"operator",
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", addr(ports[0]),
		"--health-probe-bind-address", addr(ports[1]),
		"--resync-period", "5m",
	}
	if o.profile != "" {
		op.args = append(op.args, "--pprof-bind-address", addr(ports[2]))
		op.pprof = "http://" + addr(ports[2]) + "/debug/pprof"
	}
	if op.log, err = os.Create(logPath); err != nil {
		return nil, err
	}
	op.cmd = exec.Command(o.authly, op.args...)
	var out io.Writer = op.log
	if o.verbose {
		out = io.MultiWriter(op.log, os.Stderr)
	}
	op.cmd.Stdout, op.cmd.Stderr = out, out
	// A benchmark killed hard leaves no operator behind.
	op.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := op.cmd.Start(); err != nil {
		_ = op.log.Close()
		return nil, fmt.Errorf("starting %s: %w", o.authly, err)
	}
	go func() {
		op.waitErr = op.cmd.Wait()
		close(op.done)
	}()
	logf("operator pid %d: %s %v", op.cmd.Process.Pid, o.authly, op.args)
	readyz := "http://" + addr(ports[1]) + "/readyz"
	deadline := time.Now().Add(time.Minute)
	for {
		if ok, _ := httpOK(ctx, readyz); ok {
			return op, nil
		}
		if !op.running() {
			err := fmt.Errorf("the operator exited before it was ready: %w", op.exitErr())
			_ = op.stop()
			return op, err
		}
		if time.Now().After(deadline) {
			_ = op.stop()
			return op, fmt.Errorf("the operator's %s did not answer 200 within a minute", readyz)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			_ = op.stop()
			return op, ctx.Err()
		}
	}
}

func (op *operator) pid() int { return op.cmd.Process.Pid }

func (op *operator) running() bool {
	select {
	case <-op.done:
		return false
	default:
		return true
	}
}

// exitErr waits for the operator to exit and says how it did: the error of its Wait, or
// "exit status 0".
func (op *operator) exitErr() error {
	<-op.done
	if op.waitErr == nil {
		return errors.New("exit status 0")
	}
	return op.waitErr
}

// stop sends SIGTERM, then SIGKILL after 15 s. It is safe to call more than once.
func (op *operator) stop() error {
	op.stopOnce.Do(func() {
		defer func() { _ = op.log.Close() }()
		if !op.running() {
			return
		}
		_ = op.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-op.done:
		case <-time.After(15 * time.Second):
			_ = op.cmd.Process.Kill()
			<-op.done
			op.stopError = errors.New("the operator did not stop within 15 s of SIGTERM; killed it")
		}
	})
	return op.stopError
}

// printLogTail copies the last lines of the operator's log, for a run that failed.
func (op *operator) printLogTail(w io.Writer, n int) {
	if op == nil {
		return
	}
	f, err := os.Open(op.logPath)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	_, _ = fmt.Fprintf(w, "--- last %d lines of the operator's log ---\n", len(lines))
	for _, l := range lines {
		_, _ = fmt.Fprintln(w, l)
	}
}

func httpOK(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
