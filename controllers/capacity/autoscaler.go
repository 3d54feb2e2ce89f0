/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package capacity

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultStabilizationWindow is how long a higher recommendation holds the replica count up,
// as the HorizontalPodAutoscaler's default scale-down stabilisation.
const DefaultStabilizationWindow = 5 * time.Minute

// Recommendation is the replica count Raise recommended at a time.
type Recommendation struct {
	Replicas int32
	At       time.Time
}

// Autoscaler corrects a declared plan from the load observed on the pods.
type Autoscaler struct {
	// StabilizationWindow is how long a recommendation counts; 0 means
	// DefaultStabilizationWindow.
	StabilizationWindow time.Duration
}

// Raise applies an observed peak request rate to a plan from Compute. It raises Replicas at
// once when the observed load needs more than the plan serves (with the plan's failover
// replicas on top), never goes below the declared plan, and goes down only when every
// recommendation within the stabilisation window is lower, like the HorizontalPodAutoscaler's
// scale-down stabilisation.
//
// history holds the previous recommendations; Raise returns the plan and the history to
// pass next time (this recommendation added, those older than the window dropped).
func (a Autoscaler) Raise(plan Plan, observedRPS float64, now time.Time, history []Recommendation) (Plan, []Recommendation, error) {
	if !(plan.CapacityPerReplicaRPS > 0) || plan.MaxReplicas < plan.MinReplicas || plan.MinReplicas < 1 {
		return plan, history, errors.New("capacity: Raise needs a plan from Compute")
	}
	if !(observedRPS >= 0) || math.IsInf(observedRPS, 0) {
		return plan, history, fieldErr("observedRPS", "must be a finite rate of at least 0, got %v", observedRPS)
	}
	window := a.StabilizationWindow
	if window <= 0 {
		window = DefaultStabilizationWindow
	}

	serving := max(1, ceilRatio(observedRPS, plan.CapacityPerReplicaRPS))
	wantObserved := serving + plan.FailoverReplicas
	recommended := clamp(max(plan.PlannedReplicas, wantObserved), plan.MinReplicas, plan.MaxReplicas)

	kept := make([]Recommendation, 0, len(history)+1)
	stabilized := recommended
	for _, r := range history {
		if now.Sub(r.At) >= window {
			continue
		}
		kept = append(kept, r)
		stabilized = max(stabilized, r.Replicas)
	}
	kept = append(kept, Recommendation{Replicas: recommended, At: now})
	// A bound lowered since an old recommendation still applies at once.
	stabilized = clamp(stabilized, plan.MinReplicas, plan.MaxReplicas)

	out := plan
	out.Observed = true
	out.ObservedRPS = observedRPS
	out.Replicas = stabilized
	if wantObserved > plan.PlannedReplicas {
		out.Message += fmt.Sprintf("; observed %s rps needs %d replicas (%d serving + %d failover)",
			FormatRate(observedRPS), wantObserved, serving, plan.FailoverReplicas)
		if wantObserved > plan.MaxReplicas {
			out.LimitedBy = plan.maxLimit()
			out.Message += fmt.Sprintf(" but at most %d may run", plan.MaxReplicas)
		}
	}
	if stabilized > recommended {
		out.Message += fmt.Sprintf("; holding %d replicas for the %s stabilisation window (%d would do now)",
			stabilized, window, recommended)
	} else if stabilized > plan.PlannedReplicas {
		out.Message += fmt.Sprintf("; raised to %d replicas", stabilized)
	}
	return out, kept, nil
}
