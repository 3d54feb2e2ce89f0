/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package cmd holds the commands of the authly binary: `authly operator` runs the controller
// manager, `authly server` the OAuth server, `authly migrate` applies the database schema,
// `authly admin` manages clients, scopes, users and keys without Kubernetes, `authly dev`
// runs a local development setup, and `authly kubectl` (or the binary invoked as
// kubectl-authly) is the kubectl plugin.
package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version and Commit of the binary; main sets them from its link-time values.
var (
	Version = "dev"
	Commit  = ""
)

// version is the binary's version, as the commands report it.
func version() string { return Version }

// NewRoot is the authly command with every subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "authly",
		Short:         "Authly: an OAuth 2.1 / OpenID Connect server and its Kubernetes operator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCommand(),
		newAdminCommand(),
		newDevCommand(),
		newKubectlCommand(),
		newOperatorCommand(),
		newServerCommand(),
		newMigrateCommand(),
	)
	return root
}

// NewPlugin is the root command of the kubectl plugin, `kubectl authly`.
func NewPlugin() *cobra.Command { return newPluginCommand() }

// InvokedAsPlugin reports whether the binary was started as the kubectl plugin.
func InvokedAsPlugin(arg0 string) bool { return invokedAsPlugin(arg0) }

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "authly %s (commit %s, %s)\n", version(), buildCommit(), runtime.Version())
			return err
		},
	}
}

// buildCommit is the commit given at link time, else the one the Go toolchain stamped.
func buildCommit() string {
	if Commit != "" {
		return Commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
