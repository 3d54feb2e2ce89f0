/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// The command may hold spaces and parentheses; fields are counted from the last ')'.
	line := []byte("4242 (postgres: a (b) c) S 17 4242 4242 0 -1 4194560 500 0 0 0 150 25 7 3 20 0 1 0 100 0 0\n")
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procTimes{state: 'S', ppid: 17, utime: 150, stime: 25, cutime: 7, cstime: 3}
	if got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	if _, err := parseStat([]byte("4242 (short) S 1 2")); err == nil {
		t.Error("parseStat accepted a truncated line")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for pct, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, pct); got != want {
			t.Errorf("percentile(%v) = %v, want %v", pct, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Millisecond {
		t.Errorf("percentile of one = %v", got)
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 12500: "12,500", 1234567.4: "1,234,567", -4600: "-4,600"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"--authly", "bin/authly", "--concurrency", "50,10,10", "--scenarios", "refresh,hello", "--scale", "10_000_000,100000,100000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.concurrency) != 2 || o.concurrency[0] != 10 || o.concurrency[1] != 50 {
		t.Errorf("concurrency = %v, want [10 50]", o.concurrency)
	}
	if o.scale != (scaleSpec{RefreshTokens: 10_000_000, Clients: 100_000, Revoked: 100_000}) {
		t.Errorf("scale = %+v", o.scale)
	}
	if o.serverCPUs != 1 {
		t.Errorf("server CPUs = %d, want the default replica's 1", o.serverCPUs)
	}
	if !slices.Equal(o.generators, []string{generatorGo, generatorWrk}) || o.wrkRuns != 3 || o.wrkConnections != 50 {
		t.Errorf("generators %v, wrk runs %d, connections %d: want both, 3 runs of 50", o.generators, o.wrkRuns, o.wrkConnections)
	}
	for _, bad := range [][]string{
		{},
		{"--authly", "x", "--server-cpus", "-1"},
		{"--authly", "x", "--passes", "0"},
		{"--authly", "x", "--scenarios", "nope"},
		{"--authly", "x", "--concurrency", "0"},
		{"--authly", "x", "--scale", "1,2"},
		{"--authly", "x", "--generators", "ab"},
		{"--authly", "x", "--wrk-runs", "0"},
		{"--authly", "x", "--access-token-alg", "HS256"},
	} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("parseOptions(%q) succeeded", bad)
		}
	}
}

func TestServerEnviron(t *testing.T) {
	t.Setenv("GOMAXPROCS", "7")
	t.Setenv("AUTHLY_ISSUER", "http://elsewhere")
	gomaxprocs := func(env []string) []string {
		var got []string
		for _, kv := range env {
			if strings.HasPrefix(kv, "GOMAXPROCS=") || strings.HasPrefix(kv, "AUTHLY_") {
				got = append(got, kv)
			}
		}
		return got
	}
	if got := gomaxprocs(serverEnviron(options{serverCPUs: 1})); !slices.Equal(got, []string{"GOMAXPROCS=1"}) {
		t.Errorf("--server-cpus 1: %v, want only GOMAXPROCS=1", got)
	}
	if got := gomaxprocs(serverEnviron(options{})); len(got) != 0 {
		t.Errorf("--server-cpus 0: %v, want neither GOMAXPROCS nor AUTHLY_*", got)
	}
}

func TestKeepBest(t *testing.T) {
	res := &scenarioResult{}
	res.keepBest([]*point{{Concurrency: 1, PerCPUSecond: 10}, {Concurrency: 10, PerCPUSecond: 50}}, 1, true)
	res.keepBest([]*point{{Concurrency: 1, PerCPUSecond: 12}, {Concurrency: 10, PerCPUSecond: 40}, {Concurrency: 50, PerCPUSecond: 60}}, 2, true)
	var got []string
	for _, p := range res.Points {
		got = append(got, fmt.Sprintf("c=%d %.0f pass %d", p.Concurrency, p.PerCPUSecond, p.Pass))
	}
	want := []string{"c=1 12 pass 2", "c=10 50 pass 1", "c=50 60 pass 2"}
	if !slices.Equal(got, want) {
		t.Errorf("points = %q, want %q", got, want)
	}
	if len(res.AllPoints) != 5 {
		t.Errorf("%d points kept in all, want 5", len(res.AllPoints))
	}
}

