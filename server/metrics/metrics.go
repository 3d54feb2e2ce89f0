/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package metrics exposes the server's Prometheus metrics under the names Authly uses, so
// that its dashboards carry over: requests by route, database pool and query latency, OAuth
// outcomes and cache sizes. Everything is registered on the Metrics' own registry, never on
// the global one, so that several servers can live in one process (tests, replicas).
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "authly"

// Buckets of the latency histograms, as the Authly performance guide seeds them.
var (
	RequestBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	QueryBuckets   = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25}
)

// Metrics holds the server's collectors and the registry they are served from.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	queries        *prometheus.HistogramVec
	authorizations *prometheus.CounterVec
	tokenOps       *prometheus.CounterVec
	refreshReuse   *prometheus.CounterVec
	dbUnavailable  *prometheus.CounterVec
	signatureWait  prometheus.Histogram

	// series caches the label children of the request metrics, so that a request costs a
	// map lookup rather than a label hash; the keys are bounded (see endpointLabel).
	// seriesMu serializes the copy-on-write updates.
	seriesMu    sync.Mutex
	series      atomic.Pointer[map[seriesKey]*requestSeries]
	seriesLimit int

	queriesMu sync.RWMutex
	queryObs  map[string]prometheus.Observer

	// tokenOpCounters caches the children of tokenOps by their labels (operation, grant
	// type, result; bounded by the provider's constants), so that a token request costs a
	// map lookup rather than a label hash. Copy-on-write under tokenOpMu, as series.
	tokenOpMu       sync.Mutex
	tokenOpCounters atomic.Pointer[map[[3]string]prometheus.Counter]
}

type seriesKey struct {
	endpoint, method string
	code             int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New creates the metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "requests_total",
			Help: "HTTP requests by endpoint (route pattern), method and status code.",
		}, []string{"endpoint", "method", "status_code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "request_duration_seconds",
			Help:    "HTTP request duration by endpoint (route pattern) and method.",
			Buckets: RequestBuckets,
		}, []string{"endpoint", "method"}),
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "db_query_duration_seconds",
			Help:    "Database operation duration by operation.",
			Buckets: QueryBuckets,
		}, []string{"operation"}),
		authorizations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "oauth_authorizations_total",
			Help: "Authorization requests by client type and result (success, denied, error).",
		}, []string{"client_type", "result"}),
		tokenOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "token_operations_total",
			Help: "Token endpoint, introspection and revocation outcomes by operation, grant type and result.",
		}, []string{"operation", "grant_type", "result"}),
		refreshReuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "refresh_token_reuse_total",
			Help: "Rotated refresh tokens presented again, by outcome: grace (rotated again within the reuse interval) or revoked_family.",
		}, []string{"outcome"}),
		dbUnavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "db_unavailable_responses_total",
			Help: "Requests refused with 503 temporarily_unavailable (or that error redirected to the client) because the database could not be reached, by endpoint (route path).",
		}, []string{"endpoint"}),
		signatureWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "signature_wait_seconds",
			Help:    "Time token requests waited, in arrival order, for a signing slot (GOMAXPROCS of them); zero when one was free.",
			Buckets: QueryBuckets,
		}),
		queryObs:    make(map[string]prometheus.Observer),
		seriesLimit: DefaultSeriesLimit,
	}
	m.series.Store(&map[seriesKey]*requestSeries{})
	m.reg.MustRegister(
		m.requests, m.duration, m.queries, m.authorizations, m.tokenOps, m.refreshReuse, m.dbUnavailable, m.signatureWait,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is where the metrics are registered; further collectors may be added to it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveQuery records a database operation; it is store.Options.ObserveQuery. The
// operation names are the store's constants, so the label is bounded.
func (m *Metrics) ObserveQuery(operation string, d time.Duration) {
	m.queriesMu.RLock()
	o, ok := m.queryObs[operation]
	m.queriesMu.RUnlock()
	if !ok {
		o = m.queries.WithLabelValues(operation)
		m.queriesMu.Lock()
		m.queryObs[operation] = o
		m.queriesMu.Unlock()
	}
	o.Observe(d.Seconds())
}

// TokenOperation records a token endpoint, introspection or revocation outcome; it is
// oauth.Hooks.TokenOperation. The provider bounds grant types and results to its constants.
func (m *Metrics) TokenOperation(operation, grantType, result string) {
	k := [3]string{operation, grantType, result}
	if cur := m.tokenOpCounters.Load(); cur != nil {
		if c, ok := (*cur)[k]; ok {
			c.Inc()
			return
		}
	}
	m.tokenOpMu.Lock()
	defer m.tokenOpMu.Unlock()
	next := map[[3]string]prometheus.Counter{}
	if cur := m.tokenOpCounters.Load(); cur != nil {
		for key, c := range *cur {
			next[key] = c
		}
	}
	c, ok := next[k]
	if !ok {
		c = m.tokenOps.WithLabelValues(operation, grantType, result)
		next[k] = c
		m.tokenOpCounters.Store(&next)
	}
	c.Inc()
}

// Authorization records an authorization outcome; it is oauth.Hooks.Authorization.
func (m *Metrics) Authorization(clientType, result string) {
	m.authorizations.WithLabelValues(clientType, result).Inc()
}

// RefreshReuse records a rotated refresh token presented again; it is
// oauth.Hooks.RefreshReuse, whose outcomes are the provider's constants.
func (m *Metrics) RefreshReuse(outcome string) {
	m.refreshReuse.WithLabelValues(outcome).Inc()
}

// SignatureWait records how long a token request waited for a signing slot; it is
// oauth.Hooks.SignatureWait.
func (m *Metrics) SignatureWait(d time.Duration) {
	m.signatureWait.Observe(d.Seconds())
}

// DatabaseUnavailable records a request refused because the database could not be
// reached; it is oauth.Hooks.DatabaseUnavailable and admin.Deps.OnDatabaseUnavailable.
// The endpoint is a route path, so the label is bounded.
func (m *Metrics) DatabaseUnavailable(endpoint string) {
	m.dbUnavailable.WithLabelValues(endpointLabel(endpoint)).Inc()
}
