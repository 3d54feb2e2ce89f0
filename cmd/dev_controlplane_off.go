//go:build !devcontrolplane

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"errors"
	"log/slog"
)

// localControlPlane is absent from the production build: see dev_controlplane.go.
type localControlPlane struct{ kubeconfig string }

var errNoControlPlane = errors.New("this authly binary is built without the local control plane " +
	"(it links test tooling, so only the development build has it): `make run` builds bin/authly-dev with -tags devcontrolplane")

func startControlPlane(context.Context, string, string, string, string, *slog.Logger) (*localControlPlane, error) {
	return nil, errNoControlPlane
}

// Stop does nothing: no control plane was started.
func (*localControlPlane) Stop() {}
