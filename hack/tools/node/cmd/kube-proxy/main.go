/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command kube-proxy is the upstream kube-proxy (k8s.io/kubernetes/cmd/kube-proxy), built from
// the Go module proxy for the single-node cluster of `make e2e` and `make cluster`.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
