/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command kube-apiserver is the upstream Kubernetes API server, built from the Go module
// proxy so that envtest has a real API server without downloading release binaries.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
