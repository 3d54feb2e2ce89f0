/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"strings"
	"testing"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/specs"
)

// plan prints what the operator plans for the same spec: the numbers come from
// specs.Plan, and the tables are golden files.
func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"guide-example", []string{"--daily-requests", "1000000", "--peak", "4",
			"--mix", "tokenGeneration=0.25,tokenValidation=0.45,authorization=0.25,discovery=0.05", "--max-connections", "100"}},
		{"defaults", []string{"--daily-requests", "1000000"}},
		{"max-replicas-limit", []string{"--daily-requests", "2000000000", "--peak", "5", "--mix", "tokenGeneration=1", "--max-replicas", "4", "--max-connections", "200"}},
		{"connection-budget-limit", []string{"--daily-requests", "100000000", "--peak", "6", "--max-connections", "40", "--max-replicas", "30", "--cpu-per-replica", "500m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, nil, append([]string{"plan"}, tc.args...)...)
			golden(t, "plan-"+tc.name, r.stdout)
		})
	}
}

// The plan printed is the operator's for an AuthServer with the same spec.
func TestPlanIsTheOperators(t *testing.T) {
	f := planFlags{dailyRequests: 100000000, peak: "6", mix: "tokenGeneration=0.5,discovery=0.5", minReplicas: 2, maxReplicas: 30,
		failoverReplicas: 1, cpuPerReplica: "500m", maxConnections: 40, reservedConnections: 10}
	as, err := f.authServer()
	if err != nil {
		t.Fatal(err)
	}
	want, err := specs.Plan(as)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, nil, "plan", "--daily-requests", "100000000", "--peak", "6", "--mix", "tokenGeneration=0.5,discovery=0.5",
		"--max-replicas", "30", "--cpu-per-replica", "500m", "--max-connections", "40")
	for _, part := range strings.Split(want.Message, "; ") {
		if !strings.Contains(r.stdout, "  "+part+"\n") {
			t.Errorf("output lacks the operator's reasoning %q:\n%s", part, r.stdout)
		}
	}
	// And the spec the flags make is the one the CRD defaults give an AuthServer.
	if as.Spec.Capacity.OperationMix == nil || *as.Spec.Capacity.OperationMix != (authlyv1.OperationMix{TokenGeneration: "0.5", Discovery: "0.5"}) {
		t.Errorf("operation mix %+v", as.Spec.Capacity.OperationMix)
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--daily-requests is required"},
		{[]string{"--daily-requests", "0"}, "--daily-requests must be positive"},
		{[]string{"--daily-requests", "10", "--mix", "token=1"}, `--mix: "token=1" is not OPERATION=SHARE with an operation of tokenGeneration, tokenValidation, authorization, discovery`},
		{[]string{"--daily-requests", "10", "--mix", "tokenGeneration=0.5"}, "--mix: the shares add up to 0.5, not 1"},
		{[]string{"--daily-requests", "10", "--mix", "tokenGeneration=0.5,tokenGeneration=0.5"}, "--mix: tokenGeneration is given twice"},
		{[]string{"--daily-requests", "10", "--mix", "discovery=half"}, "--mix: discovery=half: the share must be a decimal"},
		{[]string{"--daily-requests", "10", "--peak", "0.5"}, "--peak: must be a number of at least 1"},
		{[]string{"--daily-requests", "10", "--min-replicas", "5", "--max-replicas", "3"}, "--max-replicas: must be at least minReplicas (5)"},
		{[]string{"--daily-requests", "10", "--max-connections", "12"}, "--max-connections: a connection budget of 2"},
		{[]string{"--daily-requests", "10", "--cpu-per-replica", "lots"}, `--cpu-per-replica "lots"`},
	} {
		r := run(t, t.Context(), nil, append([]string{"plan"}, tc.args...)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("plan %v: error %v, want one containing %q", tc.args, r.err, tc.want)
		}
	}
}
