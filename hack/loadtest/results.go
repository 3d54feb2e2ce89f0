/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/authly-dev/authly-operator/hack/benchhost"

	"github.com/authly-dev/authly-operator/server/credentials"
)

// results is everything a run measured; results.json is this value.
type results struct {
	Machine   benchhost.Host    `json:"machine"`
	Settings  settings          `json:"settings"`
	Ceilings  []ceiling         `json:"ceilings"`
	Scenarios []*scenarioResult `json:"scenarios"`
	Targets   []target          `json:"targets"`
	Growth    []growth          `json:"growth,omitempty"`
	// Wrk are the points of the wrk generator (wrk.go), every run of each.
	Wrk []*wrkPoint `json:"wrk,omitempty"`
	// WrkSkipped says why the wrk points are missing when they were asked for.
	WrkSkipped  string `json:"wrk_skipped,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`

	baselinePath string
}

// settings are the knobs of the run.
type settings struct {
	Duration       string                     `json:"duration"`
	Warmup         string                     `json:"warmup"`
	Concurrency    []int                      `json:"concurrency"`
	Pool           int                        `json:"pool_max_conns"`
	ServerCPUs     int                        `json:"server_gomaxprocs,omitempty"`
	Passes         int                        `json:"passes,omitempty"`
	Users          int                        `json:"users"`
	Argon2         credentials.PasswordParams `json:"argon2id"`
	Postgres       string                     `json:"postgres_settings"`
	AccessTokenTTL string                     `json:"access_token_ttl"`
	Scale          scaleSpec                  `json:"scale"`
	ServerArgs     []string                   `json:"server_args"`
	Generators     []string                   `json:"generators,omitempty"`
	WrkRuns        int                        `json:"wrk_runs,omitempty"`
	AccessTokenAlg string                     `json:"access_token_alg,omitempty"`
}

// postgresSettings are those pgcluster starts the throwaway cluster with.
const postgresSettings = "fsync=off, synchronous_commit=off, full_page_writes=off, shared_buffers=128MB, max_connections=300 " +
	"(pgcluster's throwaway cluster: durability off, so commits cost no disk flush)"

func newResults(o options) *results {
	return &results{
		Machine: benchhost.Describe(),
		Settings: settings{
			Duration: o.duration.String(), Warmup: o.warmup.String(), Concurrency: o.concurrency, Pool: o.pool, ServerCPUs: o.serverCPUs, Passes: o.passes, Users: o.users,
			Argon2: credentials.DefaultPasswordParams, Postgres: postgresSettings, AccessTokenTTL: accessTokenTTL.String(), Scale: o.scale,
			Generators: o.generators, WrkRuns: o.wrkRuns, AccessTokenAlg: o.accessTokenAlg,
		},
		baselinePath: o.baseline,
	}
}

// finish computes the targets and the comparison with a baseline run.
func (r *results) finish() {
	r.Machine.Finish()
	if r.baselinePath != "" {
		var err error
		if r.Growth, err = compareBaseline(r, r.baselinePath); err != nil {
			logf("baseline %s: %v", r.baselinePath, err)
		}
	}
	r.Targets = evaluateTargets(r)
}

func (r *results) scenario(name string) *scenarioResult {
	for _, s := range r.Scenarios {
		if s.Name == name && len(s.Points) > 0 {
			return s
		}
	}
	return nil
}

func (r *results) ceiling(name string) *ceiling {
	for i := range r.Ceilings {
		if r.Ceilings[i].Name == name {
			return &r.Ceilings[i]
		}
	}
	return nil
}

// efficiency is a scenario's requests per CPU-second of server + Postgres over all its
// points together (total requests over total CPU), which weighs each level by its work.
func (s *scenarioResult) efficiency() float64 {
	var req, cpu float64
	for _, p := range s.Points {
		req += float64(p.Requests)
		cpu += p.ServerCPU + p.PostgresCPU
	}
	if cpu == 0 {
		return 0
	}
	return req / cpu
}

// referenceEfficiency is, when every point of s carries a reference named name, their
// operations over their CPU-seconds summed: the reference's efficiency under the same
// drift of the machine as the points'. False when s is nil or a point has none.
func (s *scenarioResult) referenceEfficiency(name string) (float64, bool) {
	if s == nil || len(s.Points) == 0 {
		return 0, false
	}
	var ops, cpu float64
	for _, p := range s.Points {
		if p.Reference == nil || p.Reference.Name != name {
			return 0, false
		}
		ops += float64(p.Reference.Operations)
		cpu += p.Reference.CPUSeconds
	}
	if cpu == 0 {
		return 0, false
	}
	return ops / cpu, true
}

// referenceName is the name of the reference beside every point of s (hello-world, or a
// ceiling), or "" when a point has none or they differ.
func (s *scenarioResult) referenceName() string {
	if s == nil || len(s.Points) == 0 || s.Points[0].Reference == nil {
		return ""
	}
	name := s.Points[0].Reference.Name
	if _, ok := s.referenceEfficiency(name); !ok {
		return ""
	}
	return name
}

func (s *scenarioResult) at(conc int) *point {
	for _, p := range s.Points {
		if p.Concurrency == conc {
			return p
		}
	}
	return nil
}

func (r *results) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	plots, err := writePlots(r, dir)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "REPORT.md"), []byte(renderReport(r, plots)), 0o644)
}