func TestSeedPerCore(t *testing.T) {
	if v, ok := seedPerCore("password", 200); !ok || v != 12500.0/8 {
		t.Errorf("seedPerCore(password, 200) = %v, %v", v, ok)
	}
	if _, ok := seedPerCore("password", 20); ok {
		t.Error("seedPerCore has a figure for a level the performance guide did not publish")
	}
	if _, ok := seedPerCore("jwks", 10); ok {
		t.Error("seedPerCore has a figure for an operation the performance guide did not publish")
	}
}

func TestTargetsUsePairedReferences(t *testing.T) {
	// hello-world's own points say 40,000 per CPU-second; the references measured before
	// the JWKS points, on a slower machine, 30,000. The target compares with the latter.
	hello := &scenarioResult{Name: "hello", Points: []*point{{Concurrency: 10, Requests: 40_000, ServerCPU: 1}}}
	jwks := &scenarioResult{Name: "jwks", Points: []*point{
		{Concurrency: 1, Requests: 9_000, ServerCPU: 0.5, Reference: &reference{Name: "hello", Operations: 15_000, CPUSeconds: 0.5}},
		{Concurrency: 10, Requests: 18_000, ServerCPU: 0.7, PostgresCPU: 0.3, Reference: &reference{Name: "hello", Operations: 30_000, CPUSeconds: 1}},
	}}
	if got, ok := jwks.referenceEfficiency("hello"); !ok || got != 30_000 {
		t.Errorf("referenceEfficiency = %v, %v; want 30000, true", got, ok)
	}
	if _, ok := jwks.referenceEfficiency(ceilRS256); ok {
		t.Error("referenceEfficiency found references of another name")
	}
	// Without a reference on every point, the target falls back to hello-world's points.
	discovery := &scenarioResult{Name: "discovery", Points: []*point{
		{Concurrency: 10, Requests: 32_000, ServerCPU: 1, Reference: &reference{Name: "hello", Operations: 30_000, CPUSeconds: 1}},
		{Concurrency: 50, Requests: 32_000, ServerCPU: 1},
	}}
	if _, ok := discovery.referenceEfficiency("hello"); ok {
		t.Error("referenceEfficiency accepted a point without a reference")
	}
	password := &scenarioResult{Name: "password", Points: []*point{
		{Concurrency: 1, Requests: 36, ServerCPU: 1, Reference: &reference{Name: ceilArgon2, Operations: 40, CPUSeconds: 1}},
	}}
	r := &results{
		Scenarios: []*scenarioResult{hello, jwks, discovery, password},
		Ceilings:  []ceiling{{Name: ceilArgon2, PerCPUSecond: 45}},
	}
	byGoal := map[string]target{}
	for _, tg := range evaluateTargets(r) {
		byGoal[strings.SplitN(tg.Goal, ":", 2)[0]] = tg
	}
	// JWKS: 27,000 / 1.5 CPU-s = 18,000, over 30,000 = 0.6×, against 0.8× required.
	if tg := byGoal["JWKS"]; tg.Status != "MISS" || fmt.Sprintf("%.2f", tg.Ratio) != "0.75" || !strings.Contains(tg.Measured, "timed before each point") {
		t.Errorf("JWKS target = %+v", tg)
	}
	// Discovery: 32,000 per CPU-s over hello-world's own 40,000 = 0.8×.
	if tg := byGoal["Discovery"]; tg.Status != "PASS" || fmt.Sprintf("%.2f", tg.Ratio) != "1.00" || strings.Contains(tg.Measured, "timed before") {
		t.Errorf("Discovery target = %+v", tg)
	}
	// Password: 36 over the 40 timed before the point (not the run's best of 45) = 0.9×.
	if tg := byGoal["Password grant"]; tg.Status != "PASS" || fmt.Sprintf("%.2f", tg.Ratio) != "1.00" {
		t.Errorf("Password target = %+v", tg)
	}
}

