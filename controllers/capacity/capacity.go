/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package capacity turns an AuthServer's declared load into a number of replicas and
// database pool sizes, and raises that plan when the observed load is higher.
//
// It follows the performance guide's capacity calculator (daily requests, a peak multiplier, an operation
// mix, a baseline throughput per operation, failover replicas, pool = connections needed + 5)
// with two corrections. A mixed workload's throughput is the weighted harmonic mean of the
// per-operation rates, 1 / sum(share_i / rate_i), because the time each request takes adds
// up while rates do not: the performance guide's arithmetic mean lets a fast operation hide a slow one.
// And every pod's pool together must fit the database's connection budget, for the largest
// number of pods the plan may ever run, so that scaling never needs a restart to shrink
// pools.
//
// The package knows nothing of Kubernetes: the reconciler reads the AuthServer into an
// Input and writes the Plan into its status.
package capacity

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Defaults and fixed rules of the planner.
const (
	// DefaultPeakMultiplier is the performance guide's ratio of peak to average request rate.
	DefaultPeakMultiplier = 5.0
	// DefaultCPUPerReplica is the CPU, in cores, a replica is planned with when neither
	// capacity.cpuPerReplica nor resources.requests.cpu says.
	DefaultCPUPerReplica = 1.0
	// ShareTolerance is how far the operation shares may add up from 1.
	ShareTolerance = 0.001
	// ConnectionsPer1kRPS is the performance guide's database connections per 1000 requests a second.
	ConnectionsPer1kRPS = 1.5
	// PoolHeadroom is the performance guide's spare connections on top of those the load needs.
	PoolHeadroom = 5
	// MinPoolMaxConns is the smallest pool a pod may have: one connection for requests, one
	// for the LISTEN that keeps its caches and deny-list current.
	MinPoolMaxConns = 2
	// DefaultPoolMinConns is the number of connections a pod keeps open when idle.
	DefaultPoolMinConns = 2
	// secondsPerDay turns daily requests into a rate.
	secondsPerDay = 24 * 60 * 60
	// epsilon absorbs floating-point error before rounding up, so that a load of exactly
	// two replicas' capacity asks for two replicas, not three.
	epsilon = 1e-9
)

// Limit names what keeps a plan below what the load needs.
type Limit string

const (
	// NotLimited means the plan gives the load what it needs.
	NotLimited Limit = ""
	// LimitMaxReplicas means the load needs more replicas than capacity.maxReplicas.
	LimitMaxReplicas Limit = "maxReplicas"
	// LimitConnectionBudget means database.maxConnections minus reservedConnections is too
	// small for the replicas or the pool size the load needs.
	LimitConnectionBudget Limit = "connectionBudget"
)

// Input is an AuthServer's capacity rules with the strings parsed. The zero value of
// PeakMultiplier, Mix, Baselines and CPUPerReplica means the default; every other field is
// taken as given.
type Input struct {
	// ExpectedDailyRequests is capacity.expectedDailyRequests.
	ExpectedDailyRequests int64
	// PeakMultiplier is capacity.peakMultiplier; 0 means DefaultPeakMultiplier.
	PeakMultiplier float64
	// Mix is capacity.operationMix; nil means DefaultMix.
	Mix Mix
	// Baselines are requests per second per CPU core; nil means DefaultBaselines.
	Baselines Baselines
	// CPUPerReplica is in cores; 0 means DefaultCPUPerReplica.
	CPUPerReplica float64

	// MinReplicas, MaxReplicas and FailoverReplicas are capacity's fields of those names.
	MinReplicas      int32
	MaxReplicas      int32
	FailoverReplicas int32
	// SurgeReplicas is how many pods a rolling update may add above the replica count (the
	// Deployment's maxSurge as a number). Their pools count against the budget too.
	SurgeReplicas int32

	// MaxConnections and ReservedConnections are database's fields of those names.
	MaxConnections      int32
	ReservedConnections int32
}

