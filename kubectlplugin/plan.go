/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/controllers/specs"
)

// planFlags are an AuthServer's capacity rules as flags, with the CRD's defaults.
type planFlags struct {
	dailyRequests       int64
	peak                string
	mix                 string
	minReplicas         int32
	maxReplicas         int32
	failoverReplicas    int32
	cpuPerReplica       string
	maxConnections      int32
	reservedConnections int32
}

// flagOfField names the flag that sets a field of the AuthServer spec, for errors.
var flagOfField = map[string]string{
	"capacity.expectedDailyRequests": "--daily-requests",
	"capacity.peakMultiplier":        "--peak",
	"capacity.operationMix":          "--mix",
	"capacity.minReplicas":           "--min-replicas",
	"capacity.maxReplicas":           "--max-replicas",
	"capacity.failoverReplicas":      "--failover-replicas",
	"capacity.cpuPerReplica":         "--cpu-per-replica",
	"database.maxConnections":        "--max-connections",
	"database.reservedConnections":   "--reserved-connections",
}

func newPlanCommand(_ *Config) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --daily-requests N [--peak 5] [--mix tokenGeneration=0.3,...] [--max-connections 100]",
		Short: "Run the operator's capacity planner offline: replicas, database pools and the reasoning",
		Long: `Plan replicas and database pool sizes for a declared load with the same code the operator
runs for an AuthServer's spec.capacity, without a cluster. Each flag is the spec field of the
same meaning and has its default.

--mix gives each operation's share of the requests, adding up to 1, by the names of
spec.capacity.operationMix: ` + strings.Join(operationNames(), ", ") + `.
An operation left out has a share of 0; without --mix the operator's default mix applies.`,
		Example: `  kubectl authly plan --daily-requests 1000000 --peak 4 \
    --mix tokenGeneration=0.25,tokenValidation=0.45,authorization=0.25,discovery=0.05 \
    --max-connections 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("daily-requests") {
				return errors.New("--daily-requests is required")
			}
			as, err := f.authServer()
			if err != nil {
				return err
			}
			plan, err := specs.Plan(as)
			if err != nil {
				return flagErrors(err)
			}
			return writePlan(cmd.OutOrStdout(), as, plan)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.dailyRequests, "daily-requests", 0, "Expected requests a day, all endpoints together (spec.capacity.expectedDailyRequests)")
	fl.StringVar(&f.peak, "peak", "5", "Ratio of the busiest moment's request rate to the day's average (spec.capacity.peakMultiplier)")
	fl.StringVar(&f.mix, "mix", "", "Share of each operation, such as tokenGeneration=0.6,tokenValidation=0.3,discovery=0.1 (spec.capacity.operationMix)")
	fl.Int32Var(&f.minReplicas, "min-replicas", 2, "Fewest replicas, failover included (spec.capacity.minReplicas)")
	fl.Int32Var(&f.maxReplicas, "max-replicas", 10, "Most replicas (spec.capacity.maxReplicas)")
	fl.Int32Var(&f.failoverReplicas, "failover-replicas", 1, "Replicas added so that losing that many still serves the peak (spec.capacity.failoverReplicas)")
	fl.StringVar(&f.cpuPerReplica, "cpu-per-replica", "1", "CPU each replica is planned with, a quantity such as 1 or 500m (spec.capacity.cpuPerReplica)")
	fl.Int32Var(&f.maxConnections, "max-connections", 100, "This server's share of the database's connections (spec.database.maxConnections)")
	fl.Int32Var(&f.reservedConnections, "reserved-connections", 10, "Connections kept free of the pods' pools (spec.database.reservedConnections)")
	return cmd
}

func operationNames() []string {
	var names []string
	for _, op := range capacity.Operations() {
		names = append(names, string(op))
	}
	return names
}

// authServer is the AuthServer whose spec the flags describe.
func (f *planFlags) authServer() (*authlyv1.AuthServer, error) {
	cpu, err := resource.ParseQuantity(f.cpuPerReplica)
	if err != nil {
		return nil, fmt.Errorf("--cpu-per-replica %q: %w", f.cpuPerReplica, err)
	}
	failover := f.failoverReplicas
	reserved := f.reservedConnections
	as := &authlyv1.AuthServer{Spec: authlyv1.AuthServerSpec{
		Capacity: &authlyv1.CapacitySpec{
			ExpectedDailyRequests: f.dailyRequests,
			PeakMultiplier:        f.peak,
			MinReplicas:           f.minReplicas,
			MaxReplicas:           f.maxReplicas,
			FailoverReplicas:      &failover,
			CPUPerReplica:         &cpu,
		},
		Database: authlyv1.DatabaseSpec{MaxConnections: f.maxConnections, ReservedConnections: &reserved},
	}}
	// Zero would mean "the default" to the operator, which reads specs whose defaults the
	// API server applied; a flag set to 0 means 0 and is refused.
	for _, z := range []struct {
		v    int64
		flag string
	}{
		{f.dailyRequests, "--daily-requests"}, {int64(f.minReplicas), "--min-replicas"},
		{int64(f.maxReplicas), "--max-replicas"}, {int64(f.maxConnections), "--max-connections"},
	} {
		if z.v <= 0 {
			return nil, fmt.Errorf("%s must be positive, got %d", z.flag, z.v)
		}
	}
	if cpu.Sign() <= 0 {
		return nil, fmt.Errorf("--cpu-per-replica must be positive, got %s", f.cpuPerReplica)
	}
	if f.mix != "" {
		m, err := parseMix(f.mix)
		if err != nil {
			return nil, err
		}
		as.Spec.Capacity.OperationMix = m
	}
	return as, nil
}

// parseMix reads "tokenGeneration=0.6,tokenValidation=0.3,..." into the spec's mix.
func parseMix(s string) (*authlyv1.OperationMix, error) {
	m := &authlyv1.OperationMix{}
	fields := map[capacity.Operation]*string{
		capacity.TokenGeneration: &m.TokenGeneration,
		capacity.TokenValidation: &m.TokenValidation,
		capacity.Authorization:   &m.Authorization,
		capacity.Discovery:       &m.Discovery,
	}
	for part := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		field := fields[capacity.Operation(name)]
		if !ok || field == nil {
			return nil, fmt.Errorf("--mix: %q is not OPERATION=SHARE with an operation of %s", part, strings.Join(operationNames(), ", "))
		}
		if *field != "" {
			return nil, fmt.Errorf("--mix: %s is given twice", name)
		}
		if _, err := capacity.ParseDecimal(name, value); err != nil {
			return nil, fmt.Errorf("--mix: %s=%s: the share must be a decimal between 0 and 1", name, value)
		}
		*field = value
	}
	return m, nil
}

// flagErrors rewrites the planner's field errors with the flags' names.
func flagErrors(err error) error {
	return errors.New(capacity.DescribeErrors(err, func(field string) string {
		if mix, ok := strings.CutPrefix(field, "capacity.operationMix."); ok {
			return "--mix " + mix
		}
		if flag, ok := flagOfField[field]; ok {
			return flag
		}
		return field
	}))
}

// writePlan explains a plan the way the performance guide's calculator does: the load, the
// capacity of a replica at the mix, the replicas and the pools, and why.
func writePlan(out io.Writer, as *authlyv1.AuthServer, p capacity.Plan) error {
	c := as.Spec.Capacity
	mix := capacity.DefaultMix()
	if m := c.OperationMix; m != nil {
		parsed, err := capacity.ParseMix(m.TokenGeneration, m.TokenValidation, m.Authorization, m.Discovery)
		if err != nil {
			return err
		}
		mix = parsed
	}
	peak, err := strconv.ParseFloat(c.PeakMultiplier, 64)
	if err != nil {
		return fmt.Errorf("--peak: %w", err)
	}
	rates := capacity.DefaultBaselines()
	rate := capacity.FormatRate

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	row("Declared load")
	row("  Daily requests:\t%s", thousands(c.ExpectedDailyRequests))
	row("  Average rate:\t%s rps\t(daily requests / 86,400 s)", rate(p.AverageRPS))
	row("  Peak rate:\t%s rps\t(average x %s)", rate(p.PeakRPS), capacity.FormatCores(peak))
	row("")
	row("Operation mix\tSHARE\tRPS PER CORE\tSHARE OF CPU TIME")
	secondsPerRequest := 0.0
	for _, op := range capacity.Operations() {
		secondsPerRequest += mix[op] / rates[op]
	}
	for _, op := range capacity.Operations() {
		row("  %s\t%s\t%s\t%s%%", op, strconv.FormatFloat(mix[op], 'f', -1, 64), strconv.FormatFloat(rates[op], 'f', -1, 64),
			strconv.FormatFloat(100*mix[op]/rates[op]/secondsPerRequest, 'f', 1, 64))
	}
	row("  the mix\t1\t%s\t(weighted harmonic mean: 1 / sum(share / rate))", rate(1/secondsPerRequest))
	row("")
	row("Replicas")
	row("  Per replica:\t%s rps\t(%s CPU x %s rps per core)", rate(p.CapacityPerReplicaRPS), capacity.FormatCores(p.CPUPerReplica), rate(1/secondsPerRequest))
	row("  Serving:\t%d\t(peak %s rps / %s rps per replica, rounded up)", p.ServingReplicas, rate(p.PeakRPS), rate(p.CapacityPerReplicaRPS))
	row("  Failover:\t%d\t(spec.capacity.failoverReplicas)", p.FailoverReplicas)
	row("  Planned:\t%d\t(serving + failover, within %d-%d)", p.PlannedReplicas, p.MinReplicas, p.MaxReplicas)
	row("")
	row("Database")
	row("  Connections needed:\t%d\t(%s per 1,000 rps at peak, all pods together)", p.ConnectionsNeeded, capacity.FormatCores(capacity.ConnectionsPer1kRPS))
	row("  Connection budget:\t%d\t(max-connections %d - reserved-connections %d)", p.ConnectionBudget, as.Spec.Database.MaxConnections, *as.Spec.Database.ReservedConnections)
	row("  Pool per pod:\t%d-%d\t(needed per serving replica + %d, at most budget / %d pods: max replicas + %d rolling-update surge)",
		p.PoolMinConns, p.PoolMaxConns, capacity.PoolHeadroom, p.MaxReplicas+p.SurgeReplicas, p.SurgeReplicas)
	row("")
	row("Limited by:\t%s", limitedBy(string(p.LimitedBy)))
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, "\nReasoning:"); err != nil {
		return err
	}
	for part := range strings.SplitSeq(p.Message, "; ") {
		if _, err := fmt.Fprintf(out, "  %s\n", part); err != nil {
			return err
		}
	}

	seed, err := capacity.SeedPlan(c.ExpectedDailyRequests, peak, mix)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, `
The performance guide's calculator, for comparison (the arithmetic mean of its 8-core
baselines, %s rps at this mix; no connection budget): servers %d + 1 for failover = %d,
a pool of %d connections (%d needed + %d).
`, rate(seed.WeightedCapacityRPS), seed.ServersRecommended, seed.ServersWithFailover,
		seed.RecommendedPoolSize, seed.ConnectionsNeeded, capacity.PoolHeadroom)
	return err
}
