/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/hack/benchhost"
)

// The targets of the performance issue for the operator.
const (
	targetClients   = 1000
	targetReady     = 60 * time.Second
	targetMemClient = 10000
	targetMemory    = 150 << 20
)

// report is everything one run measured.
type report struct {
	machine      benchhost.Host
	opts         options
	operatorArgs []string
	phase1       phaseResult
	phase2       phaseResult
	memory       memorySample
}

// target is one line of the targets table.
type target struct {
	what, measured, status string
}

func (r *report) targets() []target {
	var ts []target
	ready := target{what: fmt.Sprintf("%d OAuthClients applied at once are all Ready within %.0f s", targetClients, targetReady.Seconds())}
	ready.measured = fmt.Sprintf("%d Ready %.1f s after the first create", r.phase1.to, r.phase1.allReady.Seconds())
	switch {
	case r.phase1.to != targetClients:
		ready.status = fmt.Sprintf("n/a (ran with --n %d; run with --n %d)", r.phase1.to, targetClients)
	case r.phase1.allReady <= targetReady:
		ready.status = "PASS"
	default:
		ready.status = "MISS"
	}
	ts = append(ts, ready)

	mem := target{what: fmt.Sprintf("the operator's memory stays under %s with %d OAuthClients", mib(targetMemory), targetMemClient)}
	total := max(r.phase1.to, r.phase2.to)
	mem.measured = fmt.Sprintf("with %d: VmHWM (peak RSS) %s, VmRSS %s after settling", total, mib(r.memory.proc.Peak), mib(r.memory.proc.RSS))
	switch {
	case total != targetMemClient:
		mem.status = fmt.Sprintf("n/a (ran with --n-memory %d; run with --n-memory %d)", total, targetMemClient)
	case r.memory.proc.Peak < targetMemory:
		mem.status = "PASS"
	default:
		mem.status = "MISS"
	}
	ts = append(ts, mem)

	for _, p := range []*phaseResult{&r.phase1, &r.phase2} {
		if p.to == 0 {
			continue
		}
		v := target{what: fmt.Sprintf("after %d: every OAuthClient Ready, with its Secret and its database row", p.to)}
		v.measured = fmt.Sprintf("%d Ready, %d Secrets, %d rows", p.verify.ready, p.verify.secrets, p.verify.rows)
		v.status = "PASS"
		if len(p.verify.problems) > 0 {
			v.status = "FAIL: " + strings.Join(p.verify.problems, "; ")
		}
		ts = append(ts, v)
	}
	return ts
}

func (r *report) printTargets(w io.Writer) {
	for _, t := range r.targets() {
		_, _ = fmt.Fprintf(w, "%-5s %s: %s\n", strings.SplitN(t.status, " ", 2)[0], t.what, t.measured)
	}
}

