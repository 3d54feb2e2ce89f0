/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// defaultRotationGracePeriod applies when spec.secretRotationGracePeriod is unset (the
// schema defaults it to the same value).
const defaultRotationGracePeriod = 24 * time.Hour

// desiredClient is the database row an OAuthClient asks for, with the hash of secret and
// the private_key_jwt client's JWK Set jwks (see clientKeys), checked by the same rules as
// the admin CLI and API (registry.NormalizeClient). A spec the rules refuse is a stalled
// requeue (InvalidSpec) naming the spec field.
func desiredClient(oc *authlyv1.OAuthClient, clientID, secret string, jwks []byte) (*store.Client, error) {
	typ := store.Confidential
	if oc.Spec.Type == authlyv1.ClientPublic {
		typ = store.Public
	}
	grants := make([]string, len(oc.Spec.GrantTypes))
	for i, g := range oc.Spec.GrantTypes {
		grants[i] = string(g)
	}
	c := &store.Client{
		ID:                       clientID,
		Name:                     oc.Name,
		Type:                     typ,
		RedirectURIs:             slices.Clone(oc.Spec.RedirectURIs),
		PostLogoutRedirectURIs:   slices.Clone(oc.Spec.PostLogoutRedirectURIs),
		GrantTypes:               grants,
		Scopes:                   slices.Clone(oc.Spec.Scopes),
		TokenEndpointAuthMethod:  string(oc.EffectiveTokenEndpointAuthMethod()),
		FirstParty:               oc.Spec.FirstParty,
		IDTokenSignedResponseAlg: string(oc.Spec.IDTokenSignedResponseAlg),
		ManagedBy:                entryManagedBy(oc),
		JWKS:                     jwks,
		JWKSURI:                  oc.Spec.JWKSURI,
	}
	if oc.HasClientSecret() && secret != "" {
		c.SecretHash = credentials.HashSecret(secret)
	}
	if err := registry.NormalizeClient(c); err != nil {
		return nil, invalidClientSpec(oc, err)
	}
	return c, nil
}

// specFields maps the registry's field names to the OAuthClient's.
var specFields = map[string]string{
	"client_id":                    "spec.clientId",
	"client_type":                  "spec.type",
	"token_endpoint_auth_method":   "spec.tokenEndpointAuthMethod",
	"grant_types":                  "spec.grantTypes",
	"redirect_uris":                "spec.redirectUris",
	"post_logout_redirect_uris":    "spec.postLogoutRedirectUris",
	"scopes":                       "spec.scopes",
	"id_token_signed_response_alg": "spec.idTokenSignedResponseAlg",
	"jwks":                         "spec.jwks",
	"jwks_uri":                     "spec.jwksUri",
	"federated_subject":            "spec.serviceAccountName",
}

// invalidClientSpec turns the registry's field errors into one InvalidSpec message that
// names the spec fields.
func invalidClientSpec(oc *authlyv1.OAuthClient, err error) error {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		var fe *registry.FieldError
		if !errors.As(e, &fe) {
			msgs = append(msgs, e.Error())
			continue
		}
		field := fe.Field
		base, index, _ := strings.Cut(field, "[")
		if f, ok := specFields[base]; ok {
			field = f
			if index != "" {
				field += "[" + index
			}
		}
		if base == "jwks" && oc.Spec.JWKSSecretRef != nil {
			field = fmt.Sprintf("spec.jwksSecretRef (key %q of Secret %s)", oc.Spec.JWKSSecretRef.Key, oc.Spec.JWKSSecretRef.Name)
		}
		msgs = append(msgs, field+": "+fe.Reason)
	}
	return stalledf(authlyv1.ReasonInvalidSpec, "the server refuses this client: %s", strings.Join(msgs, "; "))
}

