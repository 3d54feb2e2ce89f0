/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package v1 contains the API of the Authly operator: AuthServer, OAuthClient and Scope in
// the oauth.authly.dev group. The field names are a contract with users' manifests; add
// fields, rename none.
//
// +kubebuilder:object:generate=true
// +groupName=oauth.authly.dev
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "oauth.authly.dev", Version: "v1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
