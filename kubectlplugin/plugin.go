/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package kubectlplugin is `kubectl authly`, a kubectl plugin for the Authly operator: the
// status of AuthServers, a client_credentials token for an OAuthClient, a client secret
// rotation followed to its end, and the operator's capacity planner run offline.
//
// It is built on k8s.io/cli-runtime, so --kubeconfig, --context, --namespace and the other
// connection flags mean exactly what they mean to kubectl. The `authly` binary runs it when
// it is invoked as kubectl-authly (a symlink or copy on the PATH) and as `authly kubectl`.
package kubectlplugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// Config is what the commands need from their caller.
type Config struct {
	// Flags are kubectl's connection flags; the root command registers them.
	Flags *genericclioptions.ConfigFlags
	// Streams are standard input, output and error; nil ones are the parent command's.
	Streams genericiooptions.IOStreams
	// Clock tells the time for ages, rotation requests and grace periods; nil means the
	// real clock.
	Clock clock.WithTicker
}

// NewCommand is the root command, `kubectl authly`, with its subcommands. The connection
// flags are registered on it as kubectl registers them.
func NewCommand(cfg Config) *cobra.Command {
	if cfg.Flags == nil {
		cfg.Flags = genericclioptions.NewConfigFlags(true)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	root := &cobra.Command{
		Use:   "kubectl-authly",
		Short: "Inspect and operate Authly AuthServers and OAuthClients",
		Long: `kubectl authly inspects and operates the Authly operator's resources: the status of an
AuthServer, a token for an OAuthClient, a client secret rotation, and the capacity planner.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl authly"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Streams left nil are the parent command's (`authly kubectl`), else the process's.
	if cfg.Streams.In != nil {
		root.SetIn(cfg.Streams.In)
	}
	if cfg.Streams.Out != nil {
		root.SetOut(cfg.Streams.Out)
	}
	if cfg.Streams.ErrOut != nil {
		root.SetErr(cfg.Streams.ErrOut)
	}
	cfg.Flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newStatusCommand(&cfg),
		newTokenCommand(&cfg),
		newRotateCommand(&cfg),
		newPlanCommand(&cfg),
	)
	return root
}

// clients are what the commands talk to the cluster with.
type clients struct {
	rest      *rest.Config
	client    client.WithWatch
	namespace string
}

// scheme holds the kinds the plugin reads: Authly's and the core ones.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register the core kinds: %w", err)
	}
	if err := authlyv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// connect builds a client from the connection flags, and the namespace they select (the
// --namespace flag, else the context's, else "default"), as kubectl does.
func (cfg *Config) connect() (*clients, error) {
	rc, err := cfg.Flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cfg.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig namespace: %w", err)
	}
	s, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(rc, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return &clients{rest: rc, client: c, namespace: ns}, nil
}

func (cfg *Config) now() time.Time { return cfg.Clock.Now() }