// syncClient writes the client row when it differs from what the spec and the Secret ask
// for, and records in status what the database now holds. A rotation keeps the previous
// secret's hash valid for the grace period; any other change of the secret (the Secret
// edited, or deleted and written again) replaces it at once.
func (r *OAuthClientReconciler) syncClient(ctx context.Context, oc *authlyv1.OAuthClient, st *store.Store, creds *clientCredentials, jwks []byte) error {
	want, err := desiredClient(oc, creds.clientID, creds.secret, jwks)
	if err != nil {
		return err
	}
	cur, err := st.GetClient(ctx, want.ID)
	if errors.Is(err, store.ErrNotFound) {
		cur = nil
	} else if err != nil {
		return err
	}
	if cur != nil && cur.ManagedBy != "" && cur.ManagedBy != want.ManagedBy {
		return stalledf(authlyv1.ReasonConflict,
			"client_id %s is already registered in the database by %q; the operator does not overwrite it: choose another spec.clientId, or remove that registration", want.ID, cur.ManagedBy)
	}

	now := r.now()
	secretChanged := cur != nil && !bytes.Equal(cur.SecretHash, want.SecretHash)
	if cur != nil && oc.HasClientSecret() {
		want.PreviousSecretHash, want.PreviousSecretExpiresAt = cur.PreviousSecretHash, cur.PreviousSecretExpiresAt
		if secretChanged && creds.rotation != "" {
			want.PreviousSecretHash, want.PreviousSecretExpiresAt = nil, time.Time{}
			grace, err := rotationGracePeriod(oc)
			if err != nil {
				return err
			}
			if grace > 0 && len(cur.SecretHash) > 0 {
				want.PreviousSecretHash, want.PreviousSecretExpiresAt = cur.SecretHash, now.Add(grace)
			}
		}
	}

	var diff []string
	if cur != nil {
		diff = clientDiff(cur, want)
	}
	if cur == nil || len(diff) > 0 {
		if _, err := st.UpsertClient(ctx, want); err != nil {
			return err
		}
		r.clientWritten(oc, cur, want, diff, secretChanged, creds)
	}

	// A private_key_jwt client is confidential but has no secret.
	confidential := oc.HasClientSecret()
	oc.Status.RegisteredKeys = registeredKeys(want.JWKS)
	switch {
	case !confidential:
		oc.Status.CredentialsVersion, oc.Status.RotatedAt = 0, nil
	case (cur == nil && oc.Status.CredentialsVersion == 0) || secretChanged || (cur != nil && creds.rotation != ""):
		// A secret was issued: the first, a rotation (also one whose database write
		// happened before a crash), a recreated or an edited one.
		oc.Status.CredentialsVersion++
		t := metav1.NewTime(now)
		oc.Status.RotatedAt = &t
	}
	oc.Status.PreviousSecretExpiresAt = nil
	if confidential && len(want.PreviousSecretHash) > 0 && want.PreviousSecretExpiresAt.After(now) {
		t := metav1.NewTime(want.PreviousSecretExpiresAt)
		oc.Status.PreviousSecretExpiresAt = &t
	}
	if creds.rotation != "" {
		if cur != nil {
			msg := fmt.Sprintf("issued a new client secret for client %s in Secret %s", want.ID, oc.EffectiveSecretName())
			if oc.Status.PreviousSecretExpiresAt != nil {
				msg += "; the previous one stays valid until " + oc.Status.PreviousSecretExpiresAt.UTC().Format(time.RFC3339)
			} else {
				msg += "; the previous one no longer works"
			}
			r.event(oc, corev1.EventTypeNormal, entryEventSecretRotated, msg)
		}
		oc.Status.LastRotationRequest = creds.rotation
	}
	return nil
}

