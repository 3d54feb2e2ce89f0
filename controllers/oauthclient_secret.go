/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/specs"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
)

// Keys of the credentials Secret.
const (
	credKeyClientID     = "client_id"
	credKeyClientSecret = "client_secret"
	credKeyIssuer       = "issuer"
	credKeyTokenURL     = "token_url"
	credKeyAuthorizeURL = "authorize_url"
	credKeyJWKSURL      = "jwks_url"
)

// SecretRotationAnnotation is the annotation, on a Secret the operator owns, that holds the
// rotate-secret request the Secret's client_secret answers. It is written together with the new secret, so
// that a reconcile interrupted between the Secret and the database finishes that rotation
// instead of issuing yet another secret.
const SecretRotationAnnotation = "oauth.authly.dev/rotation-request"

// Labels of the Secrets the operator writes.
const (
	credLabelManagedBy      = "app.kubernetes.io/managed-by"
	credLabelManagedByValue = "authly-operator"
)

// clientCredentials are the client_id and secret the Secret holds, which the database row
// must accept.
type clientCredentials struct {
	clientID string
	// secret is empty for a public client.
	secret string
	// rotation is the rotate-secret request that secret answers and that status has not
	// recorded yet; empty when no rotation is under way.
	rotation string
	// reissued says the Secret had no secret (deleted, or its key removed) and a new one
	// was written in this reconcile.
	reissued bool
}

// ensureSecret makes sure the Secret holds credentials and returns them. A Secret that
// exists with credentials is used as it is; one that this OAuthClient owns is completed
// (endpoint URLs, a missing secret, a rotation), one that it does not own is only read.
func (r *OAuthClientReconciler) ensureSecret(ctx context.Context, oc *authlyv1.OAuthClient, as *authlyv1.AuthServer) (*clientCredentials, error) {
	name := oc.EffectiveSecretName()
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: oc.Namespace, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return r.createSecret(ctx, oc, as)
	}
	if err != nil {
		return nil, fmt.Errorf("get Secret %s: %w", name, err)
	}
	owner := metav1.GetControllerOf(&s)
	if owner != nil && owner.UID == oc.UID {
		return r.updateOwnedSecret(ctx, oc, as, &s)
	}
	if owner != nil && owner.Kind == "OAuthClient" {
		if gv, err := schema.ParseGroupVersion(owner.APIVersion); err == nil && gv.Group == authlyv1.GroupVersion.Group {
			return nil, stalledf(authlyv1.ReasonSecretConflict, "Secret %s belongs to OAuthClient %s (uid %s): give this client another spec.secretName", name, owner.Name, owner.UID)
		}
	}
	return r.useForeignSecret(oc, &s)
}

// useForeignSecret reads credentials from a Secret that someone else wrote (Vault, External
// Secrets, a person) and leaves it untouched (hydra-maester #294).
func (r *OAuthClientReconciler) useForeignSecret(oc *authlyv1.OAuthClient, s *corev1.Secret) (*clientCredentials, error) {
	id, secret := string(s.Data[credKeyClientID]), string(s.Data[credKeyClientSecret])
	confidential := oc.HasClientSecret()
	if id == "" || (confidential && secret == "") {
		need := "client_id"
		if confidential {
			need = "client_id and client_secret"
		}
		return nil, stalledf(authlyv1.ReasonSecretConflict,
			"Secret %s (spec.secretName) exists, is not owned by this OAuthClient and does not hold %s: fill them in, delete the Secret so that the operator writes one, or name another in spec.secretName", s.Name, need)
	}
	if err := checkSecretClientID(oc, id); err != nil {
		return nil, err
	}
	if !confidential {
		secret = ""
	}
	if req := pendingRotation(oc); req != "" {
		oc.Status.LastRotationRequest = req
		r.event(oc, corev1.EventTypeWarning, entryEventRotationSkipped,
			fmt.Sprintf("Secret %s is not written by the operator: rotate the secret where it comes from; the database follows the Secret", s.Name))
	}
	return &clientCredentials{clientID: id, secret: secret}, nil
}

