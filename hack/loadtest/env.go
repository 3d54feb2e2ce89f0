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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authly-dev/authly-operator/hack/internal/harness"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
	"github.com/authly-dev/authly-operator/server/store/storebench"
)

// Settings the server runs with, besides the database and address; the report lists them.
const (
	accessTokenTTL = 4 * time.Hour // long enough that tokens prepared at the start outlive a full run
	rateUnlimited  = "1e9"
)

// env is the system under test: Postgres, the authly server and the hello-world process.
type env struct {
	tmp           string
	pg            *pgcluster.Cluster
	databaseURL   string
	postmasterPID int

	server    *exec.Cmd
	serverURL string
	serverLog string
	serverArg []string

	hello    *exec.Cmd
	helloURL string

	// store prepares data; its pool is small and idle while a point is measured.
	store *store.Store
}

// startEnv starts Postgres (throwaway, fsync off), then, after seeding scale data when
// asked, the server and the hello-world process, and opens the preparation store.
func startEnv(ctx context.Context, o options) (_ *env, err error) {
	e := &env{}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	if e.tmp, err = os.MkdirTemp("", "authly-loadtest-"); err != nil {
		return nil, err
	}
	// When we are root, Postgres runs as the postgres user, who must reach its directory.
	if err := os.Chmod(e.tmp, 0o755); err != nil {
		return nil, err
	}
	logf("starting PostgreSQL in %s (fsync off)", e.tmp)
	// A Dir of our own (rather than pgcluster's temporary one) tells us where the
	// postmaster writes its pid file.
	if e.pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(e.tmp, "postgres")}); err != nil {
		return nil, err
	}
	if e.postmasterPID, err = postmasterPID(filepath.Join(e.tmp, "postgres", "data", "postmaster.pid")); err != nil {
		return nil, err
	}
	// The cluster's own "postgres" database: creating another would need SQL outside the store.
	e.databaseURL = e.pg.URL("postgres")
	if err := store.Migrate(ctx, e.databaseURL); err != nil {
		return nil, err
	}
	if e.store, err = store.Open(ctx, e.databaseURL, store.Options{MaxConns: 8, ApplicationName: "authly-loadtest"}); err != nil {
		return nil, err
	}
	if o.scale.enabled() {
		s := o.scale
		logf("seeding scale data: %d refresh tokens, %d clients, %d revoked token ids (this takes minutes)", s.RefreshTokens, s.Clients, s.Revoked)
		start := time.Now()
		if err := storebench.SeedScaleData(ctx, e.store, s.RefreshTokens, s.Clients, s.Revoked); err != nil {
			return nil, fmt.Errorf("seed scale data: %w", err)
		}
		logf("seeded in %s", time.Since(start).Round(time.Second))
	}
	if err := e.startServer(ctx, o); err != nil {
		return nil, err
	}
	if err := e.startHello(ctx, o); err != nil {
		return nil, err
	}
	return e, nil
}

func postmasterPID(pidFile string) (int, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("postmaster pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// serverArgs are the flags of the `authly server` process.
func serverArgs(o options, databaseURL, addr, kek string) []string {
	p := credentials.DefaultPasswordParams
	args := []string{
		"server",
		"--database-url", databaseURL,
		"--listen", addr,
		"--issuer", "http://" + addr,
		"--pool-max-conns", strconv.Itoa(o.pool),
		"--pool-min-conns", strconv.Itoa(o.pool),
		"--rate-token-per-client", rateUnlimited,
		"--rate-token-per-ip", rateUnlimited,
		"--rate-login-per-ip", rateUnlimited,
		"--rate-admin-per-ip", rateUnlimited,
		"--argon2-memory", strconv.FormatUint(uint64(p.Memory), 10),
		"--argon2-iterations", strconv.FormatUint(uint64(p.Iterations), 10),
		"--argon2-parallelism", strconv.FormatUint(uint64(p.Parallelism), 10),
		"--access-token-ttl", accessTokenTTL.String(),
		"--key-encryption-key", kek,
		"--shutdown-grace", "2s",
		"--log-format", "text",
		"--log-level", "warn",
	}
	if o.debugListen != "" {
		args = append(args, "--debug-listen", o.debugListen)
	}
	if o.accessTokenAlg != "" {
		args = append(args, "--access-token-alg", o.accessTokenAlg)
	}
	return args
}

// redactArgs hides the key encryption key in the argument list the report shows.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--key-encryption-key" {
			out[i+1] = "<random>"
		}
		if out[i] == "--database-url" {
			out[i+1] = "<throwaway cluster>"
		}
	}
	return out
}

func (e *env) startServer(ctx context.Context, o options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		return err
	}
	e.serverArg = serverArgs(o, e.databaseURL, addr, hex.EncodeToString(kek))
	e.serverURL = "http://" + addr
	e.serverLog = filepath.Join(e.tmp, "authly-server.log")
	logFile, err := os.Create(e.serverLog)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	e.server = exec.Command(o.authly, e.serverArg...)
	e.server.Env = serverEnviron(o)
	e.server.Stdout, e.server.Stderr = logFile, logFile
	e.server.SysProcAttr = childAttr()
	logf("starting %s on %s", o.authly, e.serverURL)
	if err := e.server.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if err := waitReady(ctx, e.server, e.serverURL+"/ready", 60*time.Second); err != nil {
		return fmt.Errorf("server: %w\n%s", err, harness.LogTail(e.serverLog, 15))
	}
	return nil
}

func (e *env) startHello(ctx context.Context, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	e.helloURL = "http://" + addr + "/"
	e.hello = exec.Command(self, helloCommand, "--listen", addr)
	e.hello.Env = serverEnviron(o)
	e.hello.Stderr = os.Stderr
	e.hello.SysProcAttr = childAttr()
	if err := e.hello.Start(); err != nil {
		return fmt.Errorf("start hello-world: %w", err)
	}
	return waitReady(ctx, e.hello, e.helloURL, 20*time.Second)
}

// childAttr puts a child in its own process group (a Ctrl-C reaches the load tool, which
// stops the children in order) and ties it to the load tool's life.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// serverEnviron is the environment of the server and hello-world processes: ours, without
// AUTHLY_* and with GOMAXPROCS set when --server-cpus asks for it.
func serverEnviron(o options) []string {
	env := slices.DeleteFunc(harness.EnvironWithoutAuthly(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
	if o.serverCPUs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(o.serverCPUs))
	}
	return env
}

// waitReady polls url until it answers 200, the process exits or timeout passes.
func waitReady(ctx context.Context, cmd *exec.Cmd, url string, timeout time.Duration) error {
	exited := make(chan struct{})
	stopPolling := make(chan struct{})
	defer close(stopPolling)
	go func() {
		// Process.Wait would reap the child; poll its state instead.
		for {
			if !running(cmd.Process.Pid) {
				close(exited)
				return
			}
			select {
			case <-stopPolling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready at %s within %s", url, timeout)
		}
	}
}

// stopProcess sends SIGTERM and waits, then kills.
func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (e *env) stop() {
	stopProcess(e.hello, 5*time.Second)
	stopProcess(e.server, 10*time.Second)
	if e.store != nil {
		e.store.Close()
	}
	if e.pg != nil {
		e.pg.Stop()
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}