// Plan is what the operator runs for a declared (and possibly observed) load.
type Plan struct {
	// AverageRPS is the daily requests spread evenly over the day.
	AverageRPS float64
	// PeakRPS is AverageRPS times the peak multiplier.
	PeakRPS float64
	// CPUPerReplica is the CPU, in cores, each replica is planned with.
	CPUPerReplica float64
	// CapacityPerReplicaRPS is what one replica serves at the operation mix: the weighted
	// harmonic mean of the per-core baselines, times CPUPerReplica.
	CapacityPerReplicaRPS float64

	// ServingReplicas is how many replicas the peak needs, at least 1.
	ServingReplicas int32
	// FailoverReplicas are added to ServingReplicas.
	FailoverReplicas int32
	// PlannedReplicas is ServingReplicas plus FailoverReplicas, within MinReplicas and
	// MaxReplicas.
	PlannedReplicas int32
	// Replicas is what to run: PlannedReplicas, or more after Autoscaler.Raise.
	Replicas int32
	// MinReplicas is the lower bound.
	MinReplicas int32
	// MaxReplicas is the upper bound: DeclaredMaxReplicas, or fewer when the connection
	// budget cannot give that many pods MinPoolMaxConns each.
	MaxReplicas int32
	// DeclaredMaxReplicas is capacity.maxReplicas as given.
	DeclaredMaxReplicas int32
	// SurgeReplicas is Input.SurgeReplicas.
	SurgeReplicas int32

	// ConnectionsNeeded is the performance guide's database connections for the peak, all pods together.
	ConnectionsNeeded int32
	// ConnectionBudget is maxConnections minus reservedConnections.
	ConnectionBudget int32
	// PoolMaxConns is each pod's pool size. MaxReplicas+SurgeReplicas pods of this size fit
	// ConnectionBudget.
	PoolMaxConns int32
	// PoolMinConns is the connections each pod keeps open when idle.
	PoolMinConns int32

	// Observed is true once Autoscaler.Raise has applied an observed rate.
	Observed bool
	// ObservedRPS is the observed rate Raise applied.
	ObservedRPS float64

	// LimitedBy names what keeps the plan below what the load needs, if anything.
	LimitedBy Limit
	// Message explains the plan, and any limit, to a person.
	Message string
}

