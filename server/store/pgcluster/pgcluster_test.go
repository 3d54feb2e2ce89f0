/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// A cluster stopped and started again on the same directory and port keeps its data:
// the fault suite (hack/fault) restarts Postgres this way under load.
func TestRestartOnTheSameDirectoryAndPort(t *testing.T) {
	if _, err := pgcluster.BinDir(); err != nil {
		t.Fatal(err) // make test needs the PostgreSQL server binaries (see README)
	}
	ctx := context.Background()
	parent, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	// As root, the postgres user must reach the directory.
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "pg")
	first, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Stop)
	sql := func(c *pgcluster.Cluster, statements string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, statements); err != nil {
			t.Fatal(err)
		}
	}
	sql(first, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the restart')`)
	first.Stop()

	second, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Port: first.Port()})
	if err != nil {
		t.Fatalf("start again on port %d: %v", first.Port(), err)
	}
	t.Cleanup(second.Stop)
	if second.URL("postgres") != first.URL("postgres") {
		t.Errorf("URL %s after the restart, want %s", second.URL("postgres"), first.URL("postgres"))
	}
	conn, err := pgx.Connect(ctx, second.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != "before the restart" {
		t.Fatalf("after the restart: %q, %v", v, err)
	}
}
