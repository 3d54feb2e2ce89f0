/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		f := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if n, ok := cgroupMemoryLimit(write("536870912\n")); !ok || n != 512<<20 {
		t.Errorf("512 MiB limit: got %d, %v", n, ok)
	}
	for _, content := range []string{"max\n", "", "-1", "garbage"} {
		if n, ok := cgroupMemoryLimit(write(content)); ok {
			t.Errorf("%q: got limit %d, want none", content, n)
		}
	}
	if _, ok := cgroupMemoryLimit(filepath.Join(dir, "missing")); ok {
		t.Error("missing file: got a limit")
	}
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	f := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(f, []byte("1000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tuneGC(400, f)
	if got := debug.SetGCPercent(400); got != 400 {
		t.Errorf("GC percent %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 900000000 {
		t.Errorf("memory limit %d, want 90%% of the cgroup's 1000000000", got)
	}

	// GOGC and GOMEMLIMIT, when set, are the operator's word.
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	tuneGC(400, f)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
}
