/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

import "testing"

func TestDatabaseURLKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{{"", "url"}, {"uri", "uri"}} {
		d := DatabaseSpec{SecretRef: DatabaseSecretRef{Name: "db", Key: tc.key}}
		if got := d.URLKey(); got != tc.want {
			t.Errorf("URLKey() with key %q = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestKeyEncryptionKeyRef(t *testing.T) {
	as := &AuthServer{}
	as.Name = "auth"
	if got, want := as.KeyEncryptionKeyRef(), (KeySecretRef{Name: "auth-kek", Key: "key"}); got != want {
		t.Errorf("generated: KeyEncryptionKeyRef() = %+v, want %+v", got, want)
	}
	as.Spec.KeyEncryptionKeySecretRef = &KeySecretRef{Name: "mine"}
	if got, want := as.KeyEncryptionKeyRef(), (KeySecretRef{Name: "mine", Key: "key"}); got != want {
		t.Errorf("named without key: KeyEncryptionKeyRef() = %+v, want %+v", got, want)
	}
	as.Spec.KeyEncryptionKeySecretRef.Key = "kek"
	if got, want := as.KeyEncryptionKeyRef(), (KeySecretRef{Name: "mine", Key: "kek"}); got != want {
		t.Errorf("named: KeyEncryptionKeyRef() = %+v, want %+v", got, want)
	}
}

func TestOAuthClientSecretName(t *testing.T) {
	oc := &OAuthClient{}
	oc.Name = "web"
	if got := oc.EffectiveSecretName(); got != "web-oauth" {
		t.Errorf("EffectiveSecretName() = %q, want web-oauth", got)
	}
	if name, ok := OAuthClientForDefaultSecret("web-oauth"); !ok || name != "web" {
		t.Errorf("OAuthClientForDefaultSecret(web-oauth) = %q, %v, want web, true", name, ok)
	}
	for _, s := range []string{"-oauth", "web", "web-oauth-x"} {
		if _, ok := OAuthClientForDefaultSecret(s); ok {
			t.Errorf("OAuthClientForDefaultSecret(%q) = true, want false", s)
		}
	}
	oc.Spec.SecretName = "creds"
	if got := oc.EffectiveSecretName(); got != "creds" {
		t.Errorf("EffectiveSecretName() = %q, want creds", got)
	}
}
