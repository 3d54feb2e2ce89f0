/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector reports the database pool's statistics, read when Prometheus scrapes.
type PoolCollector struct {
	stat func() *pgxpool.Stat

	active, idle, total, max, constructing *prometheus.Desc
	acquires, acquireSeconds               *prometheus.Desc
	waits, waitSeconds, canceled           *prometheus.Desc
}

// NewPoolCollector reports the statistics stat returns (pgxpool.Pool.Stat).
func NewPoolCollector(stat func() *pgxpool.Stat) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "db", name), help, nil, nil)
	}
	return &PoolCollector{
		stat:           stat,
		active:         d("connections_active", "Database connections in use by a request."),
		idle:           d("connections_idle", "Database connections open and idle in the pool."),
		total:          d("connections_total", "Database connections open (active, idle and being established)."),
		max:            d("connections_max", "Largest number of database connections the pool opens."),
		constructing:   d("connections_constructing", "Database connections being established."),
		acquires:       d("acquires_total", "Connections taken from the pool."),
		acquireSeconds: d("acquire_seconds_total", "Total time spent taking connections from the pool."),
		waits:          d("acquire_waits_total", "Connection acquisitions that had to wait because none was idle."),
		waitSeconds:    d("acquire_wait_seconds_total", "Total time spent waiting for a connection because none was idle."),
		canceled:       d("acquires_canceled_total", "Connection acquisitions given up because the request's context ended."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.idle, c.total, c.max, c.constructing,
		c.acquires, c.acquireSeconds, c.waits, c.waitSeconds, c.canceled} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.active, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.waits, float64(s.EmptyAcquireCount()))
	counter(c.waitSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceled, float64(s.CanceledAcquireCount()))
}

// CacheStats are the figures CacheCollector reports; any function may be nil.
type CacheStats struct {
	// Clients returns the client cache's size, hits and misses (cache.Clients.Stats).
	Clients func() (size int, hits, misses uint64)
	// Revocations returns how many deny-listed token ids and cutoffs are held
	// (cache.Revocations.Size).
	Revocations func() (jtis, cutoffs int)
	// Extra gauges, by metric name without the namespace (e.g. rate limiter buckets).
	Gauges map[string]GaugeFunc
}

// GaugeFunc is a gauge read at scrape time.
type GaugeFunc struct {
	Help  string
	Value func() float64
}

// RegisterCaches adds the cache figures to the registry, read at scrape time.
func (m *Metrics) RegisterCaches(s CacheStats) {
	if s.Clients != nil {
		m.reg.MustRegister(&clientCacheCollector{
			stats:  s.Clients,
			size:   prometheus.NewDesc(Namespace+"_client_cache_entries", "Clients held in the in-memory cache.", nil, nil),
			hits:   prometheus.NewDesc(Namespace+"_client_cache_hits_total", "Client lookups answered from the cache.", nil, nil),
			misses: prometheus.NewDesc(Namespace+"_client_cache_misses_total", "Client lookups that went to the database.", nil, nil),
		})
	}
	if s.Revocations != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "revoked_tokens_cached",
				Help: "Deny-listed access token ids held in memory.",
			}, func() float64 { j, _ := s.Revocations(); return float64(j) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "revocation_cutoffs_cached",
				Help: "Per-client and per-user revocation cutoffs held in memory.",
			}, func() float64 { _, c := s.Revocations(); return float64(c) }),
		)
	}
	for name, g := range s.Gauges {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: name, Help: g.Help,
		}, g.Value))
	}
}

// RegisterPool adds the database pool's statistics to the registry.
func (m *Metrics) RegisterPool(stat func() *pgxpool.Stat) {
	m.reg.MustRegister(NewPoolCollector(stat))
}

type clientCacheCollector struct {
	stats              func() (int, uint64, uint64)
	size, hits, misses *prometheus.Desc
}

func (c *clientCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.hits
	ch <- c.misses
}

func (c *clientCacheCollector) Collect(ch chan<- prometheus.Metric) {
	size, hits, misses := c.stats()
	ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(size))
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(misses))
}
