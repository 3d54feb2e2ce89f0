/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/clientkeys"
)

// maxJWKSSecretBytes bounds the JWK Set read from a Secret.
const maxJWKSSecretBytes = 64 << 10

// clientKeys is the JWK Set (JSON) a private_key_jwt client registers inline (spec.jwks)
// or in a Secret (spec.jwksSecretRef); nil for a client with a jwksUri or a secret. A
// Secret or key that is missing is a stalled requeue (InvalidSpec); the Secret is watched, so its
// creation or change is registered at once.
func (r *OAuthClientReconciler) clientKeys(ctx context.Context, oc *authlyv1.OAuthClient) ([]byte, error) {
	switch {
	case oc.Spec.JWKS != nil:
		raw, err := json.Marshal(oc.Spec.JWKS)
		if err != nil {
			return nil, fmt.Errorf("encoding spec.jwks: %w", err)
		}
		return raw, nil
	case oc.Spec.JWKSSecretRef != nil:
		ref := oc.Spec.JWKSSecretRef
		var s corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: oc.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			return nil, stalledf(authlyv1.ReasonInvalidSpec, "spec.jwksSecretRef: Secret %s does not exist", ref.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s (spec.jwksSecretRef): %w", ref.Name, err)
		}
		raw, ok := s.Data[ref.Key]
		if !ok || len(raw) == 0 {
			return nil, stalledf(authlyv1.ReasonInvalidSpec, "spec.jwksSecretRef: Secret %s has no key %q", ref.Name, ref.Key)
		}
		if len(raw) > maxJWKSSecretBytes {
			return nil, stalledf(authlyv1.ReasonInvalidSpec, "spec.jwksSecretRef: key %q of Secret %s holds more than %d bytes", ref.Key, ref.Name, maxJWKSSecretBytes)
		}
		return raw, nil
	}
	return nil, nil
}

// registeredKeys describes the keys of a JWK Set for status; nil when there is none.
func registeredKeys(jwks []byte) []authlyv1.RegisteredKey {
	if len(jwks) == 0 {
		return nil
	}
	set, err := clientkeys.Parse(jwks)
	if err != nil {
		return nil
	}
	out := make([]authlyv1.RegisteredKey, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = authlyv1.RegisteredKey{Kid: k.KID, Kty: k.Kty, Alg: k.Describe()}
	}
	return out
}

// sameJSON reports whether two JSON documents are equal as values: the database returns
// a JWK Set as jsonb writes it, with other spacing and member order.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
