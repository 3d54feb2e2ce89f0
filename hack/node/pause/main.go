/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command pause is the sandbox ("pause") container of the e2e node's pods, the Go counterpart
// of Kubernetes' build/pause/linux/pause.c: containerd starts it first in every pod to hold the
// pod's namespaces, and it does nothing else. Packaged by hack/tools/image, since no registry
// is reachable to pull registry.k8s.io/pause.
//
// It is the pod's PID 1, which gives it two duties besides waiting:
//   - SIGINT and SIGTERM end it with status 0 (PID 1 gets no default signal handlers from the
//     kernel, so without handling them the pod would only stop on SIGKILL);
//   - orphaned processes of the pod are re-parented to it, so it reaps them on SIGCHLD, or
//     they would stay zombies until the pod goes.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every child that has exited. Signals coalesce, so one SIGCHLD can stand for
// several exits: wait until no exited child is left, without blocking on running ones.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
