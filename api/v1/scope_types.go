/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScopeSpec is an OAuth scope registered in an AuthServer's database.
type ScopeSpec struct {
	// authServerRef names the AuthServer, in this namespace, that the scope is registered
	// with. It cannot change.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="authServerRef is immutable"
	AuthServerRef ServerReference `json:"authServerRef"`

	// name is the scope as clients ask for it, a scope-token of RFC 6749 section 3.3 such
	// as "orders:read". It cannot change: tokens and clients refer to it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[\x21\x23-\x5B\x5D-\x7E]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="name is immutable: create a new Scope instead"
	Name string `json:"name"`

	// description is shown to the user on the consent page.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// default scopes are granted when a client asks for no scope.
	// +optional
	Default bool `json:"default,omitempty"`

	// deletionPolicy: Delete removes the scope from the database when this object is
	// deleted; Orphan leaves it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ScopeStatus is what the operator observed.
type ScopeStatus struct {
	// conditions: Ready, Reconciling, Stalled (the kstatus three).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastSyncTime is when the scope was last written to or checked against the database.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// databaseSecretName is the Secret holding the URL of the database the scope was
	// registered in (its AuthServer's spec.database.secretRef), so that deleting the scope
	// still reaches the database after the AuthServer is gone.
	// +optional
	DatabaseSecretName string `json:"databaseSecretName,omitempty"`
	// databaseSecretKey is the key of that Secret holding the URL.
	// +optional
	DatabaseSecretKey string `json:"databaseSecretKey,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=authly
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.authServerRef.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Scope is an OAuth scope of an AuthServer.
type Scope struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ScopeSpec `json:"spec"`
	// status is what the operator observed. It starts with observedGeneration 0, which no
	// generation has, so that an object the operator has not seen yet reads as "in
	// progress" to kstatus (Flux, Argo CD) rather than as done for want of conditions.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ScopeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ScopeList is a list of Scopes.
type ScopeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Scope `json:"items"`
}

func init() {
	register(&Scope{}, &ScopeList{})
}
