/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// cfg is the real kube-apiserver (with etcd) that every test in this package talks to.
var cfg *rest.Config

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// `make test` sets it; point at the pinned build for a plain `go test`.
		_ = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join("..", "bin", "k8s"))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: false,
	}
	var err error
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: cannot start kube-apiserver and etcd from %s (run `make envtest`): %v\n", os.Getenv("KUBEBUILDER_ASSETS"), err)
		os.Exit(1)
	}
	// storetest.Main runs the tests and removes the test Postgres; stop the API server in
	// its teardown path too, so that Ctrl-C leaves no etcd or kube-apiserver behind.
	storetestMain(m, func() { _ = env.Stop() })
}

func storetestMain(m *testing.M, stop func()) {
	storetest.OnTeardown(stop)
	storetest.Main(m)
}

// newNamespace creates a namespace of its own for a test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func newClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The API server is real: an object written can be read back, with server-set fields.
func TestAPIServerRoundTrip(t *testing.T) {
	c := newClient(t)
	name := newNamespace(t, c)
	var got corev1.Namespace
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	if got.UID == "" || got.CreationTimestamp.IsZero() {
		t.Fatalf("namespace %s has no server-set uid or creation time: %+v", name, got.ObjectMeta)
	}
}
