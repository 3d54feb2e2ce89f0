/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package capacity

import (
	"errors"
	"math"
)

// SeedResult is what the performance guide's CapacityPlanner.calculate_requirements returns, for the
// fields the operator has a use for.
type SeedResult struct {
	AverageRPS float64
	PeakRPS    float64
	// WeightedCapacityRPS is the performance guide's arithmetic mean of guideBaselines by share.
	WeightedCapacityRPS float64
	ServersRecommended  int
	ServersWithFailover int
	// ConnectionsNeeded and RecommendedPoolSize are for the whole deployment.
	ConnectionsNeeded   int
	RecommendedPoolSize int
}

// SeedPlan computes the plan the performance guide computes: an arithmetic mean of
// its 8-core BASELINE_METRICS weighted by share, one extra server for failover, and a pool
// of the connections needed plus 5. It is kept for comparison with Compute; a mix nil means
// DefaultMix and a peakMultiplier 0 means DefaultPeakMultiplier, as in the performance guide.
func SeedPlan(dailyRequests int64, peakMultiplier float64, mix Mix) (SeedResult, error) {
	var errs []error
	if dailyRequests <= 0 {
		errs = append(errs, fieldErr("capacity.expectedDailyRequests", "must be positive, got %d", dailyRequests))
	}
	if peakMultiplier == 0 {
		peakMultiplier = DefaultPeakMultiplier
	}
	if !(peakMultiplier >= 1) || math.IsInf(peakMultiplier, 0) {
		errs = append(errs, fieldErr("capacity.peakMultiplier", "must be a number of at least 1, got %v", peakMultiplier))
	}
	if mix == nil {
		mix = DefaultMix()
	}
	errs = append(errs, checkMix(mix)...)
	if err := errors.Join(errs...); err != nil {
		return SeedResult{}, err
	}

	r := SeedResult{AverageRPS: float64(dailyRequests) / secondsPerDay}
	r.PeakRPS = r.AverageRPS * peakMultiplier
	rates := guideBaselines()
	for _, op := range Operations() {
		r.WeightedCapacityRPS += rates[op] * mix[op]
	}
	r.ServersRecommended = int(math.Ceil(r.PeakRPS / r.WeightedCapacityRPS))
	r.ServersWithFailover = r.ServersRecommended + 1
	r.ConnectionsNeeded = int(math.Ceil(r.PeakRPS / 1000 * ConnectionsPer1kRPS))
	r.RecommendedPoolSize = r.ConnectionsNeeded + PoolHeadroom
	return r, nil
}
