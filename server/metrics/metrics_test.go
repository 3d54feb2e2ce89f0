/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package metrics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "item")
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /early-hints", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

// recoverer stands in for the server's outermost middleware.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func TestMiddlewareLabelsByRoutePattern(t *testing.T) {
	m := New()
	h := recoverer(m.Middleware(newMux()))
	requests := []struct{ method, path string }{
		{"GET", "/items/1"}, {"GET", "/items/2"}, {"GET", "/items/three"},
		{"POST", "/items"},
		{"GET", "/silent"},
		{"GET", "/early-hints"},
		{"GET", "/no/such/path/1"}, {"GET", "/no/such/path/2"},
		{"DELETE", "/items"},
		{"BREW", "/items/1"},
		{"GET", "/panic"},
	}
	for _, rq := range requests {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rq.method, rq.path, nil))
	}
	want := map[[3]string]float64{
		{"/items/{id}", "GET", "200"}:  3,
		{"/items", "POST", "201"}:      1,
		{"/silent", "GET", "200"}:      1,
		{"/early-hints", "GET", "202"}: 1,
		{"other", "GET", "404"}:        2,
		{"other", "DELETE", "405"}:     1,
		{"other", "OTHER", "405"}:      1,
		{"/panic", "GET", "500"}:       1,
	}
	for labels, n := range want {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(labels[0], labels[1], labels[2])); got != n {
			t.Errorf("requests_total%v = %v, want %v", labels, got, n)
		}
	}
	if got := testutil.CollectAndCount(m.requests); got != len(want) {
		t.Errorf("%d request series, want %d (a raw path or method leaked into a label?)", got, len(want))
	}
	if got := testutil.CollectAndCount(m.duration); got != 8 {
		t.Errorf("%d duration series, want 8", got)
	}
}

func TestEndpointLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                         "other",
		"POST /api/v1/oauth/token": "/api/v1/oauth/token",
		"/admin/":                  "/admin/",
		"GET  /admin/clients/{id}": "/admin/clients/{id}",
		"GET example.com/x":        "example.com/x",
	} {
		if got := endpointLabel(pattern); got != want {
			t.Errorf("endpointLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestSeriesAreBounded(t *testing.T) {
	m := New()
	m.seriesLimit = 20
	for i := range 100 {
		m.seriesFor("/e"+strconv.Itoa(i), "GET", 200)
	}
	if n := len(*m.series.Load()); n != 21 {
		t.Fatalf("%d series cached, want the limit and the overflow series", n)
	}
	if got := testutil.CollectAndCount(m.requests); got != 21 {
		t.Fatalf("%d request series exposed, want 21", got)
	}
	// Known series still count under their own labels.
	m.seriesFor("/e3", "GET", 200).count.Inc()
	if got := testutil.ToFloat64(m.requests.WithLabelValues("/e3", "GET", "200")); got != 1 {
		t.Fatalf("existing series = %v, want 1", got)
	}
	m.seriesFor("/e99", "GET", 200).count.Inc()
	if got := testutil.ToFloat64(m.requests.WithLabelValues("other", "GET", "200")); got != 1 {
		t.Fatalf("overflow series = %v, want 1", got)
	}
}

func TestHooksAndExposition(t *testing.T) {
	m := New()
	m.TokenOperation("issue", "client_credentials", "success")
	m.TokenOperation("issue", "client_credentials", "success")
	m.TokenOperation("issue", "password", "invalid_grant")
	m.Authorization("public", "denied")
	m.ObserveQuery("client_get", 3*time.Millisecond)
	m.ObserveQuery("client_get", 40*time.Millisecond)
	m.ObserveQuery("code_redeem", time.Millisecond)
	m.SignatureWait(0)
	m.SignatureWait(20 * time.Millisecond)
	m.RegisterCaches(CacheStats{
		Clients:     func() (int, uint64, uint64) { return 4, 10, 3 },
		Revocations: func() (int, int) { return 7, 2 },
		Gauges:      map[string]GaugeFunc{"ratelimit_buckets": {Help: "buckets", Value: func() float64 { return 5 }}},
	})
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?pool_max_conns=7")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m.RegisterPool(pool.Stat)

	if got := testutil.ToFloat64(m.tokenOps.WithLabelValues("issue", "client_credentials", "success")); got != 2 {
		t.Errorf("token operations = %v, want 2", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, line := range []string{
		`authly_token_operations_total{grant_type="password",operation="issue",result="invalid_grant"} 1`,
		`authly_oauth_authorizations_total{client_type="public",result="denied"} 1`,
		`authly_db_query_duration_seconds_count{operation="client_get"} 2`,
		`authly_db_query_duration_seconds_bucket{operation="client_get",le="0.005"} 1`,
		`authly_db_query_duration_seconds_bucket{operation="client_get",le="0.05"} 2`,
		`authly_signature_wait_seconds_count 2`,
		`authly_signature_wait_seconds_bucket{le="0.0001"} 1`,
		`authly_signature_wait_seconds_bucket{le="0.025"} 2`,
		`authly_client_cache_entries 4`,
		`authly_client_cache_hits_total 10`,
		`authly_client_cache_misses_total 3`,
		`authly_revoked_tokens_cached 7`,
		`authly_revocation_cutoffs_cached 2`,
		`authly_ratelimit_buckets 5`,
		`authly_db_connections_active 0`,
		`authly_db_connections_max 7`,
		`authly_db_acquire_waits_total 0`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("exposition lacks %q", line)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// discard is a ResponseWriter that costs nothing, so that the benchmarks measure the
// middleware rather than the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchmarkHandler(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/.well-known/openid-configuration", nil)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		w := &discard{h: http.Header{}}
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discard{h: http.Header{}}
			for pb.Next() {
				r := *req
				h.ServeHTTP(w, &r)
			}
		})
	})
}

func helloMux() *http.ServeMux {
	body := []byte(`{"issuer":"https://auth.example.com"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(body)
	})
	return mux
}

// BenchmarkMiddleware compares a discovery-like handler behind the mux alone with the same
// behind the metrics middleware; the difference is what every request pays.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("mux", func(b *testing.B) { benchmarkHandler(b, helloMux()) })
	b.Run("metrics+mux", func(b *testing.B) { benchmarkHandler(b, New().Middleware(helloMux())) })
}

// TestDashboardUsesExposedMetrics keeps the Grafana dashboard in step with the metrics: it
// must be valid JSON, take its data source from a variable, and query only names this
// package exposes.
func TestDashboardUsesExposedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../config/grafana/authly-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Datasource struct{ UID string } `json:"datasource"`
			Targets    []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Name, Type string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	hasVar := false
	for _, v := range dash.Templating.List {
		hasVar = hasVar || (v.Name == "datasource" && v.Type == "datasource")
	}
	if !hasVar {
		t.Error("no datasource variable")
	}

	m := New()
	m.RegisterCaches(CacheStats{
		Clients:     func() (int, uint64, uint64) { return 0, 0, 0 },
		Revocations: func() (int, int) { return 0, 0 },
		Gauges:      map[string]GaugeFunc{"ratelimit_buckets": {Help: "x", Value: func() float64 { return 0 }}},
	})
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m.RegisterPool(pool.Stat)
	m.TokenOperation("issue", "none", "success")
	m.Authorization("public", "success")
	m.ObserveQuery("x", 0)
	m.seriesFor("/", "GET", 200)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range families {
		exposed[f.GetName()] = true
	}
	name := regexp.MustCompile(`\b(authly|go|process)_[a-z_]+\b`)
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) > 0 && p.Datasource.UID != "${datasource}" {
			t.Errorf("panel data source %q, want the variable", p.Datasource.UID)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				queried++
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && exposed[b] {
						base = b
					}
				}
				if !exposed[base] {
					t.Errorf("dashboard queries %s, which is not exposed", n)
				}
			}
		}
	}
	if queried < 20 {
		t.Errorf("only %d metric references found in the dashboard", queried)
	}
}
