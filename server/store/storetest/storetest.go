/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package storetest hands each test a fresh, migrated PostgreSQL database.
//
// With AUTHLY_TEST_DATABASE_URL set it uses that server (the URL's user must be allowed to
// create databases). Otherwise it starts one throwaway cluster per test binary from the
// installed PostgreSQL binaries (see pgcluster). A template database is migrated once; each
// test gets a clone of it, so tests are independent and may run in parallel.
//
// A package that uses it calls storetest.Main from its TestMain, so that the cluster is
// stopped when the tests end, also on Ctrl-C.
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// EnvDatabaseURL names the variable that points the tests at an existing server.
const EnvDatabaseURL = "AUTHLY_TEST_DATABASE_URL"

var (
	setupOnce sync.Once
	setupErr  error
	adminURL  string // superuser URL of the maintenance database
	template  string // name of the migrated template database
	cluster   *pgcluster.Cluster
	createMu  sync.Mutex // CREATE DATABASE ... TEMPLATE wants no concurrent use of the template
	counter   atomic.Int64
	cleanups  []func()
	cleanMu   sync.Mutex
)

// Main runs the tests and then removes what the package created: the throwaway cluster, or
// the template database on an external server. Call it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		teardown()
		os.Exit(130)
	}()
	code := m.Run()
	teardown()
	os.Exit(code)
}

func teardown() {
	cleanMu.Lock()
	defer cleanMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// OnTeardown registers f to run when Main ends the tests (also on Ctrl-C), after those
// registered later. Packages with other throwaway servers (envtest) stop them this way.
func OnTeardown(f func()) {
	cleanMu.Lock()
	cleanups = append(cleanups, f)
	cleanMu.Unlock()
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if external := os.Getenv(EnvDatabaseURL); external != "" {
		adminURL = external
	} else {
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			return err
		}
		cluster = c
		OnTeardown(c.Stop)
		adminURL = c.URL("postgres")
	}
	template = fmt.Sprintf("authly_tmpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if err := exec(ctx, "CREATE DATABASE "+template); err != nil {
		return err
	}
	if cluster == nil {
		OnTeardown(func() { _ = exec(context.Background(), "DROP DATABASE IF EXISTS "+template+" WITH (FORCE)") })
	}
	if err := store.Migrate(ctx, withDatabase(adminURL, template)); err != nil {
		return fmt.Errorf("storetest: migrate template: %w", err)
	}
	return nil
}

// URL returns the connection URL of a new database with the current schema, dropped when
// the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		tb.Fatalf("storetest: no test database: %v", setupErr)
	}
	name := fmt.Sprintf("%s_t%d", template, counter.Add(1))
	ctx := context.Background()
	createMu.Lock()
	err := exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template+" STRATEGY FILE_COPY")
	createMu.Unlock()
	if err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop database: %v", err)
		}
	})
	return withDatabase(adminURL, name)
}

// Pool returns a pgx pool on a new test database, closed when the test ends.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), URL(tb))
	if err != nil {
		tb.Fatalf("storetest: pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(raw, database string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + database
	return u.String()
}
