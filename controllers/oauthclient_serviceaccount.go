/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
)

// oauthClientServiceAccountIndex indexes OAuthClients by spec.serviceAccountName, so that
// a ServiceAccount event finds the clients that authenticate with its tokens.
const oauthClientServiceAccountIndex = "oauthclient.spec.serviceAccountName"

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch

// serviceAccountSubject is the sub of a ServiceAccount's tokens.
func serviceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// desiredServiceAccountClient is the database row of an OAuthClient with a
// serviceAccountName: the row desiredClient makes, without a secret, authenticating with
// tokens of the cluster's issuer for the ServiceAccount with that uid (empty: none).
func desiredServiceAccountClient(oc *authlyv1.OAuthClient, clientID, issuer, uid string) (*store.Client, error) {
	c, err := desiredClient(oc, clientID, "", nil)
	if err != nil {
		return nil, err
	}
	c.TokenEndpointAuthMethod = registry.AuthServiceAccountJWT
	c.FederatedIssuer, c.FederatedSubject = issuer, serviceAccountSubject(oc.Namespace, oc.Spec.ServiceAccountName)
	c.ServiceAccountUID = uid
	if err := registry.NormalizeClient(c); err != nil {
		return nil, invalidClientSpec(oc, err)
	}
	return c, nil
}

// reconcileServiceAccountClient registers a client that authenticates with its
// ServiceAccount's tokens: the cluster's issuer and keys in the database, the client row
// with the ServiceAccount's current uid, no Secret. While the ServiceAccount does not
// exist the row has no uid (no token is accepted) and the client waits, Ready=False with
// reason ServiceAccountNotFound; its creation is watched.
func (r *OAuthClientReconciler) reconcileServiceAccountClient(ctx context.Context, oc *authlyv1.OAuthClient, db *serverDatabase) (ctrl.Result, error) {
	if req := pendingRotation(oc); req != "" {
		oc.Status.LastRotationRequest = req
		r.event(oc, corev1.EventTypeWarning, entryEventRotationSkipped, "a client that authenticates with its ServiceAccount's token has no secret to rotate")
	}
	issuer, err := syncIssuerKeys(ctx, db.store, r.ClusterIssuer, r.now(), defaultFederationRefresh)
	if err != nil {
		return ctrl.Result{}, waitingFor(authlyv1.ReasonIssuerUnavailable, err.Error(), 0)
	}
	clientID, err := r.clientID(oc)
	if err != nil {
		return ctrl.Result{}, err
	}
	var sa corev1.ServiceAccount
	err = r.Get(ctx, types.NamespacedName{Namespace: oc.Namespace, Name: oc.Spec.ServiceAccountName}, &sa)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("read ServiceAccount %s: %w", oc.Spec.ServiceAccountName, err)
	}
	uid := string(sa.UID)
	want, err := desiredServiceAccountClient(oc, clientID, issuer, uid)
	if err != nil {
		return ctrl.Result{}, err
	}
	cur, err := db.store.GetClient(ctx, want.ID)
	if errors.Is(err, store.ErrNotFound) {
		cur = nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("read client %s from the database: %w", want.ID, err)
	}
	if cur != nil && cur.ManagedBy != "" && cur.ManagedBy != want.ManagedBy {
		return ctrl.Result{}, stalledf(authlyv1.ReasonConflict,
			"client_id %s is already registered in the database by %q; the operator does not overwrite it: choose another spec.clientId, or remove that registration", want.ID, cur.ManagedBy)
	}
	var diff []string
	if cur != nil {
		diff = clientDiff(cur, want)
	}
	if cur == nil || len(diff) > 0 {
		if _, err := db.store.UpsertClient(ctx, want); err != nil {
			return ctrl.Result{}, fmt.Errorf("write client %s to the database: %w", want.ID, err)
		}
		r.serviceAccountClientWritten(oc, cur, want, diff)
	}
	oc.Status.ClientID = want.ID
	oc.Status.SecretName = ""
	oc.Status.CredentialsVersion, oc.Status.RotatedAt, oc.Status.PreviousSecretExpiresAt = 0, nil, nil
	oc.Status.ServiceAccountUID = uid
	now := metav1.NewTime(r.now())
	oc.Status.LastSyncTime = &now
	if uid == "" {
		return ctrl.Result{}, waitingFor(authlyv1.ReasonServiceAccountNotFound, fmt.Sprintf(
			"ServiceAccount %s/%s does not exist: client %s accepts no token until it does", oc.Namespace, oc.Spec.ServiceAccountName, want.ID), 0)
	}
	markReady(&oc.Status.Conditions, oc.Generation, authlyv1.ReasonSynced,
		fmt.Sprintf("client %s is registered in the database of AuthServer %s; it authenticates with tokens of ServiceAccount %s (uid %s) for audience %s",
			want.ID, db.server.Name, oc.Spec.ServiceAccountName, uid, db.server.Spec.Issuer))
	return resyncAfter(oc, r.resyncPeriod), nil
}

// serviceAccountClientWritten tells, in an event, what a write of the client row did.
func (r *OAuthClientReconciler) serviceAccountClientWritten(oc *authlyv1.OAuthClient, cur, want *store.Client, diff []string) {
	switch {
	case cur == nil:
		r.event(oc, corev1.EventTypeNormal, entryEventRegistered,
			fmt.Sprintf("registered client %s in the database of AuthServer %s, authenticating with ServiceAccount %s's tokens", want.ID, oc.Spec.AuthServerRef.Name, oc.Spec.ServiceAccountName))
	case cur.ServiceAccountUID != want.ServiceAccountUID && want.ServiceAccountUID != "":
		r.event(oc, corev1.EventTypeNormal, entryEventUpdated,
			fmt.Sprintf("client %s now accepts tokens of ServiceAccount %s with uid %s only", want.ID, oc.Spec.ServiceAccountName, want.ServiceAccountUID))
	case cur.ServiceAccountUID != want.ServiceAccountUID:
		r.event(oc, corev1.EventTypeWarning, authlyv1.ReasonServiceAccountNotFound,
			fmt.Sprintf("ServiceAccount %s is gone: client %s accepts no token until it exists again", oc.Spec.ServiceAccountName, want.ID))
	default:
		r.event(oc, corev1.EventTypeNormal, entryEventUpdated,
			fmt.Sprintf("updated client %s in the database: %s", want.ID, strings.Join(diff, ", ")))
	}
}
