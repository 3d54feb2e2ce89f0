package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
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
	if mo.LeaderElection || mo.LeaderElectionID != "authly-operator-lock.authly.dev" {
		t.Errorf("leader election %v id %q", mo.LeaderElection, mo.LeaderElectionID)
	}
	if opts.image != "registry.example.com/authly:1.2.3" {
		t.Errorf("image = %q, want $AUTHLY_IMAGE", opts.image)
	}

	opts = parseOperatorFlags(t, "--leader-elect", "--metrics-bind-address=0", "--image=img:x", "--resync-period=90s")
	mo = opts.managerOptions(runtime.NewScheme())
	if !mo.LeaderElection || mo.Metrics.BindAddress != "0" || opts.image != "img:x" || opts.resyncPeriod.Seconds() != 90 {
		t.Errorf("flags not applied: %+v", opts)
	}

	t.Setenv("AUTHLY_IMAGE", "")
	if got := defaultServerImage(); got != "ghcr.io/authly-dev/authly:"+version {
		t.Errorf("default image %q", got)
	}
}

func TestOperatorCommandIsRegistered(t *testing.T) {
	cmd, _, err := newRootCommand().Find([]string{"operator"})
	if err != nil || cmd.Name() != "operator" {
		t.Fatalf("authly operator: %v", err)
	}
	for _, f := range []string{"metrics-bind-address", "health-probe-bind-address", "leader-elect", "kubeconfig", "namespaces", "image", "resync-period", "zap-log-level"} {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("no --%s", f)
		}
	}
}