// createSecret writes a new Secret, owned by the OAuthClient, with a client_id and (for a
// confidential client) a new secret. It is written before the database row: a crash in
// between leaves credentials that the next reconcile registers.
func (r *OAuthClientReconciler) createSecret(ctx context.Context, oc *authlyv1.OAuthClient, as *authlyv1.AuthServer) (*clientCredentials, error) {
	id, err := r.clientID(oc)
	if err != nil {
		return nil, err
	}
	creds := &clientCredentials{clientID: id}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      oc.EffectiveSecretName(),
			Namespace: oc.Namespace,
			Labels:    map[string]string{credLabelManagedBy: credLabelManagedByValue},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{credKeyClientID: []byte(id)},
	}
	if oc.HasClientSecret() {
		if creds.secret, err = credentials.NewClientSecret(r.Rand); err != nil {
			return nil, err
		}
		s.Data[credKeyClientSecret] = []byte(creds.secret)
		if req := pendingRotation(oc); req != "" {
			s.Annotations = map[string]string{SecretRotationAnnotation: req}
			creds.rotation = req
		}
	}
	setEndpointKeys(s.Data, as)
	if err := controllerutil.SetControllerReference(oc, s, r.Scheme); err != nil {
		return nil, fmt.Errorf("own Secret %s: %w", s.Name, err)
	}
	if err := r.Create(ctx, s); err != nil {
		return nil, fmt.Errorf("create Secret %s: %w", s.Name, err)
	}
	if oc.Status.ClientID != "" {
		creds.reissued = true
		r.event(oc, corev1.EventTypeNormal, entryEventSecretRecreated,
			fmt.Sprintf("Secret %s was missing: wrote it again for client %s with a new client secret; the database follows", s.Name, id))
	}
	return creds, nil
}

// updateOwnedSecret completes a Secret this OAuthClient owns: the endpoint URLs, a new
// secret when a rotation is asked for or the secret was removed, the labels. A
// client_secret someone edited is kept: the database follows it (hydra-maester #59).
func (r *OAuthClientReconciler) updateOwnedSecret(ctx context.Context, oc *authlyv1.OAuthClient, as *authlyv1.AuthServer, s *corev1.Secret) (*clientCredentials, error) {
	id := string(s.Data[credKeyClientID])
	if id != "" {
		if err := checkSecretClientID(oc, id); err != nil {
			return nil, err
		}
	} else {
		var err error
		if id, err = r.clientID(oc); err != nil {
			return nil, err
		}
	}
	creds := &clientCredentials{clientID: id, secret: string(s.Data[credKeyClientSecret])}
	desired := s.DeepCopy()
	if desired.Data == nil {
		desired.Data = map[string][]byte{}
	}
	desired.Data[credKeyClientID] = []byte(id)
	req := pendingRotation(oc)
	if !oc.HasClientSecret() {
		creds.secret = ""
		delete(desired.Data, credKeyClientSecret)
		if req != "" {
			oc.Status.LastRotationRequest = req
			r.event(oc, corev1.EventTypeWarning, entryEventRotationSkipped,
				"a public or private_key_jwt client has no secret to rotate (a private_key_jwt client rotates its keys)")
		}
	} else {
		switch {
		case req != "" && s.Annotations[SecretRotationAnnotation] == req:
			// Written by an earlier reconcile that did not get as far as the status.
			creds.rotation = req
		case req != "" || creds.secret == "":
			secret, err := credentials.NewClientSecret(r.Rand)
			if err != nil {
				return nil, err
			}
			creds.reissued = req == ""
			creds.secret = secret
			desired.Data[credKeyClientSecret] = []byte(secret)
			if req != "" {
				creds.rotation = req
				if desired.Annotations == nil {
					desired.Annotations = map[string]string{}
				}
				desired.Annotations[SecretRotationAnnotation] = req
			}
		}
	}
	setEndpointKeys(desired.Data, as)
	if desired.Labels == nil {
		desired.Labels = map[string]string{}
	}
	desired.Labels[credLabelManagedBy] = credLabelManagedByValue
	if !equality.Semantic.DeepEqual(s.Data, desired.Data) || !maps.Equal(s.Labels, desired.Labels) || !maps.Equal(s.Annotations, desired.Annotations) {
		// Update carries the resourceVersion read: if the Secret changed since (or the
		// cache was behind), the write fails and the reconcile starts again.
		if err := r.Update(ctx, desired); err != nil {
			return nil, fmt.Errorf("update Secret %s: %w", desired.Name, err)
		}
	}
	if creds.reissued {
		r.event(oc, corev1.EventTypeNormal, entryEventSecretRecreated,
			fmt.Sprintf("Secret %s had no client_secret: wrote a new one for client %s; the database follows", s.Name, id))
	}
	return creds, nil
}

