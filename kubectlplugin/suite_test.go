/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/authly-dev/authly-operator/server/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the commands print")

// The real kube-apiserver every test talks to, and a kubeconfig file for it with two
// contexts: "envtest" (no namespace) and "envtest-status" (namespace plugin-status).
var (
	restCfg    *rest.Config
	kubeconfig string
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// `make test` sets it; point at the pinned build for a plain `go test`.
		_ = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join("..", "bin", "k8s"))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "envtest: cannot start kube-apiserver and etcd from %s (run `make envtest`): %v\n", os.Getenv("KUBEBUILDER_ASSETS"), err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "kubectl-authly-test-")
	if err == nil {
		kubeconfig = filepath.Join(dir, "kubeconfig")
		err = writeKubeconfig(kubeconfig, restCfg)
	}
	storetest.OnTeardown(func() {
		_ = env.Stop()
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	storetest.Main(m)
}

// writeKubeconfig writes a kubeconfig file for the API server, as a user has one.
func writeKubeconfig(path string, rc *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: rc.CertData, ClientKeyData: rc.KeyData, Token: rc.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.Contexts["envtest-status"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: statusNamespace}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// testClient reads and writes the API server directly.
func testClient(t *testing.T) client.Client {
	t.Helper()
	s, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(restCfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// result is what a command printed.
type result struct {
	stdout, stderr string
	err            error
}

// run runs `kubectl authly ARGS...` against the test API server, with --kubeconfig given
// as a user gives it, and the clock clk (nil: the real one).
func run(t *testing.T, ctx context.Context, clk clock.WithTicker, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(Config{
		Flags:   genericclioptions.NewConfigFlags(true),
		Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Clock:   clk,
	})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	err := cmd.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// mustRun is run that fails the test when the command fails.
func mustRun(t *testing.T, clk clock.WithTicker, args ...string) result {
	t.Helper()
	r := run(t, context.Background(), clk, args...)
	if r.err != nil {
		t.Fatalf("kubectl authly %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// golden compares got with testdata/NAME.golden, or rewrites that file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the tests with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

// eventually polls cond until it returns nil, failing the test with its last error after
// 30 seconds (a bound on a hang, not a timed assertion).
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
