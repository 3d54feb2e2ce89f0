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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "oauth.authly.dev", Version: "v1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme. It uses
	// only apimachinery, so that importing the API pulls in no controller machinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// knownTypes are the kinds each *_types.go file registers in its init.
	knownTypes []runtime.Object
)

// register records kinds for addKnownTypes.
func register(objects ...runtime.Object) { knownTypes = append(knownTypes, objects...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