// clientWritten tells, in an event, what a write of the client row did.
func (r *OAuthClientReconciler) clientWritten(oc *authlyv1.OAuthClient, cur, want *store.Client, diff []string, secretChanged bool, creds *clientCredentials) {
	switch {
	case cur == nil && oc.Status.ClientID != "" && oc.Status.CredentialsVersion > 0:
		r.event(oc, corev1.EventTypeNormal, entryEventDriftCorrected,
			fmt.Sprintf("client %s was missing from the database: registered it again", want.ID))
	case cur == nil:
		r.event(oc, corev1.EventTypeNormal, entryEventRegistered,
			fmt.Sprintf("registered client %s in the database of AuthServer %s", want.ID, oc.Spec.AuthServerRef.Name))
	default:
		others := slices.DeleteFunc(slices.Clone(diff), func(f string) bool { return f == "secret" || f == "previous secret" })
		if secretChanged && len(want.SecretHash) > 0 && creds.rotation == "" && !creds.reissued {
			r.event(oc, corev1.EventTypeNormal, entryEventSecretChanged,
				fmt.Sprintf("the client secret in the database did not match Secret %s: the database now follows the Secret", oc.EffectiveSecretName()))
		}
		if len(others) == 0 {
			return
		}
		if cur.ManagedBy == "" {
			r.event(oc, corev1.EventTypeNormal, entryEventRegistered,
				fmt.Sprintf("took over client %s, which was registered outside Kubernetes", want.ID))
			return
		}
		if !syncedAt(oc.Status.Conditions, oc.Generation) {
			r.event(oc, corev1.EventTypeNormal, entryEventUpdated,
				fmt.Sprintf("updated client %s in the database: %s", want.ID, strings.Join(others, ", ")))
			return
		}
		r.event(oc, corev1.EventTypeNormal, entryEventDriftCorrected,
			fmt.Sprintf("client %s in the database differed from the spec (%s), changed outside Kubernetes: put back", want.ID, strings.Join(others, ", ")))
	}
}

// clientDiff names the fields in which the database row cur differs from want.
func clientDiff(cur, want *store.Client) []string {
	var diff []string
	add := func(differs bool, field string) {
		if differs {
			diff = append(diff, field)
		}
	}
	add(cur.Name != want.Name, "name")
	add(cur.Type != want.Type, "type")
	add(!slices.Equal(cur.RedirectURIs, want.RedirectURIs), "redirectUris")
	add(!slices.Equal(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs), "postLogoutRedirectUris")
	add(!slices.Equal(cur.GrantTypes, want.GrantTypes), "grantTypes")
	add(!slices.Equal(cur.ResponseTypes, want.ResponseTypes), "responseTypes")
	add(!slices.Equal(cur.Scopes, want.Scopes), "scopes")
	add(cur.TokenEndpointAuthMethod != want.TokenEndpointAuthMethod, "tokenEndpointAuthMethod")
	add(cur.FirstParty != want.FirstParty, "firstParty")
	add(cur.IDTokenSignedResponseAlg != want.IDTokenSignedResponseAlg, "idTokenSignedResponseAlg")
	add(cur.ManagedBy != want.ManagedBy, "managedBy")
	add(!sameJSON(cur.JWKS, want.JWKS), "jwks")
	add(cur.JWKSURI != want.JWKSURI, "jwksUri")
	add(cur.FederatedIssuer != want.FederatedIssuer || cur.FederatedSubject != want.FederatedSubject, "serviceAccountName")
	add(cur.ServiceAccountUID != want.ServiceAccountUID, "serviceAccount uid")
	add(!bytes.Equal(cur.SecretHash, want.SecretHash), "secret")
	add(!bytes.Equal(cur.PreviousSecretHash, want.PreviousSecretHash) || !cur.PreviousSecretExpiresAt.Equal(want.PreviousSecretExpiresAt), "previous secret")
	return diff
}

// rotationGracePeriod is how long the previous secret stays valid after a rotation: the
// rotate-secret-grace-period annotation's, else the spec's. An annotation that is not a
// duration is a stalled requeue (InvalidSpec), checked before any new secret is written.
func rotationGracePeriod(oc *authlyv1.OAuthClient) (time.Duration, error) {
	if v, ok := oc.Annotations[authlyv1.RotateSecretGracePeriodAnnotation]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, stalledf(authlyv1.ReasonInvalidSpec, "annotation %s: %q is not a duration such as 1h or 0s",
				authlyv1.RotateSecretGracePeriodAnnotation, v)
		}
		return d, nil
	}
	if oc.Spec.SecretRotationGracePeriod == nil {
		return defaultRotationGracePeriod, nil
	}
	return max(oc.Spec.SecretRotationGracePeriod.Duration, 0), nil
}