// releaseSecret removes this OAuthClient's controller reference from its Secret, so that
// the Secret outlives it (policy Orphan: the client stays in the database, and its
// credentials must stay somewhere).
func (r *OAuthClientReconciler) releaseSecret(ctx context.Context, oc *authlyv1.OAuthClient) error {
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: oc.Namespace, Name: oc.EffectiveSecretName()}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get Secret %s: %w", oc.EffectiveSecretName(), err)
	}
	refs := make([]metav1.OwnerReference, 0, len(s.OwnerReferences))
	for _, ref := range s.OwnerReferences {
		if ref.UID != oc.UID {
			refs = append(refs, ref)
		}
	}
	if len(refs) == len(s.OwnerReferences) {
		return nil
	}
	s.OwnerReferences = refs
	if err := r.Update(ctx, &s); err != nil {
		return fmt.Errorf("release Secret %s: %w", s.Name, err)
	}
	return nil
}

// checkSecretClientID refuses a Secret whose client_id is not the one the spec asks for or
// the one this OAuthClient registered.
func checkSecretClientID(oc *authlyv1.OAuthClient, id string) error {
	name := oc.EffectiveSecretName()
	if oc.Spec.ClientID != "" && id != oc.Spec.ClientID {
		return stalledf(authlyv1.ReasonSecretConflict, "Secret %s holds client_id %q but spec.clientId is %q: correct the Secret, or delete it so that the operator writes one", name, id, oc.Spec.ClientID)
	}
	if oc.Status.ClientID != "" && id != oc.Status.ClientID {
		return stalledf(authlyv1.ReasonSecretConflict, "Secret %s (spec.secretName) holds client_id %q but this OAuthClient registered %q: restore the Secret, or delete it so that the operator writes one", name, id, oc.Status.ClientID)
	}
	return nil
}

// clientID is the client_id of a new Secret: the spec's, else the one registered before
// (the Secret was deleted), else a new random one.
func (r *OAuthClientReconciler) clientID(oc *authlyv1.OAuthClient) (string, error) {
	if oc.Spec.ClientID != "" {
		return oc.Spec.ClientID, nil
	}
	if oc.Status.ClientID != "" {
		return oc.Status.ClientID, nil
	}
	return registry.NewClientID(r.Rand)
}

// pendingRotation is the rotate-secret annotation's value when it asks for a rotation not
// yet carried out, else "".
func pendingRotation(oc *authlyv1.OAuthClient) string {
	req := oc.Annotations[authlyv1.RotateSecretAnnotation]
	if req == "" || req == oc.Status.LastRotationRequest {
		return ""
	}
	return req
}

// setEndpointKeys writes the server's URLs, derived from the AuthServer's issuer and the
// server's own paths, into a Secret's data.
func setEndpointKeys(data map[string][]byte, as *authlyv1.AuthServer) {
	ep := specs.Endpoints(as.Spec.Issuer)
	data[credKeyIssuer] = []byte(as.Spec.Issuer)
	data[credKeyTokenURL] = []byte(ep.Token)
	data[credKeyAuthorizeURL] = []byte(ep.Authorize)
	data[credKeyJWKSURL] = []byte(ep.JWKS)
}
