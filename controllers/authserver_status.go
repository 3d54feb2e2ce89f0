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
)

// Reasons of the AuthServer's conditions beyond the shared ones in api/v1.
const (
	reasonKEKNotFound       = "KeyEncryptionKeyNotFound"
	reasonTLSSecretNotFound = "TLSSecretNotFound"
	reasonApplyFailed       = "ApplyFailed"
	reasonProgressDeadline  = "ProgressDeadlineExceeded"
)

// maxRecommendations bounds the autoscaler history kept in status (the CRD's maxItems).
const maxRecommendations = 60

// setDeploymentStatus fills replicas, readyReplicas and the Ready, Progressing and Degraded
// conditions from the server's Deployment (nil when there is none yet). desired is the
// replica count the plan asks for.
func setDeploymentStatus(as *authlyv1.AuthServer, dep *appsv1.Deployment, desired int32) {
	st := &as.Status
	gen := as.Generation
	st.Replicas = desired
	if dep == nil {
		st.ReadyReplicas = 0
		setCondition(&st.Conditions, gen, authlyv1.ConditionReady, metav1.ConditionFalse, authlyv1.ReasonDeploymentProgressing, "the server's Deployment is not created yet")
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionTrue, authlyv1.ReasonDeploymentProgressing, "creating the server's Deployment")
		return
	}
	ds := dep.Status
	st.ReadyReplicas = ds.ReadyReplicas
	observed := ds.ObservedGeneration >= dep.Generation
	rolledOut := observed && ds.UpdatedReplicas >= desired && ds.Replicas == ds.UpdatedReplicas
	available := observed && ds.AvailableReplicas >= desired && ds.ReadyReplicas >= desired

	if available {
		setCondition(&st.Conditions, gen, authlyv1.ConditionReady, metav1.ConditionTrue, authlyv1.ReasonDeploymentAvailable,
			fmt.Sprintf("%d of %d replicas ready", ds.ReadyReplicas, desired))
	} else {
		setCondition(&st.Conditions, gen, authlyv1.ConditionReady, metav1.ConditionFalse, authlyv1.ReasonDeploymentUnavailable,
			fmt.Sprintf("%d of %d replicas ready", ds.ReadyReplicas, desired))
	}
	if rolledOut && available {
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionFalse, authlyv1.ReasonReconciled,
			fmt.Sprintf("%d replicas at the current spec", desired))
	} else {
		setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionTrue, authlyv1.ReasonDeploymentProgressing,
			fmt.Sprintf("rolling out: %d of %d replicas updated, %d available", ds.UpdatedReplicas, desired, ds.AvailableReplicas))
	}
	for _, c := range ds.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionTrue, reasonProgressDeadline,
				"the server's rollout made no progress within its deadline: "+c.Message)
			return
		}
	}
	setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionFalse, authlyv1.ReasonReconciled, "every step succeeded")
}

// setWaiting records that the reconcile stopped at a prerequisite (the database, a Secret):
// Ready is False for that reason, and Degraded is True if the server used to be ready.
func setWaiting(as *authlyv1.AuthServer, reason, message string) {
	st := &as.Status
	gen := as.Generation
	wasReady := meta.IsStatusConditionTrue(st.Conditions, authlyv1.ConditionReady) ||
		meta.IsStatusConditionTrue(st.Conditions, authlyv1.ConditionDegraded)
	setCondition(&st.Conditions, gen, authlyv1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(&st.Conditions, gen, authlyv1.ConditionProgressing, metav1.ConditionFalse, reason, "waiting: "+message)
	if wasReady {
		setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionTrue, reason, message)
	} else {
		setCondition(&st.Conditions, gen, authlyv1.ConditionDegraded, metav1.ConditionFalse, reason, "not running yet: "+message)
	}
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