// growth compares a scenario's throughput on the filled database with the empty one.
type growth struct {
	Scenario string  `json:"scenario"`
	Baseline float64 `json:"baseline_rps"`
	Scaled   float64 `json:"scaled_rps"`
	Ratio    float64 `json:"ratio"`
	// EfficiencyRatio compares requests per CPU-second, which a busy machine distorts less.
	EfficiencyRatio float64 `json:"efficiency_ratio"`
	// MachineRatio is hello-world's throughput in this run over the baseline's, at the
	// same levels: how much faster or slower the machine itself was (this shared
	// machine's speed drifts by a third from one hour to the next). Normalized is Ratio
	// over it, the change the data made; the target uses it when both runs measured
	// hello-world.
	MachineRatio float64 `json:"machine_ratio,omitempty"`
	Normalized   float64 `json:"normalized_ratio,omitempty"`
	// Paired says both runs measured the same reference beside each of the scenario's
	// points (a hello-world point, or the ceiling timed again), named by Reference: then
	// MachineRatio is those references' operations per CPU-second in this run over the
	// baseline's, and Normalized is EfficiencyRatio over it. That correction is taken at
	// the same moments as the points, not tens of minutes apart.
	Paired    bool   `json:"paired,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// compareBaseline sets, per scenario, the mean requests per second over the concurrency
// levels both runs measured against the baseline's, and corrects the ratio by the
// references measured beside its points in both runs, or else by hello-world's own points
// at the same levels.
func compareBaseline(r *results, path string) ([]growth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var base results
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, err
	}
	var out []growth
	for _, s := range r.Scenarios {
		bs := base.scenario(s.Name)
		if bs == nil {
			continue
		}
		g := growth{Scenario: s.Name}
		var helloBase, helloScaled float64
		for _, p := range s.Points {
			if bp := bs.at(p.Concurrency); bp != nil {
				g.Baseline += bp.RPS
				g.Scaled += p.RPS
				if h, bh := r.scenario(helloName), base.scenario(helloName); h != nil && bh != nil && h.at(p.Concurrency) != nil && bh.at(p.Concurrency) != nil {
					helloScaled += h.at(p.Concurrency).RPS
					helloBase += bh.at(p.Concurrency).RPS
				}
			}
		}
		if g.Baseline > 0 {
			g.Ratio = g.Scaled / g.Baseline
			if be := bs.efficiency(); be > 0 {
				g.EfficiencyRatio = s.efficiency() / be
			}
			ref := s.referenceName()
			refScaled, okScaled := s.referenceEfficiency(ref)
			refBase, okBase := bs.referenceEfficiency(ref)
			switch {
			case okScaled && okBase && g.EfficiencyRatio > 0 && sameLevels(s, bs):
				g.Paired, g.Reference, g.MachineRatio = true, ref, refScaled/refBase
				g.Normalized = g.EfficiencyRatio / g.MachineRatio
			case helloBase > 0 && helloScaled > 0:
				g.MachineRatio = helloScaled / helloBase
				g.Normalized = g.Ratio / g.MachineRatio
			}
			out = append(out, g)
		}
	}
	return out, nil
}

// sameLevels reports whether two scenario results measured the same concurrency levels,
// so that their efficiencies over all levels compare.
func sameLevels(a, b *scenarioResult) bool {
	return slices.EqualFunc(a.Points, b.Points, func(p, q *point) bool { return p.Concurrency == q.Concurrency })
}

// rereport recomputes the targets and the comparison with a baseline from dir's
// results.json and writes the report and plots again, without measuring anything.
func rereport(dir, baseline string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "results.json"), err)
	}
	r.Growth = nil
	if baseline != "" {
		if r.Growth, err = compareBaseline(&r, baseline); err != nil {
			return fmt.Errorf("baseline %s: %w", baseline, err)
		}
		r.baselinePath = baseline
	}
	r.Targets = evaluateTargets(&r)
	return r.write(dir)
}

// seedTable is one of the performance guide's published tables (8 cores).
type seedTable struct {
	Title string
	Conc  []int
	RPS   []float64
	P95Ms []float64
}

// seedCores is the core count of the performance guide's test machine.
const seedCores = 8

// seedTables are the performance guide's figures (authly-performance-guide.md, "Benchmark Results").
var seedTables = map[string]seedTable{
	"password":  {"Password Grant Performance", []int{1, 10, 50, 100, 200}, []float64{145, 1250, 4800, 8200, 12500}, []float64{12, 18, 28, 35, 48}},
	"refresh":   {"Token Refresh Performance", []int{1, 10, 50, 100, 200}, []float64{180, 1650, 6200, 11800, 18400}, []float64{9, 12, 19, 22, 31}},
	"authorize": {"Authorization Endpoint Performance", []int{1, 10, 50, 100, 200}, []float64{95, 850, 3200, 5800, 8900}, []float64{18, 24, 42, 52, 78}},
	"code":      {"Token Exchange Performance", []int{1, 10, 50, 100, 200}, []float64{120, 1100, 4500, 7800, 11200}, []float64{15, 19, 28, 34, 48}},
	"discovery": {"Discovery Endpoint Performance", []int{1, 10, 50, 100, 200}, []float64{340, 3200, 14500, 26800, 42000}, []float64{4, 5, 7, 8, 12}},
}

// seedPerCore is the performance guide's requests per second per core at conc, if it published one.
func seedPerCore(key string, conc int) (float64, bool) {
	t, ok := seedTables[key]
	if !ok {
		return 0, false
	}
	i := slices.Index(t.Conc, conc)
	if i < 0 {
		return 0, false
	}
	return t.RPS[i] / seedCores, true
}
