/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command cluster is `make cluster`: the single-node cluster of `make e2e` left running, with
// the operator installed with the Helm chart (dist/chart) and a sample AuthServer on the
// host's Postgres, for people without Docker or kind. It prints the KUBECONFIG line; Ctrl-C tears it down.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authly-dev/authly-operator/hack/node"
)

func main() {
	var opts node.Options
	var repo, image, images string
	var teardown bool
	flag.StringVar(&opts.Dir, "dir", "/var/lib/authly-e2e", "the cluster's directory (removed on exit)")
	flag.StringVar(&opts.LogDir, "logs", "", "the components' logs (default: beside --dir)")
	flag.StringVar(&opts.K8sBin, "k8s-bin", "bin/k8s", "directory with etcd and kube-apiserver")
	flag.StringVar(&opts.NodeBin, "node-bin", "bin/node", "directory with kubelet, kube-proxy, kube-scheduler, kube-controller-manager, kubectl")
	flag.StringVar(&images, "images", "", "comma-separated image tarballs to import (the pause image among them)")
	flag.StringVar(&repo, "repo", ".", "the checkout, for dist/chart and bin/helm")
	flag.StringVar(&image, "image", "localhost/authly:dev", "the operator's image (imported from --images)")
	flag.BoolVar(&teardown, "teardown", false, "only remove what a killed run left behind, then exit")
	flag.Parse()
	if teardown {
		if err := node.Teardown(opts); err != nil {
			fmt.Fprintln(os.Stderr, "cluster: teardown:", err)
			os.Exit(1)
		}
		return
	}
	opts.Images = strings.Split(images, ",")
	opts.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, repo, image); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts node.Options, repo, image string) error {
	c, err := node.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Stop()
	pg, err := c.StartPostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := c.InstallOperator(ctx, repo, image); err != nil {
		return err
	}
	const ns = "demo"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	if err := c.ApplyAuthServer(ctx, pg, ns, "authly", "authly_demo", "  replicas: 1\n"); err != nil {
		return err
	}
	if err := c.WaitRollout(ctx, ns, "authly", 3*time.Minute); err != nil {
		return err
	}
	fmt.Printf(`
The cluster is up: a real node with the operator (namespace %s) and AuthServer %s/authly.

  export KUBECONFIG=%s
  kubectl get authservers,pods -A

Component logs: %s. Ctrl-C tears everything down.
`, node.OperatorNamespace, ns, c.Kubeconfig, c.LogDir())
	<-ctx.Done()
	return nil
}
