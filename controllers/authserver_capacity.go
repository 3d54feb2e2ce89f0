/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
)

const (
	// DefaultObserveInterval is how often the observed load is read and the plan
	// corrected, unless AuthServerReconciler.ObserveInterval says otherwise.
	DefaultObserveInterval = time.Minute
	// replicasModeMaxPool caps each pod's pool in replicas mode, where no load is declared
	// to size it from: the server's own default pool size.
	replicasModeMaxPool = 20
	// Defaults of the CRD, applied again here for objects read without them.
	defaultMaxConnections      = 100
	defaultReservedConnections = 10
	defaultMinReplicas         = 2
	defaultMaxReplicas         = 10
	defaultFailoverReplicas    = 1
)

// LoadObserver reads the request rate an AuthServer's pods serve. ok is false when there is
// nothing to report yet (no ready pods, or a first sample that a rate needs a second one
// for).
type LoadObserver interface {
	ObservedRPS(ctx context.Context, as *authlyv1.AuthServer) (rps float64, ok bool, err error)
}

// capacityMode reports whether the AuthServer's replicas come from capacity rules.
func capacityMode(as *authlyv1.AuthServer) bool { return as.Spec.Capacity != nil }

// connectionBudget is maxConnections and reservedConnections with their defaults.
func connectionBudget(as *authlyv1.AuthServer) (maxConns, reserved int32) {
	maxConns = as.Spec.Database.MaxConnections
	if maxConns == 0 {
		maxConns = defaultMaxConnections
	}
	reserved = defaultReservedConnections
	if r := as.Spec.Database.ReservedConnections; r != nil {
		reserved = *r
	}
	return maxConns, reserved
}

// capacityInput reads an AuthServer's capacity rules into the planner's input.
func capacityInput(as *authlyv1.AuthServer) (capacity.Input, error) {
	c := as.Spec.Capacity
	maxConns, reserved := connectionBudget(as)
	in := capacity.Input{
		ExpectedDailyRequests: c.ExpectedDailyRequests,
		MinReplicas:           c.MinReplicas,
		MaxReplicas:           c.MaxReplicas,
		FailoverReplicas:      defaultFailoverReplicas,
		SurgeReplicas:         serverMaxSurge,
		MaxConnections:        maxConns,
		ReservedConnections:   reserved,
	}
	if in.MinReplicas == 0 {
		in.MinReplicas = defaultMinReplicas
	}
	if in.MaxReplicas == 0 {
		in.MaxReplicas = max(defaultMaxReplicas, in.MinReplicas)
	}
	if c.FailoverReplicas != nil {
		in.FailoverReplicas = *c.FailoverReplicas
	}
	if c.PeakMultiplier != "" {
		v, err := capacity.ParseDecimal("capacity.peakMultiplier", c.PeakMultiplier)
		if err != nil {
			return in, err
		}
		in.PeakMultiplier = v
	}
	if m := c.OperationMix; m != nil {
		mix, err := capacity.ParseMix(m.TokenGeneration, m.TokenValidation, m.Authorization, m.Discovery)
		if err != nil {
			return in, err
		}
		in.Mix = mix
	}
	switch {
	case c.CPUPerReplica != nil:
		in.CPUPerReplica = c.CPUPerReplica.AsApproximateFloat64()
	case as.Spec.Resources.Requests.Cpu() != nil && !as.Spec.Resources.Requests.Cpu().IsZero():
		in.CPUPerReplica = as.Spec.Resources.Requests.Cpu().AsApproximateFloat64()
	}
	return in, nil
}

// replicasPlan is the plan of an AuthServer with a fixed replica count (spec.replicas, or
// 1): each pod's pool is its share of the connection budget, counting a rolling update's
// surge pod, at most replicasModeMaxPool. When the budget cannot give every pod the
// smallest workable pool, the pods still get that pool (the replica count is the user's
// to choose) and LimitedBy says the budget is exceeded.
func replicasPlan(as *authlyv1.AuthServer) capacity.Plan {
	replicas := int32(1)
	if as.Spec.Replicas != nil {
		replicas = max(*as.Spec.Replicas, 1)
	}
	maxConns, reserved := connectionBudget(as)
	budget := max(maxConns-reserved, 0)
	pods := replicas + serverMaxSurge
	perPod := budget / pods
	p := capacity.Plan{
		PlannedReplicas:     replicas,
		Replicas:            replicas,
		MinReplicas:         replicas,
		MaxReplicas:         replicas,
		DeclaredMaxReplicas: replicas,
		SurgeReplicas:       serverMaxSurge,
		ConnectionBudget:    budget,
		PoolMaxConns:        min(perPod, replicasModeMaxPool),
	}
	if perPod < capacity.MinPoolMaxConns {
		p.PoolMaxConns = capacity.MinPoolMaxConns
		p.LimitedBy = capacity.LimitConnectionBudget
	}
	p.PoolMinConns = min(p.PoolMaxConns, capacity.DefaultPoolMinConns)
	p.Message = fmt.Sprintf("%d replicas (spec.replicas); pool %d-%d connections per pod for up to %d pods within a budget of %d",
		replicas, p.PoolMinConns, p.PoolMaxConns, pods, budget)
	if p.LimitedBy != capacity.NotLimited {
		p.Message += fmt.Sprintf("; %d pods with the smallest pool of %d connections need %d, more than the budget: raise database.maxConnections or lower replicas",
			pods, capacity.MinPoolMaxConns, pods*capacity.MinPoolMaxConns)
	}
	return p
}

// declaredPlan is the plan before any observed load: capacity.Compute in capacity mode,
// replicasPlan otherwise. An error is an invalid spec.
func declaredPlan(as *authlyv1.AuthServer) (capacity.Plan, error) {
	if !capacityMode(as) {
		return replicasPlan(as), nil
	}
	in, err := capacityInput(as)
	if err != nil {
		return capacity.Plan{}, err
	}
	return capacity.Compute(in)
}

// PlanFor is the plan the operator computes for an AuthServer's spec before it observes any
// load, with the operator's defaults for fields the spec leaves out. `kubectl authly plan`
// calls it, so that the offline planner and the operator cannot disagree.
func PlanFor(as *authlyv1.AuthServer) (capacity.Plan, error) { return declaredPlan(as) }

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
	if r.Load == nil || !capacityMode(as) {
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
	due := out.lastObserved == nil || now.Sub(out.lastObserved.Time) >= r.observeInterval()
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

// observeInterval is ObserveInterval with its default.
func (r *AuthServerReconciler) observeInterval() time.Duration {
	if r.ObserveInterval > 0 {
		return r.ObserveInterval
	}
	return DefaultObserveInterval
}
