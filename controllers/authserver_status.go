/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
)

// Reasons of the AuthServer's conditions beyond the shared ones in api/v1.
const (
	reasonKEKNotFound       = "KeyEncryptionKeyNotFound"
	reasonTLSSecretNotFound = "TLSSecretNotFound"
	reasonApplyFailed       = "ApplyFailed"
	reasonProgressDeadline  = "ProgressDeadlineExceeded"
	// reasonReconcileFailed: a step failed for a reason that may pass (the API server
	// answered with an error); the message has it, and the reconcile is retried.
	reasonReconcileFailed = "ReconcileFailed"
)

// maxRecommendations bounds the autoscaler history kept in status (the CRD's maxItems).
const maxRecommendations = 60

// setDeploymentStatus fills replicas, readyReplicas and the Ready, Reconciling, Stalled,
// Progressing and Degraded conditions from the server's Deployment (nil when there is none
// yet). desired is the replica count the plan asks for. Ready is True only once the
// rollout of the current spec is complete and every replica is available, so that
// `kubectl wait --for=condition=Ready` and GitOps tools wait for the whole rollout, as
// kstatus does for a Deployment; readyReplicas tells how many pods serve meanwhile.
func setDeploymentStatus(as *authlyv1.AuthServer, dep *appsv1.Deployment, desired int32) {
	st := &as.Status
	gen := as.Generation
	st.Replicas = desired
	if dep == nil {
		st.ReadyReplicas = 0
		markReconciling(&st.Conditions, gen, authlyv1.ReasonDeploymentProgressing, "the server's Deployment is not created yet")
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionTrue, authlyv1.ReasonDeploymentProgressing, "creating the server's Deployment")
		return
	}
	ds := dep.Status
	st.ReadyReplicas = ds.ReadyReplicas
	observed := ds.ObservedGeneration >= dep.Generation
	rolledOut := observed && ds.UpdatedReplicas >= desired && ds.Replicas == ds.UpdatedReplicas
	available := observed && ds.AvailableReplicas >= desired && ds.ReadyReplicas >= desired
	replicasMsg := fmt.Sprintf("%d of %d replicas ready", ds.ReadyReplicas, desired)
	rolloutMsg := fmt.Sprintf("rolling out: %d of %d replicas updated, %d available", ds.UpdatedReplicas, desired, ds.AvailableReplicas)

	if rolledOut && available {
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionFalse, authlyv1.ReasonReconciled,
			fmt.Sprintf("%d replicas at the current spec", desired))
	} else {
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionTrue, authlyv1.ReasonDeploymentProgressing, rolloutMsg)
	}
	for _, c := range ds.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			// The Deployment controller gave up (pods that never start, an image that
			// cannot be pulled): kstatus reads such a Deployment as Failed, and so this.
			msg := "the server's rollout made no progress within its deadline: " + c.Message
			markStalled(&st.Conditions, gen, reasonProgressDeadline, msg)
			setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionTrue, reasonProgressDeadline, msg)
			return
		}
	}
	switch {
	case rolledOut && available:
		markReady(&st.Conditions, gen, authlyv1.ReasonDeploymentAvailable, replicasMsg)
	case !available:
		markReconciling(&st.Conditions, gen, authlyv1.ReasonDeploymentUnavailable, replicasMsg)
	default:
		markReconciling(&st.Conditions, gen, authlyv1.ReasonDeploymentProgressing, rolloutMsg)
	}
	setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionFalse, authlyv1.ReasonReconciled, "every step succeeded")
}

// setWaiting records that the reconcile stopped at a prerequisite that will come without a
// change of spec (a database that is down, a Secret not created yet): Reconciling and not
// Ready for that reason, and Degraded if the server used to be ready.
func setWaiting(as *authlyv1.AuthServer, reason, message string) {
	st := &as.Status
	gen := as.Generation
	wasReady := meta.IsStatusConditionTrue(st.Conditions, authlyv1.ConditionReady) ||
		meta.IsStatusConditionTrue(st.Conditions, authlyv1.ConditionDegraded)
	markReconciling(&st.Conditions, gen, reason, message)
	setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionFalse, reason, "waiting: "+message)
	if wasReady {
		setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionTrue, reason, message)
	} else {
		setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionFalse, reason, "not running yet: "+message)
	}
}

// setStalled records that the reconcile cannot go on until a person changes the spec or an
// object it names: Stalled, not Ready, Degraded, not Progressing.
func setStalled(as *authlyv1.AuthServer, reason, message string) {
	st := &as.Status
	gen := as.Generation
	markStalled(&st.Conditions, gen, reason, message)
	setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionTrue, reason, message)
	setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionFalse, reason, message)
}

// specFieldErrors says what is wrong with a spec in one message, each field named by its
// path from the object (spec.capacity.minReplicas), as the capacity planner reports
// paths under spec.
func specFieldErrors(err error) string {
	return capacity.DescribeErrors(err, func(field string) string { return "spec." + field })
}

// setCapacityLimited records whether maxReplicas or the connection budget binds.
func setCapacityLimited(as *authlyv1.AuthServer, limitedBy, message string) {
	st := &as.Status
	switch limitedBy {
	case "maxReplicas":
		setCondition(&st.Conditions, as.Generation, authlyv1.ConditionCapacityLimited, metav1.ConditionTrue, authlyv1.ReasonMaxReplicas, message)
	case "connectionBudget":
		setCondition(&st.Conditions, as.Generation, authlyv1.ConditionCapacityLimited, metav1.ConditionTrue, authlyv1.ReasonConnectionBudget, message)
	default:
		setCondition(&st.Conditions, as.Generation, authlyv1.ConditionCapacityLimited, metav1.ConditionFalse, authlyv1.ReasonWithinLimits, message)
	}
}

// mergeCapacityStatus sets the new capacity status, keeping lastEvaluated unless something
// else in it changed, so that an idle reconcile writes nothing.
func mergeCapacityStatus(prev, next *authlyv1.CapacityStatus, now metav1.Time) *authlyv1.CapacityStatus {
	if n := len(next.Recommendations); n > maxRecommendations {
		next.Recommendations = next.Recommendations[n-maxRecommendations:]
	}
	if prev != nil {
		a, b := prev.DeepCopy(), next.DeepCopy()
		a.LastEvaluated, b.LastEvaluated = nil, nil
		if equality.Semantic.DeepEqual(a, b) {
			next.LastEvaluated = prev.LastEvaluated
			return next
		}
	}
	next.LastEvaluated = &now
	return next
}

var dsnPassword = regexp.MustCompile(`(?i)password\s*=\s*('[^']*'|\S+)`)

// redact removes a secret (a database URL, its password) from a message before it goes
// into a condition, an event or a log.
func redact(message, secret string) string {
	if secret == "" {
		return message
	}
	message = strings.ReplaceAll(message, secret, "[redacted]")
	if u, err := url.Parse(secret); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			message = strings.ReplaceAll(message, p, "[redacted]")
			message = strings.ReplaceAll(message, url.QueryEscape(p), "[redacted]")
			message = strings.ReplaceAll(message, url.PathEscape(p), "[redacted]")
		}
	}
	return dsnPassword.ReplaceAllString(message, "password=[redacted]")
}
