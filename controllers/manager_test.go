/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// testScheme knows the built-in kinds and ours.
func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := authlyv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// managerOption changes how startManager runs its manager.
type managerOption func(*ctrl.Options, *func())

// inNamespace limits the manager's cache, and so its reconcilers, to one namespace, so
// that tests with managers of their own can run in parallel without reconciling each
// other's objects.
func inNamespace(ns string) managerOption {
	return func(o *ctrl.Options, _ *func()) {
		o.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}
	}
}

// stopWith sets *stop to a function that stops the manager before the test ends, to
// restart the operator in the middle of a test. Calling it again does nothing.
func stopWith(stop *func()) managerOption {
	return func(_ *ctrl.Options, s *func()) { *stop = *s }
}

// startManager runs a controller manager against the test API server with the reconcilers
// that setup registers, until the test ends. It returns a client that reads through the
// API server directly (not a cache), so assertions see the latest state.
func startManager(t *testing.T, setup func(mgr ctrl.Manager) error, opts ...managerOption) client.Client {
	t.Helper()
	s := testScheme(t)
	skipNameValidation := true
	options := ctrl.Options{
		Scheme:  s,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Several tests run managers side by side; controller names repeat.
		Controller: config.Controller{SkipNameValidation: &skipNameValidation},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("manager: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("manager did not stop within 30s")
			}
		})
	}
	for _, opt := range opts {
		opt(&options, &stop)
	}
	mgr, err := ctrl.NewManager(cfg, options)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(stop)
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it returns nil or the deadline passes, then fails with the
// last error. Reconciles are asynchronous; this is how tests wait for them.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
