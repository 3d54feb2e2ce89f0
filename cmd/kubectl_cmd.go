/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/authly-dev/authly-operator/kubectlplugin"
)

// pluginName is the name kubectl finds the plugin by on the PATH: `kubectl authly` runs
// kubectl-authly.
const pluginName = "kubectl-authly"

// invokedAsPlugin reports whether the binary was started as kubectl-authly (a symlink to or
// copy of authly), in which case it is the plugin and nothing else.
func invokedAsPlugin(arg0 string) bool {
	return strings.TrimSuffix(filepath.Base(arg0), ".exe") == pluginName
}

// newPluginCommand is the plugin's root command on the process's standard streams.
func newPluginCommand() *cobra.Command {
	return kubectlplugin.NewCommand(kubectlplugin.Config{
		Flags:   genericclioptions.NewConfigFlags(true),
		Streams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
	})
}

// newKubectlCommand is `authly kubectl ...`, the plugin under the authly binary's own name,
// writing where the authly command does.
func newKubectlCommand() *cobra.Command {
	cmd := kubectlplugin.NewCommand(kubectlplugin.Config{Flags: genericclioptions.NewConfigFlags(true)})
	cmd.Use = "kubectl"
	cmd.Short = "The kubectl plugin (kubectl authly): status, token, rotate, plan"
	cmd.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "authly kubectl"}
	return cmd
}
