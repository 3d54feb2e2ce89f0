/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// setCondition records a condition for the object's current generation. The transition
// time changes only when the status flips, so `kubectl describe` tells how long a state
// has lasted (as cert-manager does).
func setCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            message,
	})
}

// ignoreNotFound is nil for a NotFound error (the object is gone: nothing to reconcile)
// and otherwise err with the step that failed, as "get OAuthClient: ...".
func ignoreNotFound(err error, step string) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}

// conditionTrue reports whether the condition is True.
func conditionTrue(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

// The three functions below keep every kind's status in one of the three states that
// kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), and with it Flux, Argo CD and
// `kubectl wait --for=condition=Ready`, tell apart. Exactly one of Ready, Reconciling and
// Stalled is True. Reconciling and Stalled are "abnormal-true" conditions: kstatus reads
// their absence as normal, so they are removed rather than set to False. The caller also
// sets status.observedGeneration to the generation, in the same status write.

// markReady records that the object does what its spec asks (kstatus Current).
func markReady(conds *[]metav1.Condition, generation int64, reason, message string) {
	setCondition(conds, generation, authlyv1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, authlyv1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, authlyv1.ConditionStalled)
}

// markReconciling records that work towards the spec is under way or waits for something
// that will come without a change of spec, such as a database that is down or an
// AuthServer not created yet (kstatus InProgress).
func markReconciling(conds *[]metav1.Condition, generation int64, reason, message string) {
	setCondition(conds, generation, authlyv1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(conds, generation, authlyv1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, authlyv1.ConditionStalled)
}

// markStalled records that the operator cannot go on until a person changes the spec or
// the objects it names (kstatus Failed). The message names the field to change.
func markStalled(conds *[]metav1.Condition, generation int64, reason, message string) {
	setCondition(conds, generation, authlyv1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(conds, generation, authlyv1.ConditionStalled, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conds, authlyv1.ConditionReconciling)
}
