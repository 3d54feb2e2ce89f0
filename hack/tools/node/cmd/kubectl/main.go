/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command kubectl is the upstream kubectl (k8s.io/kubernetes/cmd/kubectl) of the same version
// as the node, so that `make e2e` does not depend on whichever kubectl the machine has.
package main

import (
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	// As upstream: kubectl sets its verbosity before parsing flags; a bad value is reported there.
	_, _ = logs.GlogSetter(cmd.GetLogVerbosity(os.Args))
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
