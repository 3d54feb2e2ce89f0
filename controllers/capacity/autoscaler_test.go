/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package capacity

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestAutoscalerRaisesAtOnceAndLowersAfterTheWindow(t *testing.T) {
	plan, err := Compute(seedExample()) // 2 replicas (1 serving, 1 for failover)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		after    time.Duration
		observed float64
		replicas int32
		message  string
	}{
		{0, 40, 2, ""},
		// 10000 rps needs 3 serving + 1 failover: raised at once.
		{time.Minute, 10_000, 4, "observed 10000.0 rps needs 4 replicas (3 serving + 1 failover); raised to 4 replicas"},
		// The load drops, but 4 was recommended within the window.
		{2 * time.Minute, 40, 4, "holding 4 replicas for the 5m0s stabilisation window (2 would do now)"},
		{5*time.Minute + 59*time.Second, 40, 4, "holding 4"},
		// A higher load within the window raises further at once.
		{6 * time.Minute, 15_000, 5, "raised to 5"},
		// Five minutes after the last 4 (and the 5), every recommendation in the window is 2.
		{11*time.Minute + time.Second, 40, 2, ""},
		// Never below the declared plan, however idle.
		{20 * time.Minute, 0, 2, ""},
	}
	a := Autoscaler{}
	var history []Recommendation
	for _, s := range steps {
		now := t0.Add(s.after)
		got, next, err := a.Raise(plan, s.observed, now, history)
		if err != nil {
			t.Fatalf("at +%s: %v", s.after, err)
		}
		if got.Replicas != s.replicas {
			t.Errorf("at +%s observing %v rps: %d replicas, want %d (%s)", s.after, s.observed, got.Replicas, s.replicas, got.Message)
		}
		if !got.Observed || got.ObservedRPS != s.observed || got.PlannedReplicas != plan.PlannedReplicas || got.LimitedBy != NotLimited {
			t.Errorf("at +%s: observed %v %v planned %d limited %q", s.after, got.Observed, got.ObservedRPS, got.PlannedReplicas, got.LimitedBy)
		}
		if s.message != "" && !strings.Contains(got.Message, s.message) {
			t.Errorf("at +%s: message %q lacks %q", s.after, got.Message, s.message)
		}
		if s.message == "" && strings.Contains(got.Message, "observed") {
			t.Errorf("at +%s: message %q speaks of an observed load that changes nothing", s.after, got.Message)
		}
		for _, r := range next {
			if now.Sub(r.At) >= DefaultStabilizationWindow {
				t.Errorf("at +%s: history keeps a recommendation from %s", s.after, r.At)
			}
		}
		if last := next[len(next)-1]; last.At != now {
			t.Errorf("at +%s: the new recommendation is not last in the history: %+v", s.after, next)
		}
		history = next
	}
	if plan.Replicas != 2 || plan.Observed {
		t.Errorf("Raise changed the plan it was given: %+v", plan)
	}
}

func TestAutoscalerWindowAndBounds(t *testing.T) {
	plan, err := Compute(seedExample())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	history := []Recommendation{{Replicas: 7, At: t0}}

	short := Autoscaler{StabilizationWindow: time.Minute}
	if got, _, _ := short.Raise(plan, 0, t0.Add(59*time.Second), history); got.Replicas != 7 {
		t.Errorf("within a 1m window: %d replicas, want 7", got.Replicas)
	}
	if got, _, _ := short.Raise(plan, 0, t0.Add(time.Minute), history); got.Replicas != 2 {
		t.Errorf("after a 1m window: %d replicas, want 2", got.Replicas)
	}

	// A recommendation above a maximum lowered since then does not hold the count above it.
	lowered := plan
	lowered.MaxReplicas = 5
	if got, _, _ := (Autoscaler{}).Raise(lowered, 0, t0.Add(time.Second), history); got.Replicas != 5 {
		t.Errorf("with maxReplicas lowered to 5: %d replicas, want 5", got.Replicas)
	}

	// More load than maxReplicas serves: the most replicas, and the limit named.
	got, _, err := (Autoscaler{}).Raise(plan, 1e6, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Replicas != 10 || got.LimitedBy != LimitMaxReplicas || !strings.Contains(got.Message, "but at most 10 may run") {
		t.Errorf("observing 1e6 rps: %d replicas, limited by %q, %q", got.Replicas, got.LimitedBy, got.Message)
	}

	// When the budget set the maximum, the budget is named.
	in := seedExample()
	in.MaxConnections, in.ReservedConnections = 20, 10
	budgeted, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = (Autoscaler{}).Raise(budgeted, 1e6, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Replicas != 5 || got.LimitedBy != LimitConnectionBudget {
		t.Errorf("budget of 10 connections, observing 1e6 rps: %d replicas, limited by %q", got.Replicas, got.LimitedBy)
	}
}

func TestAutoscalerRefusesBadInput(t *testing.T) {
	plan, err := Compute(seedExample())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, rps := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, _, err := (Autoscaler{}).Raise(plan, rps, now, nil); err == nil || !strings.HasPrefix(err.Error(), "observedRPS: ") {
			t.Errorf("observed %v: err %v, want one naming observedRPS", rps, err)
		}
	}
	if _, _, err := (Autoscaler{}).Raise(Plan{}, 10, now, nil); err == nil {
		t.Error("a zero Plan was accepted")
	}
}
