/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

func parseOperatorFlags(t *testing.T, args ...string) *operatorOptions {
	t.Helper()
	opts := &operatorOptions{}
	fs := pflag.NewFlagSet("operator", pflag.ContinueOnError)
	opts.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return opts
}

func TestOperatorNamespacesFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // nil: every namespace
	}{
		{"default watches all", nil, nil},
		{"comma list", []string{"--namespaces", "team-a,team-b"}, []string{"team-a", "team-b"}},
		{"repeated, spaces and empties", []string{"--namespaces=team-a, team-b,", "--namespaces", "team-c"}, []string{"team-a", "team-b", "team-c"}},
		{"only empties is all", []string{"--namespaces="}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mo := parseOperatorFlags(t, tt.args...).managerOptions(runtime.NewScheme())
			got := mo.Cache.DefaultNamespaces
			if tt.want == nil {
				if got != nil {
					t.Errorf("DefaultNamespaces = %v, want nil (all namespaces)", got)
				}
				return
			}
			var names []string
			for ns := range got {
				names = append(names, ns)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("DefaultNamespaces = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestOperatorFlagDefaults(t *testing.T) {
	t.Setenv("AUTHLY_IMAGE", "registry.example.com/authly:1.2.3")
	opts := parseOperatorFlags(t)
	mo := opts.managerOptions(runtime.NewScheme())
	if mo.Metrics.BindAddress != ":8080" || mo.HealthProbeBindAddress != ":8081" {
		t.Errorf("metrics %q probes %q", mo.Metrics.BindAddress, mo.HealthProbeBindAddress)
	}
	if mo.Cache.DefaultTransform == nil {
		t.Error("the cache keeps managedFields")
	}
	if mo.PprofBindAddress != "" {
		t.Errorf("pprof is served on %q by default, want off", mo.PprofBindAddress)
	}
	if mo.LeaderElection || mo.LeaderElectionID != "authly-operator-lock.authly.dev" {
		t.Errorf("leader election %v id %q", mo.LeaderElection, mo.LeaderElectionID)
	}
	if opts.image != "registry.example.com/authly:1.2.3" {
		t.Errorf("image = %q, want $AUTHLY_IMAGE", opts.image)
	}

	opts = parseOperatorFlags(t, "--leader-elect", "--metrics-bind-address=0", "--image=img:x", "--resync-period=90s", "--pprof-bind-address=127.0.0.1:6060")
	mo = opts.managerOptions(runtime.NewScheme())
	if !mo.LeaderElection || mo.Metrics.BindAddress != "0" || mo.PprofBindAddress != "127.0.0.1:6060" || opts.image != "img:x" || opts.resyncPeriod.Seconds() != 90 {
		t.Errorf("flags not applied: %+v", opts)
	}

	// Outside a pod, with neither --image nor $AUTHLY_IMAGE, the release image. (Inside a
	// pod the operator's own image: make e2e checks it on a real node, where the image is
	// swapped with kustomize.)
	t.Setenv("AUTHLY_IMAGE", "")
	t.Setenv("POD_NAME", "")
	opts = parseOperatorFlags(t)
	if err := opts.resolveImage(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if got := opts.image; got != "ghcr.io/authly-dev/authly:"+version() {
		t.Errorf("default image %q", got)
	}
}

// The client-side rate limits come from the flags, not from client-go's defaults (5 requests
// a second when a kubeconfig sets none), which make 1,000 OAuthClients take minutes.
func TestOperatorRateLimits(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		qps   float32
		burst int
	}{
		{nil, 200, 400},
		{[]string{"--kube-api-qps=50", "--kube-api-burst=80"}, 50, 80},
	} {
		cfg, err := parseOperatorFlags(t, append([]string{"--kubeconfig", kubeconfig}, tt.args...)...).restConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "https://127.0.0.1:6443" || cfg.QPS != tt.qps || cfg.Burst != tt.burst {
			t.Errorf("%v: host %q QPS %v burst %d, want QPS %v burst %d", tt.args, cfg.Host, cfg.QPS, cfg.Burst, tt.qps, tt.burst)
		}
	}
}

func TestOperatorCommandIsRegistered(t *testing.T) {
	cmd, _, err := NewRoot().Find([]string{"operator"})
	if err != nil || cmd.Name() != "operator" {
		t.Fatalf("authly operator: %v", err)
	}
	for _, f := range []string{"metrics-bind-address", "health-probe-bind-address", "leader-elect", "kubeconfig", "namespaces", "image", "resync-period", "load-observe-interval", "scale-down-stabilization-window", "pprof-bind-address", "kube-api-qps", "kube-api-burst", "zap-log-level"} {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("no --%s", f)
		}
	}
}