func TestRunCeiling(t *testing.T) {
	var out bytes.Buffer
	if err := runCeiling([]string{"--name", ceilES256Acc, "--budget", "50ms"}, &out); err != nil {
		t.Fatal(err)
	}
	var got []ceiling
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if len(got) != 1 || got[0].Name != ceilES256Acc || got[0].Ops < 1 || got[0].CPUSeconds < 0.05 ||
		math.Abs(got[0].PerCPUSecond-float64(got[0].Ops)/got[0].CPUSeconds) > 1e-6 {
		t.Errorf("ceilings = %+v", got)
	}
	if err := runCeiling([]string{"--name", "nope", "--budget", "1ms"}, &out); err == nil {
		t.Error("runCeiling accepted an unknown ceiling")
	}
}

func TestCompareBaselinePaired(t *testing.T) {
	// The baseline ran on a slower machine: hello-world 30,000 per CPU-second beside the
	// discovery points, 40,000 in the scaled run. Discovery's own figures moved alike, so
	// the data's effect on it is none; refresh, with no references, is corrected by
	// hello-world's own points by requests per second.
	hello := func(rps float64) *scenarioResult {
		return &scenarioResult{Name: "hello", Points: []*point{{Concurrency: 10, RPS: rps}}}
	}
	discovery := func(req int64, ref int64) *scenarioResult {
		return &scenarioResult{Name: "discovery", Points: []*point{{Concurrency: 10, RPS: float64(req) / 5, Requests: req, ServerCPU: 1,
			Reference: &reference{Name: "hello", Operations: ref, CPUSeconds: 1}}}}
	}
	refresh := func(rps float64) *scenarioResult {
		return &scenarioResult{Name: "refresh", Points: []*point{{Concurrency: 10, RPS: rps, Requests: int64(rps * 5), ServerCPU: 1}}}
	}
	// The password grant carries its ceiling, timed again beside each point: a quarter slower
	// in the scaled run, as the grant itself, so the data's effect is none there too.
	password := func(req, ceiling int64) *scenarioResult {
		return &scenarioResult{Name: "password", Points: []*point{{Concurrency: 10, RPS: float64(req) / 5, Requests: req, ServerCPU: 1,
			Reference: &reference{Name: ceilArgon2, Operations: ceiling, CPUSeconds: 1}}}}
	}
	base := &results{Scenarios: []*scenarioResult{hello(20_000), discovery(27_000, 30_000), refresh(4_000), password(36, 40)}}
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/results.json"
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	scaled := &results{Scenarios: []*scenarioResult{hello(25_000), discovery(36_000, 40_000), refresh(4_000), password(27, 30)}}
	got, err := compareBaseline(scaled, path)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]growth{}
	for _, g := range got {
		by[g.Scenario] = g
	}
	if g := by["discovery"]; !g.Paired || math.Abs(g.Normalized-1) > 1e-9 || math.Abs(g.MachineRatio-4.0/3) > 1e-9 {
		t.Errorf("discovery growth = %+v, want paired, machine 4/3, corrected 1", g)
	}
	if g := by["password"]; !g.Paired || g.Reference != ceilArgon2 || math.Abs(g.Normalized-1) > 1e-9 || math.Abs(g.MachineRatio-0.75) > 1e-9 {
		t.Errorf("password growth = %+v, want paired with its ceiling, machine 0.75, corrected 1", g)
	}
	if g := by["refresh"]; g.Paired || math.Abs(g.Normalized-0.8) > 1e-9 {
		t.Errorf("refresh growth = %+v, want unpaired, corrected 4000/4000 over 25000/20000 = 0.8", g)
	}
}
