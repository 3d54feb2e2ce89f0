// Command authly is the Authly operator and its bundled OAuth 2.1 / OpenID Connect server in
// one binary: `authly operator` runs the controller manager, `authly server` the OAuth
// server, `authly migrate` applies the database schema and `authly admin` manages clients,
// scopes, users and keys without Kubernetes. Invoked as kubectl-authly (or as `authly
// kubectl`) it is the kubectl plugin `kubectl authly`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, name := newRootCommand(), "authly"
	if invokedAsPlugin(os.Args[0]) {
		// kubectl runs `kubectl authly ...` as kubectl-authly, a symlink to or copy of this
		// binary (`make plugin`).
		root, name = newPluginCommand(), "kubectl authly"
	}
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "authly",
		Short:         "Authly: an OAuth 2.1 / OpenID Connect server and its Kubernetes operator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand())
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands are registered by the files that define them, so that main.go stays small.
var subcommands []func() *cobra.Command

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "authly %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
			return err
		},
	}
}

// buildCommit is the commit given at link time, else the one the Go toolchain stamped.
func buildCommit() string {
	if commit != "" {
		return commit
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
