/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package packaging holds the tests of what installs the operator (the kustomize bases
// under config/, the Makefile's image settings, the Dockerfile). They read files only, so
// they live apart from the controllers' tests, whose TestMain starts envtest and Postgres:
// `go test ./controllers/packaging` runs in seconds without a cluster or a database.
package packaging
