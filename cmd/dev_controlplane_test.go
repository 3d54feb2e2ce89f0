//go:build devcontrolplane

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import "testing"

// The development build carries the three CRDs of config/crd/bases.
func TestEmbeddedCRDs(t *testing.T) {
	crds, err := embeddedCRDs()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, c := range crds {
		kinds[c.Spec.Names.Kind] = true
	}
	for _, k := range []string{"AuthServer", "OAuthClient", "Scope"} {
		if !kinds[k] {
			t.Errorf("embedded CRDs lack %s (have %v)", k, kinds)
		}
	}
}