// FieldError is an invalid input, named by its path under the AuthServer's spec.
type FieldError struct {
	// Field is the path, such as "capacity.operationMix.tokenGeneration".
	Field string
	// Detail says what is wrong.
	Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

// DescribeErrors says what the planner refused in one message: each FieldError as
// "<name(field)>: <detail>", where name maps the planner's field path to what the reader
// knows (a path from the object, a command-line flag), other errors as they are; joined
// errors (errors.Join) each in turn, separated by "; ".
func DescribeErrors(err error, name func(field string) string) string {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			msgs = append(msgs, name(fe.Field)+": "+fe.Detail)
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

var decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// ParseDecimal parses a non-negative decimal written as a string, the way the AuthServer
// spec writes peakMultiplier and the operation shares. field names it in the error.
func ParseDecimal(field, s string) (float64, error) {
	if !decimal.MatchString(s) {
		return 0, fieldErr(field, "%q is not a decimal such as 4 or 0.25", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fieldErr(field, "%q is not a decimal such as 4 or 0.25", s)
	}
	return v, nil
}

// ParseMix parses capacity.operationMix's four shares; an empty string is a share of 0.
func ParseMix(tokenGeneration, tokenValidation, authorization, discovery string) (Mix, error) {
	given := map[Operation]string{
		TokenGeneration: tokenGeneration,
		TokenValidation: tokenValidation,
		Authorization:   authorization,
		Discovery:       discovery,
	}
	mix := Mix{}
	var errs []error
	for _, op := range Operations() {
		if given[op] == "" {
			mix[op] = 0
			continue
		}
		v, err := ParseDecimal(mixField(op), given[op])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mix[op] = v
	}
	return mix, errors.Join(errs...)
}

func mixField(op Operation) string { return "capacity.operationMix." + string(op) }

// Compute plans replicas and pool sizes for the declared load. An invalid input is an error
// naming every offending field; a plan that the bounds or the budget hold below what the
// load needs is not an error but a Plan with LimitedBy set.
func Compute(in Input) (Plan, error) {
	in, err := withDefaults(in)
	if err != nil {
		return Plan{}, err
	}

	p := Plan{
		AverageRPS:          float64(in.ExpectedDailyRequests) / secondsPerDay,
		CPUPerReplica:       in.CPUPerReplica,
		FailoverReplicas:    in.FailoverReplicas,
		MinReplicas:         in.MinReplicas,
		MaxReplicas:         in.MaxReplicas,
		DeclaredMaxReplicas: in.MaxReplicas,
		SurgeReplicas:       in.SurgeReplicas,
		ConnectionBudget:    in.MaxConnections - in.ReservedConnections,
	}
	p.PeakRPS = p.AverageRPS * in.PeakMultiplier
	p.CapacityPerReplicaRPS = harmonicMean(in.Mix, in.Baselines) * in.CPUPerReplica
	p.ServingReplicas = max(1, ceilRatio(p.PeakRPS, p.CapacityPerReplicaRPS))
	p.ConnectionsNeeded = ceilRatio(p.PeakRPS*ConnectionsPer1kRPS, 1000)

	// The pool is sized for the most pods that may ever run (MaxReplicas plus a rolling
	// update's surge), so that the autoscaler can go up to MaxReplicas without a pool
	// outgrowing the budget. When the budget cannot give that many pods even the smallest
	// pool, fewer pods is the only safe answer.
	var notes []string
	if p.ConnectionBudget/(in.MaxReplicas+in.SurgeReplicas) < MinPoolMaxConns {
		p.MaxReplicas = p.ConnectionBudget/MinPoolMaxConns - in.SurgeReplicas
		if p.MaxReplicas < in.MinReplicas {
			return Plan{}, fieldErr("database.maxConnections",
				"a connection budget of %d (maxConnections %d - reservedConnections %d) cannot give minReplicas %d plus %d surge pods %d connections each",
				p.ConnectionBudget, in.MaxConnections, in.ReservedConnections, in.MinReplicas, in.SurgeReplicas, MinPoolMaxConns)
		}
		notes = append(notes, fmt.Sprintf("the connection budget of %d allows at most %d replicas with %d connections each, fewer than maxReplicas %d",
			p.ConnectionBudget, p.MaxReplicas, MinPoolMaxConns, in.MaxReplicas))
	}
	perPod := p.ConnectionBudget / (p.MaxReplicas + in.SurgeReplicas)
	wantPool := ceilDiv(p.ConnectionsNeeded, p.ServingReplicas) + PoolHeadroom
	p.PoolMaxConns = min(wantPool, perPod)
	p.PoolMinConns = min(p.PoolMaxConns, DefaultPoolMinConns)

	want := p.ServingReplicas + p.FailoverReplicas
	p.PlannedReplicas = clamp(want, p.MinReplicas, p.MaxReplicas)
	p.Replicas = p.PlannedReplicas

	if want > p.MaxReplicas {
		p.LimitedBy = p.maxLimit()
		notes = append(notes, fmt.Sprintf("the load needs %d replicas (%d serving + %d failover) but at most %d may run",
			want, p.ServingReplicas, p.FailoverReplicas, p.MaxReplicas))
	}
	if p.PoolMaxConns < wantPool {
		if p.LimitedBy == NotLimited {
			p.LimitedBy = LimitConnectionBudget
		}
		notes = append(notes, fmt.Sprintf("the load asks for %d connections per pod but the connection budget of %d gives %d pods %d each",
			wantPool, p.ConnectionBudget, p.MaxReplicas+in.SurgeReplicas, p.PoolMaxConns))
	}
	p.Message = p.summary(notes)
	return p, nil
}

// maxLimit names what sets MaxReplicas: the declared bound, or the budget that lowered it.
func (p Plan) maxLimit() Limit {
	if p.MaxReplicas < p.DeclaredMaxReplicas {
		return LimitConnectionBudget
	}
	return LimitMaxReplicas
}

func (p Plan) summary(notes []string) string {
	s := fmt.Sprintf("peak %s rps at %s rps per replica (%s CPU) needs %d serving + %d failover replicas; planned %d (bounds %d-%d); pool %d-%d connections per pod for up to %d pods within a budget of %d",
		FormatRate(p.PeakRPS), FormatRate(p.CapacityPerReplicaRPS), FormatCores(p.CPUPerReplica),
		p.ServingReplicas, p.FailoverReplicas, p.PlannedReplicas, p.MinReplicas, p.MaxReplicas,
		p.PoolMinConns, p.PoolMaxConns, p.MaxReplicas+p.SurgeReplicas, p.ConnectionBudget)
	if len(notes) > 0 {
		s += "; " + strings.Join(notes, "; ")
	}
	return s
}

// withDefaults fills the defaults in and checks every field, reporting them all at once.
func withDefaults(in Input) (Input, error) {
	var errs []error
	if in.ExpectedDailyRequests <= 0 {
		errs = append(errs, fieldErr("capacity.expectedDailyRequests", "must be positive, got %d", in.ExpectedDailyRequests))
	}
	if in.PeakMultiplier == 0 {
		in.PeakMultiplier = DefaultPeakMultiplier
	}
	if !(in.PeakMultiplier >= 1) || math.IsInf(in.PeakMultiplier, 0) {
		errs = append(errs, fieldErr("capacity.peakMultiplier", "must be a number of at least 1, got %v", in.PeakMultiplier))
	}
	if in.Mix == nil {
		in.Mix = DefaultMix()
	}
	errs = append(errs, checkMix(in.Mix)...)
	if in.Baselines == nil {
		in.Baselines = DefaultBaselines()
	}
	errs = append(errs, checkBaselines("baselines", in.Baselines)...)
	if in.CPUPerReplica == 0 {
		in.CPUPerReplica = DefaultCPUPerReplica
	}
	if !(in.CPUPerReplica > 0) || math.IsInf(in.CPUPerReplica, 0) {
		errs = append(errs, fieldErr("capacity.cpuPerReplica", "must be a positive number of cores, got %v", in.CPUPerReplica))
	}
	if in.MinReplicas < 1 {
		errs = append(errs, fieldErr("capacity.minReplicas", "must be at least 1, got %d", in.MinReplicas))
	}
	if in.MaxReplicas < max(in.MinReplicas, 1) {
		errs = append(errs, fieldErr("capacity.maxReplicas", "must be at least minReplicas (%d) and 1, got %d", in.MinReplicas, in.MaxReplicas))
	}
	if in.FailoverReplicas < 0 {
		errs = append(errs, fieldErr("capacity.failoverReplicas", "must not be negative, got %d", in.FailoverReplicas))
	}
	if in.SurgeReplicas < 0 {
		errs = append(errs, fieldErr("surgeReplicas", "must not be negative, got %d", in.SurgeReplicas))
	}
	if in.MaxConnections <= 0 {
		errs = append(errs, fieldErr("database.maxConnections", "must be positive, got %d", in.MaxConnections))
	}
	if in.ReservedConnections < 0 {
		errs = append(errs, fieldErr("database.reservedConnections", "must not be negative, got %d", in.ReservedConnections))
	} else if in.MaxConnections > 0 && in.ReservedConnections >= in.MaxConnections {
		errs = append(errs, fieldErr("database.reservedConnections", "must be less than maxConnections (%d), got %d", in.MaxConnections, in.ReservedConnections))
	}
	return in, errors.Join(errs...)
}

func checkMix(mix Mix) []error {
	var errs []error
	known := map[Operation]bool{}
	for _, op := range Operations() {
		known[op] = true
	}
	for op := range mix {
		if !known[op] {
			errs = append(errs, fieldErr(mixField(op), "unknown operation"))
		}
	}
	sum, valid := 0.0, true
	for _, op := range Operations() {
		share := mix[op]
		if !(share >= 0 && share <= 1) {
			errs = append(errs, fieldErr(mixField(op), "must be a share between 0 and 1, got %v", share))
			valid = false
			continue
		}
		sum += share
	}
	if valid && math.Abs(sum-1) > ShareTolerance {
		errs = append(errs, fieldErr("capacity.operationMix", "the shares add up to %s, not 1 (within %v)",
			strconv.FormatFloat(math.Round(sum*1e6)/1e6, 'f', -1, 64), ShareTolerance))
	}
	return errs
}

func checkBaselines(field string, b Baselines) []error {
	var errs []error
	for _, op := range Operations() {
		rate, ok := b[op]
		if !ok {
			errs = append(errs, fieldErr(field+"."+string(op), "missing"))
			continue
		}
		if !(rate > 0) || math.IsInf(rate, 0) {
			errs = append(errs, fieldErr(field+"."+string(op), "must be a positive rate, got %v", rate))
		}
	}
	return errs
}

// harmonicMean is the throughput of the mix: a request of operation i takes 1/rate_i
// seconds of a core, so an average request takes sum(share_i / rate_i).
func harmonicMean(mix Mix, rates Baselines) float64 {
	secondsPerRequest := 0.0
	for _, op := range Operations() {
		secondsPerRequest += mix[op] / rates[op]
	}
	return 1 / secondsPerRequest
}

// ceilRatio is ceil(a/b) for a rate a and a capacity b > 0, without a spurious extra unit
// from floating-point error.
func ceilRatio(a, b float64) int32 {
	r := math.Ceil(a/b - epsilon)
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(max(r, 0))
}

func ceilDiv(a, b int32) int32 { return (a + b - 1) / b }

func clamp(v, lo, hi int32) int32 { return max(lo, min(v, hi)) }

// FormatRate writes a rate in requests per second the way the status shows it, with one
// decimal: "46.3".
func FormatRate(rps float64) string { return strconv.FormatFloat(rps, 'f', 1, 64) }

// FormatCores writes a CPU amount in cores: "1", "0.5".
func FormatCores(cores float64) string { return strconv.FormatFloat(cores, 'f', -1, 64) }
