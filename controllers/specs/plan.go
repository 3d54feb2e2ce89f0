/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package specs

import (
	"fmt"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
)

// The capacity plan an AuthServer declares, before any observed load: the input of the
// Deployment's replicas and of the server's pool sizes.

const (
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

// CapacityMode reports whether the AuthServer's replicas come from capacity rules.
func CapacityMode(as *authlyv1.AuthServer) bool { return as.Spec.Capacity != nil }

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

// Plan is the plan the operator computes for an AuthServer's spec before it observes any
// load, with the operator's defaults for fields the spec leaves out: capacity.Compute in
// capacity mode, replicasPlan otherwise. An error is an invalid spec. The reconciler
// corrects it for the observed load; `kubectl authly plan` shows it as it is, so that the
// offline planner and the operator cannot disagree.
func Plan(as *authlyv1.AuthServer) (capacity.Plan, error) {
	if !CapacityMode(as) {
		return replicasPlan(as), nil
	}
	in, err := capacityInput(as)
	if err != nil {
		return capacity.Plan{}, err
	}
	return capacity.Compute(in)
}
