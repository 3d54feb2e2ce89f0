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

func TestInvokedAsPlugin(t *testing.T) {
	for arg0, want := range map[string]bool{
		"kubectl-authly":                true,
		"/usr/local/bin/kubectl-authly": true,
		`C:\bin\kubectl-authly.exe`:     false, // filepath.Base splits on / only off Windows
		"kubectl-authly.exe":            true,
		"./authly":                      false,
		"/usr/bin/authly":               false,
		"kubectl-authly-dev":            false,
	} {
		if got := invokedAsPlugin(arg0); got != want {
			t.Errorf("invokedAsPlugin(%q) = %v, want %v", arg0, got, want)
		}
	}
}

// `authly kubectl` is the plugin under the authly binary's own name.
func TestAuthlyKubectlRunsThePlugin(t *testing.T) {
	var out bytes.Buffer
	root := NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"kubectl", "plan", "--daily-requests", "1000000"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Planned:") {
		t.Errorf("authly kubectl plan printed:\n%s", out.String())
	}
	var help bytes.Buffer
	plugin := newPluginCommand()
	plugin.SetOut(&help)
	plugin.SetArgs([]string{"--help"})
	if err := plugin.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl authly [command]", "--kubeconfig", "--context", "--namespace", "status", "token", "rotate", "plan"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("kubectl-authly --help lacks %q:\n%s", want, help.String())
		}
	}
}
