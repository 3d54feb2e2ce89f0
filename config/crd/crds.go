/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package crd carries the generated CustomResourceDefinitions (bases/, written by
// controller-gen) into the development build of authly, whose `authly dev` installs them
// without a checkout. The production binary does not import it.
package crd

import "embed"

// Bases holds bases/*.yaml.
//
//go:embed bases/*.yaml
var Bases embed.FS
