/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package storetest_test

import (
	"context"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// Each test gets its own migrated database: a row written in one is absent from another.
func TestDatabasesAreMigratedAndIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := storetest.Pool(t), storetest.Pool(t)
	v, err := store.CurrentVersion(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if v != store.SchemaVersion() || v == 0 {
		t.Fatalf("schema version = %d, want %d", v, store.SchemaVersion())
	}
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := b.QueryRow(ctx, "SELECT to_regclass('only_in_a') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("a table created in one test database is visible in another")
	}
}

// Migrating an up-to-date database again changes nothing and does not fail.
func TestMigrateIsIdempotent(t *testing.T) {
	url := storetest.URL(t)
	for i := 0; i < 2; i++ {
		if err := store.Migrate(context.Background(), url); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
}
