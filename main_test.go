package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	version, commit = "v1.2.3", "abc123"
	t.Cleanup(func() { version, commit = "dev", "" })
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "v1.2.3") || !strings.Contains(got, "abc123") {
		t.Fatalf("version output %q lacks version or commit", got)
	}
}
