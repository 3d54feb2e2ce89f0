/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	Version, Commit = "v1.2.3", "abc123"
	t.Cleanup(func() { Version, Commit = "dev", "" })
	var out bytes.Buffer
	root := NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "v1.2.3") || !strings.Contains(got, "abc123") {
		t.Fatalf("version output %q lacks version or commit", got)
	}
}