// write writes the Markdown report to path.
func (r *report) write(path string) error {
	var b strings.Builder
	m := r.machine
	fmt.Fprintf(&b, "# Operator benchmark\n\n")
	fmt.Fprintf(&b, "Written by `make bench-operator` (`go run ./hack/operatorbench`). OAuthClients are created "+
		"at once against a real kube-apiserver and etcd (envtest) and a real Postgres; `authly operator` runs as a "+
		"separate process, so its CPU time (`/proc/PID/stat`) and memory (`/proc/PID/status`) are its own.\n\n")
	fmt.Fprintf(&b, "The operator, kube-apiserver, etcd, Postgres and this tool share the machine's %d cores, and so does "+
		"anything else that runs meanwhile: a load average above the core count (see below) means the times are "+
		"distorted upwards. Compare runs on a quiet machine.\n\n", m.CPUs)

	b.WriteString("## Machine\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("CPU", fmt.Sprintf("%d x %s", m.CPUs, m.CPUModel))
	row("Memory", m.Memory)
	row("Kernel", m.Kernel)
	row("Go", m.GoVersion)
	row("Postgres", m.Postgres)
	row("Commit", "`"+m.Commit+"`")
	row("Started", m.Started)
	row("Finished", m.Finished)
	row("Load average at start / end", m.LoadAvgStart+" / "+m.LoadAvgEnd)

	b.WriteString("\n## Settings\n\n")
	fmt.Fprintf(&b, "- Phase 1: %d OAuthClients created by %d goroutines at once; phase 2 grows to %d and waits %s before reading memory.\n",
		r.opts.n, r.opts.creators, max(r.opts.nMemory, r.opts.n), r.opts.settle)
	b.WriteString("- Each OAuthClient: confidential, `grantTypes: [client_credentials]`, `scopes: [orders:read]`, " +
		"`client_secret_basic`, in one namespace, for one AuthServer (`replicas: 1`; no pods run in envtest, " +
		"OAuthClients need only its DatabaseReady condition).\n")
	fmt.Fprintf(&b, "- Operator: `authly %s`\n", strings.Join(r.operatorArgs, " "))
	b.WriteString("- Ready is seen through a watch on OAuthClients. *Observed* latency: from the create call returning to " +
		"the watch delivering Ready (milliseconds). *Recorded*: creationTimestamp to the Ready condition's " +
		"lastTransitionTime, both whole seconds.\n")

	b.WriteString("\n## Targets\n\n| Target | Measured | Status |\n|---|---|---|\n")
	for _, t := range r.targets() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.what, t.measured, t.status)
	}

	b.WriteString("\n## Phases\n\n")
	b.WriteString("| | Phase 1 | Phase 2 |\n|---|---|---|\n")
	phases := []*phaseResult{&r.phase1, &r.phase2}
	cells := func(f func(p *phaseResult) string) string {
		out := make([]string, len(phases))
		for i, p := range phases {
			if p.to == 0 {
				out[i] = "-"
				continue
			}
			out[i] = f(p)
		}
		return strings.Join(out, " | ")
	}
	line := func(name string, f func(p *phaseResult) string) { fmt.Fprintf(&b, "| %s | %s |\n", name, cells(f)) }
	line("OAuthClients created", func(p *phaseResult) string { return fmt.Sprintf("%d (%d to %d)", p.to-p.from, p.from, p.to) })
	line("Creates took", func(p *phaseResult) string { return secs(p.createTime) })
	line("First create to all Ready", func(p *phaseResult) string { return secs(p.allReady) })
	line("OAuthClients Ready per second", func(p *phaseResult) string {
		return fmt.Sprintf("%.0f", float64(p.to-p.from)/p.allReady.Seconds())
	})
	line("Observed latency p50 / p95 / max", func(p *phaseResult) string {
		return fmt.Sprintf("%s / %s / %s", secs(percentile(p.observed, 50)), secs(percentile(p.observed, 95)), secs(percentile(p.observed, 100)))
	})
	line("Recorded latency p50 / p95 / max", func(p *phaseResult) string {
		return fmt.Sprintf("%s / %s / %s", secs(percentile(p.recorded, 50)), secs(percentile(p.recorded, 95)), secs(percentile(p.recorded, 100)))
	})
	line("Operator CPU seconds", func(p *phaseResult) string { return fmt.Sprintf("%.1f", p.cpu) })
	line("Operator CPU ms per OAuthClient", func(p *phaseResult) string {
		return fmt.Sprintf("%.1f", p.cpu*1000/float64(p.to-p.from))
	})
	line("Operator VmRSS / VmHWM at all Ready", func(p *phaseResult) string {
		return mib(p.mem.RSS) + " / " + mib(p.mem.Peak)
	})

	mem := r.memory
	fmt.Fprintf(&b, "\n## Memory with %d OAuthClients, after %s at rest\n\n", max(r.phase1.to, r.phase2.to), r.opts.settle)
	b.WriteString("| | |\n|---|---|\n")
	row("VmRSS (resident now)", mib(mem.proc.RSS))
	row("VmHWM (peak resident)", mib(mem.proc.Peak))
	row("Go heap in use (go_memstats_heap_inuse_bytes)", mib(uint64(mem.heapInuse)))
	row("Go heap live and not yet collected (go_memstats_heap_alloc_bytes)", mib(uint64(mem.heapAlloc)))
	row("Memory the Go runtime got from the OS (go_memstats_sys_bytes)", mib(uint64(mem.goSys)))
	row("Goroutines", fmt.Sprintf("%.0f", mem.goroutines))
	row("Operator CPU seconds since it started", fmt.Sprintf("%.1f", mem.cpuTotal))

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// percentile is the nearest-rank p-th percentile of ds (0 when empty).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
