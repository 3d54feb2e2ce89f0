/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/authly-dev/authly-operator/hack/internal/harness"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// The server side of the suite.
const (
	replicaCount = 3
	// serverPool is each replica's database pool, as a small AuthServer's share.
	serverPool = 4
	// shutdownGrace of the replicas; the server drains for a quarter of it.
	shutdownGrace = 4 * time.Second
	// pgOutage is how long Postgres stays down in pg-outage.
	pgOutage = 3 * time.Second
	// Bootstrap admin of replica 0, whose start creates the admin:* scopes.
	adminUser     = "fault-admin"
	adminPassword = "fault-admin-password-1"
)

// serverEnv is Postgres and the server replicas.
type serverEnv struct {
	o      options
	tmp    string
	pgDir  string
	pgPort int

	mu       sync.Mutex
	pg       *pgcluster.Cluster
	stopOnce sync.Once

	dbURL    string
	kek      string
	issuer   string
	replicas []*replica
	store    *store.Store
	fx       *fixtures
}

// replica is one `authly server` process, restartable on the same address.
type replica struct {
	idx     int
	addr    string
	url     string
	args    []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startServerEnv(ctx context.Context, o options, tmp string) (e *serverEnv, err error) {
	e = &serverEnv{o: o, tmp: tmp, pgDir: filepath.Join(tmp, "postgres")}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	if e.pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: e.pgDir}); err != nil {
		return e, fmt.Errorf("postgres: %w", err)
	}
	e.pgPort = e.pg.Port()
	e.dbURL = e.pg.URL("postgres")
	if err := store.Migrate(ctx, e.dbURL); err != nil {
		return e, err
	}
	// The suite's own store prepares credentials and reads the database to check it. It
	// reconnects by itself after Postgres restarts.
	if e.store, err = store.Open(ctx, e.dbURL, store.Options{MaxConns: 4, ApplicationName: "authly-fault"}); err != nil {
		return e, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return e, err
	}
	e.kek = hex.EncodeToString(key)
	ports, err := harness.FreePorts(replicaCount)
	if err != nil {
		return e, err
	}
	e.issuer = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	for i := range replicaCount {
		r := e.newReplica(i, ports[i], serverPool)
		if i == 0 {
			r.args = append(r.args, "--admin-username", adminUser, "--admin-password", adminPassword)
		}
		e.replicas = append(e.replicas, r)
		// One after the other: the first creates the signing keys.
		if err := r.start(ctx, o.authly); err != nil {
			return e, err
		}
	}
	if e.fx, err = setupFixtures(ctx, e); err != nil {
		return e, fmt.Errorf("fixtures: %w", err)
	}
	return e, nil
}

// newReplica describes replica idx on port with the given database pool.
func (e *serverEnv) newReplica(idx, port, pool int) *replica {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return &replica{
		idx:     idx,
		addr:    addr,
		url:     "http://" + addr,
		logPath: filepath.Join(e.tmp, fmt.Sprintf("authly-server-%d.log", idx)),
		args: []string{"server",
			"--database-url", e.dbURL,
			"--listen", addr,
			"--issuer", e.issuer,
			"--key-encryption-key", e.kek,
			"--pool-max-conns", strconv.Itoa(pool),
			"--pool-min-conns", "1",
			"--replicas", strconv.Itoa(replicaCount),
			"--rate-token-per-client", "1e9",
			"--rate-token-per-ip", "1e9",
			"--rate-login-per-ip", "1e9",
			"--rate-admin-per-ip", "1e9",
			// Cheap password hashes: the suite measures faults, not argon2id.
			"--argon2-memory", "1024",
			"--argon2-iterations", "1",
			"--argon2-parallelism", "1",
			"--access-token-ttl", "1h",
			"--shutdown-grace", shutdownGrace.String(),
			"--log-format", "text",
			"--log-level", "warn",
		},
	}
}

// start runs the replica and waits until /ready answers 200.
func (r *replica) start(ctx context.Context, bin string) error {
	if err := r.startAsync(bin); err != nil {
		return err
	}
	return r.waitReady(ctx, 30*time.Second)
}

// startAsync runs the replica without waiting for it.
func (r *replica) startAsync(bin string) error {
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin, r.args...)
	cmd.Env = harness.EnvironWithoutAuthly()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group (a Ctrl-C reaches the suite, which stops children in order) and
	// tied to the suite's life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start replica %d: %w", r.idx, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	return nil
}

func (r *replica) running() bool {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// waitReady polls /ready until 200, the process exits or timeout passes.
func (r *replica) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if ready(ctx, hc, r.url) {
			return nil
		}
		if !r.running() {
			return fmt.Errorf("replica %d exited before it was ready:\n%s", r.idx, harness.LogTail(r.logPath, 10))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d not ready within %s:\n%s", r.idx, timeout, harness.LogTail(r.logPath, 10))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, hc *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ready", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// signal sends sig and waits up to wait for the process to exit; it reports whether it did.
func (r *replica) signal(sig syscall.Signal, wait time.Duration) bool {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil || done == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// stop ends the replica: SIGTERM, then SIGKILL.
func (r *replica) stop() {
	if !r.signal(syscall.SIGTERM, 15*time.Second) {
		r.signal(syscall.SIGKILL, 5*time.Second)
	}
}

// stopPostgres shuts Postgres down (fast shutdown) and startPostgres starts it again on the
// same port and data directory.
func (e *serverEnv) stopPostgres() {
	e.mu.Lock()
	pg := e.pg
	e.mu.Unlock()
	pg.Stop()
}

func (e *serverEnv) startPostgres(ctx context.Context) error {
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: e.pgDir, Port: e.pgPort})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.pg = pg
	e.mu.Unlock()
	return nil
}

// allReady waits (bounded) until every replica answers /ready with 200.
func (e *serverEnv) allReady(ctx context.Context, timeout time.Duration) error {
	var errs []error
	for _, r := range e.replicas {
		if err := r.waitReady(ctx, timeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stop ends the replicas and Postgres; it is safe to call more than once.
func (e *serverEnv) stop() {
	if e == nil {
		return
	}
	e.stopOnce.Do(e.stopAll)
}

func (e *serverEnv) stopAll() {
	for _, r := range e.replicas {
		r.stop()
	}
	if e.store != nil {
		e.store.Close()
	}
	e.mu.Lock()
	pg := e.pg
	e.mu.Unlock()
	if pg != nil {
		pg.Stop()
	}
}
