/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

import "strings"

// Defaults that the API promises (in field documentation and +kubebuilder:default
// markers). The apiserver fills the markers' defaults in on create, but an object built in
// Go, decoded from a file or stored before a default was added may still have the field
// empty: these methods are the one place that says what empty means.

const (
	// DefaultDatabaseURLKey is the key of the database Secret holding the connection URL
	// when spec.database.secretRef.key is empty.
	DefaultDatabaseURLKey = "url"
	// DefaultKeySecretKey is the key of a KeySecretRef's Secret when its key is empty, and
	// the key of the key-encryption key in the Secret the operator generates.
	DefaultKeySecretKey = "key"
	// OAuthClientSecretSuffix makes the default name of an OAuthClient's credentials
	// Secret: "<metadata.name>-oauth".
	OAuthClientSecretSuffix = "-oauth"
	// generatedKEKSuffix makes the name of the key-encryption-key Secret the operator
	// generates when spec.keyEncryptionKeySecretRef is not set: "<metadata.name>-kek".
	generatedKEKSuffix = "-kek"
)

// URLKey is the key of the database Secret holding the connection URL: secretRef.key, or
// DefaultDatabaseURLKey when it is empty.
func (d DatabaseSpec) URLKey() string {
	return d.SecretRef.KeyOrDefault()
}

// KeyOrDefault is key, or DefaultDatabaseURLKey when it is empty.
func (r DatabaseSecretRef) KeyOrDefault() string {
	if r.Key != "" {
		return r.Key
	}
	return DefaultDatabaseURLKey
}

// KeyOrDefault is key, or DefaultKeySecretKey when it is empty.
func (r KeySecretRef) KeyOrDefault() string {
	if r.Key != "" {
		return r.Key
	}
	return DefaultKeySecretKey
}

// GeneratedKeyEncryptionKeySecretName is the name of the Secret the operator generates the
// key-encryption key into when spec.keyEncryptionKeySecretRef is not set.
func (as *AuthServer) GeneratedKeyEncryptionKeySecretName() string {
	return as.Name + generatedKEKSuffix
}

// KeyEncryptionKeyRef is the Secret and key the server's key-encryption key is read from:
// spec.keyEncryptionKeySecretRef (its key defaulted), else the generated Secret. The
// result always has both fields set.
func (as *AuthServer) KeyEncryptionKeyRef() KeySecretRef {
	if ref := as.Spec.KeyEncryptionKeySecretRef; ref != nil {
		return KeySecretRef{Name: ref.Name, Key: ref.KeyOrDefault()}
	}
	return KeySecretRef{Name: as.GeneratedKeyEncryptionKeySecretName(), Key: DefaultKeySecretKey}
}

// EffectiveSecretName is spec.secretName, or "<name>-oauth" when it is empty.
func (c *OAuthClient) EffectiveSecretName() string {
	if c.Spec.SecretName != "" {
		return c.Spec.SecretName
	}
	return c.Name + OAuthClientSecretSuffix
}

// OAuthClientForDefaultSecret is the name of the OAuthClient whose default credentials
// Secret (spec.secretName empty) is named secretName, and whether there can be one.
func OAuthClientForDefaultSecret(secretName string) (string, bool) {
	name, ok := strings.CutSuffix(secretName, OAuthClientSecretSuffix)
	return name, ok && name != ""
}
