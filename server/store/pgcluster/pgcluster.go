/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package pgcluster starts a throwaway PostgreSQL cluster from the binaries installed on the
// machine. Tests use it for a real database, and `authly dev` (make run) for a local one.
//
// It looks for the binaries with `pg_config --bindir`, then in /usr/lib/postgresql/*/bin.
// PostgreSQL refuses to run as root, so when the process is root the cluster runs as the
// `postgres` user. The postmaster is tied to this process with a parent-death signal, so a
// killed test binary leaves no postgres behind.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options say where and how to run the cluster.
type Options struct {
	// Dir holds the data directory and the socket. Empty means a new temporary directory
	// that Stop removes. A given Dir is kept, and an existing cluster in it is reused.
	Dir string
	// Port to listen on. Zero picks a free one.
	Port int
	// Listen is the address to listen on (listen_addresses); empty means 127.0.0.1. The
	// end-to-end cluster listens on its node's bridge address, where its pods reach it.
	Listen string
	// HBA are extra pg_hba.conf lines, appended once, for clients beyond the trusted
	// loopback (e.g. "host all all 10.0.0.0/24 scram-sha-256" for a cluster's pods).
	HBA []string
	// Durable keeps fsync on. Tests leave it off: their data is thrown away.
	Durable bool
	// Log receives the server log. Nil discards it (it is kept in Dir/postgres.log).
	Log *os.File
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir     string
	host    string
	tempDir bool
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// ErrNoPostgres says no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("pgcluster: no PostgreSQL server binaries found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin); install them with `apt-get install postgresql`, or set a database URL")

// BinDir returns the directory holding initdb and postgres.
func BinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Highest version first; versions are numbers, so compare them as such.
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoPostgres
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// Start initialises (when needed) and starts a cluster, and waits until it accepts
// connections. The superuser is `postgres` with trust authentication on 127.0.0.1.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: opts.Dir, host: opts.Listen, done: make(chan struct{})}
	if c.host == "" {
		c.host = "127.0.0.1"
	}
	if c.dir == "" {
		c.dir, err = os.MkdirTemp("", "authly-pg-")
		if err != nil {
			return nil, err
		}
		c.tempDir = true
	} else if c.dir, err = filepath.Abs(c.dir); err != nil {
		return nil, err
	}
	var cred *syscall.Credential // nil: the server runs as we do
	if os.Geteuid() == 0 {
		if cred, err = postgresCredential(); err != nil {
			c.removeTemp()
			return nil, err
		}
	}
	if err := c.prepare(ctx, bin, cred, opts.HBA); err != nil {
		c.removeTemp()
		return nil, err
	}
	// A free port can be taken by someone else between our probe and postgres binding it
	// (parallel test binaries do this); try a few.
	for attempt := 0; ; attempt++ {
		c.port = opts.Port
		if c.port == 0 {
			if c.port, err = freePort(); err != nil {
				c.removeTemp()
				return nil, err
			}
		}
		err = c.launch(ctx, bin, cred, opts)
		if err == nil {
			return c, nil
		}
		if opts.Port != 0 || attempt == 4 {
			c.removeTemp()
			return nil, err
		}
		c.done = make(chan struct{})
		c.once = sync.Once{}
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// prepare creates the data directory with initdb unless it already holds a cluster.
func (c *Cluster) prepare(ctx context.Context, bin string, cred *syscall.Credential, hba []string) error {
	// Parents must be traversable by the postgres user; the cluster directory is its own.
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	if cred != nil {
		if !Reachable(c.dir) {
			return fmt.Errorf("pgcluster: %s is not reachable by the postgres user (a parent directory is closed to others); choose a directory under /tmp or /var/tmp", c.dir)
		}
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if len(hba) == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "pg_hba.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(hba, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Cluster) launch(ctx context.Context, bin string, cred *syscall.Credential, opts Options) error {
	fsync := "off"
	if opts.Durable {
		fsync = "on"
	}
	logPath := filepath.Join(c.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	if cred != nil {
		_ = os.Chown(logPath, int(cred.Uid), int(cred.Gid))
	}
	args := []string{
		"-D", c.dataDir(),
		"-p", strconv.Itoa(c.port),
		"-k", c.dir,
		"-c", "listen_addresses=" + c.host,
		"-c", "fsync=" + fsync,
		"-c", "synchronous_commit=" + map[bool]string{true: "on", false: "off"}[opts.Durable],
		"-c", "full_page_writes=" + fsync,
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Dir = c.dir
	out := logFile
	if opts.Log != nil {
		out = opts.Log
	}
	c.cmd.Stdout, c.cmd.Stderr = out, out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// SIGQUIT is PostgreSQL's immediate shutdown: a dying parent takes the cluster along.
		Pdeathsig: syscall.SIGQUIT,
		// Own process group, so a Ctrl-C aimed at `go test` reaches us first and we stop
		// the cluster in order, instead of postgres racing us.
		Setpgid: true,
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			tail, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgcluster: postgres exited: %w: %s", exitError(c.waitErr), lastLines(string(tail), 5))
		case <-ctx.Done():
			c.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("pgcluster: postgres did not accept connections within 30s: %w", err)
		}
	}
}

// URL returns a connection URL for the named database as the superuser.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", net.JoinHostPort(c.host, strconv.Itoa(c.port)), database)
}

// Port is the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down (fast shutdown, then kill) and removes a temporary directory.
// It is safe to call more than once.
func (c *Cluster) Stop() {
	c.once.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		c.removeTemp()
	})
}

func (c *Cluster) removeTemp() {
	if c.tempDir {
		_ = os.RemoveAll(c.dir)
	}
}

// Reachable reports whether every parent of dir lets other users through, so that the
// postgres user can reach dir when the process runs as root.
func Reachable(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		switch {
		case os.IsNotExist(err):
			// Created later with mode 0755.
		case err != nil || info.Mode().Perm()&0o001 == 0:
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// postgresCredential returns the credentials of the postgres user, which the server runs
// as when we are root (postgres refuses to run as root).
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a `postgres` user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// exitError is the error of a process's Wait, which is nil when it exited with status 0.
func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
