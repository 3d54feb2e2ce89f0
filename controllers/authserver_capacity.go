/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/controllers/specs"
)

// DefaultObserveInterval is how often the observed load is read and the plan corrected,
// unless AuthServerReconciler.ObserveInterval says otherwise.
const DefaultObserveInterval = time.Minute

// LoadObserver reads the request rate an AuthServer's pods serve. ok is false when there is
// nothing to report yet (no ready pods, or a first sample that a rate needs a second one
// for).
type LoadObserver interface {
	ObservedRPS(ctx context.Context, as *authlyv1.AuthServer) (rps float64, ok bool, err error)
}

// history is the autoscaler's recommendations as the status keeps them.
func history(cs *authlyv1.CapacityStatus) []capacity.Recommendation {
	if cs == nil {
		return nil
	}
	out := make([]capacity.Recommendation, 0, len(cs.Recommendations))
	for _, r := range cs.Recommendations {
		out = append(out, capacity.Recommendation{Replicas: r.Replicas, At: r.Time.Time})
	}
	return out
}

// loadCorrection is what the observed load did to a plan.
type loadCorrection struct {
	plan            capacity.Plan
	recommendations []capacity.Recommendation
	lastObserved    *metav1.Time
}

// correctForLoad applies the observed load to a capacity-mode plan. The load is read at
// most every observe interval; between readings the last reading (and the recommendations
// within the stabilisation window, kept in status so a restart remembers them) still holds
// the replica count up.
func (r *AuthServerReconciler) correctForLoad(ctx context.Context, as *authlyv1.AuthServer, plan capacity.Plan) (loadCorrection, error) {
	prev := as.Status.Capacity
	out := loadCorrection{plan: plan}
	if r.Load == nil || !specs.CapacityMode(as) {
		return out, nil
	}
	now := r.Clock.Now()
	hist := history(prev)
	var lastRPS float64
	haveLast := false
	if prev != nil && prev.LastObserved != nil && prev.ObservedRPS != "" {
		if v, err := capacity.ParseDecimal("status.capacity.observedRPS", prev.ObservedRPS); err == nil {
			lastRPS, haveLast = v, true
		}
		out.lastObserved = prev.LastObserved
	}
	due := out.lastObserved == nil || now.Sub(out.lastObserved.Time) >= r.ObserveInterval
	if due {
		rps, ok, err := r.Load.ObservedRPS(ctx, as)
		if err != nil {
			// A failed reading changes nothing: the last one keeps holding below.
			r.Recorder.Eventf(as, corev1.EventTypeWarning, "LoadObservationFailed", "reading the pods' request rate: %v", err)
		} else if ok {
			raised, kept, err := r.Autoscaler.Raise(plan, rps, now, hist)
			if err != nil {
				return out, err
			}
			out.plan, out.recommendations = raised, kept
			out.lastObserved = &metav1.Time{Time: now}
			return out, nil
		}
	}
	out.recommendations = hist
	if haveLast {
		// The same answer as at the last reading, with today's bounds and window; the
		// recommendations are not extended by a reading that did not happen.
		raised, _, err := r.Autoscaler.Raise(plan, lastRPS, now, hist)
		if err != nil {
			return out, err
		}
		out.plan = raised
	}
	return out, nil
}

// capacityStatus is the plan as status shows it.
func capacityStatus(plan capacity.Plan, corr loadCorrection, capacityMode bool) *authlyv1.CapacityStatus {
	cs := &authlyv1.CapacityStatus{
		PlannedReplicas:  plan.PlannedReplicas,
		Replicas:         plan.Replicas,
		ConnectionBudget: plan.ConnectionBudget,
		PoolMinConns:     plan.PoolMinConns,
		PoolMaxConns:     plan.PoolMaxConns,
		LimitedBy:        string(plan.LimitedBy),
		Message:          plan.Message,
		LastObserved:     corr.lastObserved,
	}
	if capacityMode {
		cs.AverageRPS = capacity.FormatRate(plan.AverageRPS)
		cs.PeakRPS = capacity.FormatRate(plan.PeakRPS)
		cs.CPUPerReplica = capacity.FormatCores(plan.CPUPerReplica)
		cs.CapacityPerReplicaRPS = capacity.FormatRate(plan.CapacityPerReplicaRPS)
	}
	if plan.Observed {
		cs.ObservedRPS = capacity.FormatRate(plan.ObservedRPS)
	}
	for _, rec := range corr.recommendations {
		cs.Recommendations = append(cs.Recommendations, authlyv1.ReplicaRecommendation{Replicas: rec.Replicas, Time: metav1.Time{Time: rec.At}})
	}
	return cs
}
