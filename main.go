/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command authly is the Authly operator and its bundled OAuth 2.1 / OpenID Connect server in
// one binary: `authly operator` runs the controller manager, `authly server` the OAuth
// server, `authly migrate` applies the database schema and `authly admin` manages clients,
// scopes, users and keys without Kubernetes. Invoked as kubectl-authly (or as `authly
// kubectl`) it is the kubectl plugin `kubectl authly`. The commands are in package cmd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/authly-dev/authly-operator/cmd"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	cmd.Version, cmd.Commit = version, commit
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, name := cmd.NewRoot(), "authly"
	if cmd.InvokedAsPlugin(os.Args[0]) {
		// kubectl runs `kubectl authly ...` as kubectl-authly, a symlink to or copy of this
		// binary (`make plugin`).
		root, name = cmd.NewPlugin(), "kubectl authly"
	}
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
