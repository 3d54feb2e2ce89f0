/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/specs"
)

const metricsText = `# HELP authly_requests_total HTTP requests by endpoint (route pattern), method and status code.
# TYPE authly_requests_total counter
authly_requests_total{endpoint="POST /api/v1/oauth/token",method="POST",status_code="200"} %d
authly_requests_total{endpoint="GET /.well-known/jwks.json",method="GET",status_code="200"} 100
authly_requests_total{endpoint="POST /api/v1/oauth/token",method="POST",status_code="401"} 7
# HELP authly_request_duration_seconds HTTP request duration.
# TYPE authly_request_duration_seconds histogram
authly_request_duration_seconds_bucket{endpoint="GET /health",method="GET",le="0.005"} 900
authly_request_duration_seconds_bucket{endpoint="GET /health",method="GET",le="+Inf"} 1000
authly_request_duration_seconds_sum{endpoint="GET /health",method="GET"} 1.5
authly_request_duration_seconds_count{endpoint="GET /health",method="GET"} 1000
# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
`

func TestLoadSumCounter(t *testing.T) {
	got, err := sumCounter(strings.NewReader(fmt.Sprintf(metricsText, 893)), requestsMetric)
	if err != nil {
		t.Fatal(err)
	}
	if got != 1000 {
		t.Errorf("sum = %v, want 893+100+7 = 1000", got)
	}
	got, err = sumCounter(strings.NewReader("# TYPE go_goroutines gauge\ngo_goroutines 42\n"), requestsMetric)
	if err != nil || got != 0 {
		t.Errorf("no requests yet: %v, %v; want 0, nil", got, err)
	}
	if _, err := sumCounter(strings.NewReader("# TYPE authly_requests_total gauge\nauthly_requests_total 3\n"), requestsMetric); err == nil {
		t.Error("a gauge was summed as a counter")
	}
	if _, err := sumCounter(strings.NewReader("authly_requests_total{ 3\n"), requestsMetric); err == nil {
		t.Error("garbage parsed")
	}
}

// podMetrics serves each pod's counter at /metrics?pod=<name>.
type podMetrics struct {
	mu       sync.Mutex
	counters map[string]int
	scrapes  int
	fail     bool
}

func (m *podMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scrapes++
	if m.fail || r.URL.Path != "/metrics" {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	v, ok := m.counters[r.URL.Query().Get("pod")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	// The fixed series add 107 to every pod's count; the rate is of the differences.
	fmt.Fprintf(w, metricsText, v)
}

func (m *podMetrics) set(pod string, v int) {
	m.mu.Lock()
	m.counters[pod] = v
	m.mu.Unlock()
}

func (m *podMetrics) scrapeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scrapes
}

func serverPod(as *authlyv1.AuthServer, name, ip string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: as.Namespace, UID: types.UID("uid-" + name), Labels: specs.Labels(as)},
		Status: corev1.PodStatus{
			PodIP:      ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

// loadTestAuthServer is an AuthServer as far as the load observer reads one.
func loadTestAuthServer() *authlyv1.AuthServer {
	return &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "team-a", UID: "uid-1"},
		Spec:       authlyv1.AuthServerSpec{Issuer: "https://auth.team-a.example.com"},
	}
}

func TestLoadObserverRate(t *testing.T) {
	as := loadTestAuthServer()
	metrics := &podMetrics{counters: map[string]int{"a": 1000, "b": 5000}}
	srv := httptest.NewServer(metrics)
	defer srv.Close()

	otherServer := loadTestAuthServer()
	otherServer.Name = "other"
	pods := []client.Object{
		serverPod(as, "a", "10.0.0.1", true),
		serverPod(as, "b", "10.0.0.2", true),
		serverPod(as, "starting", "10.0.0.3", false),
		serverPod(otherServer, "other", "10.0.0.4", true),
	}
	c := fake.NewClientBuilder().WithObjects(pods...).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	var asked []string
	o := &PodLoadObserver{
		Reader: c,
		Clock:  clk,
		PodURL: func(pod *corev1.Pod, scheme string) string {
			asked = append(asked, scheme+":"+pod.Name)
			return srv.URL + "/metrics?pod=" + pod.Name
		},
	}
	ctx := context.Background()

	if _, ok, err := o.ObservedRPS(ctx, as); err != nil || ok {
		t.Fatalf("first sample: ok %v err %v, want no rate yet", ok, err)
	}
	if strings.Join(asked, ",") != "http:a,http:b" {
		t.Errorf("scraped %v, want the ready pods a and b over http", asked)
	}

	// Asked again too soon: the last answer, without scraping.
	clk.Step(5 * time.Second)
	before := metrics.scrapeCount()
	if _, ok, err := o.ObservedRPS(ctx, as); err != nil || ok {
		t.Fatalf("too soon: ok %v err %v", ok, err)
	}
	if metrics.scrapeCount() != before {
		t.Error("scraped again within the minimum sample interval")
	}

	// 55 s later in all: a served 1100 more requests, b 1650: 2750 / 55 = 50 rps.
	clk.Step(50 * time.Second)
	metrics.set("a", 2100)
	metrics.set("b", 6650)
	rps, ok, err := o.ObservedRPS(ctx, as)
	if err != nil || !ok || math.Abs(rps-50) > 1e-9 {
		t.Fatalf("rate = %v ok %v err %v, want 50", rps, ok, err)
	}

	// b restarted (its counter fell to 600, all new) and a served 1200 more in 60 s: 30 rps.
	clk.Step(60 * time.Second)
	metrics.set("a", 3300)
	metrics.set("b", 600-107)
	rps, ok, err = o.ObservedRPS(ctx, as)
	if err != nil || !ok || math.Abs(rps-(1200+600)/60.0) > 1e-9 {
		t.Fatalf("rate after a restart = %v ok %v err %v, want 30", rps, ok, err)
	}

	// Every pod failing is an error, not a rate of 0.
	clk.Step(60 * time.Second)
	metrics.mu.Lock()
	metrics.fail = true
	metrics.mu.Unlock()
	if _, _, err := o.ObservedRPS(ctx, as); err == nil {
		t.Error("no error when no pod could be scraped")
	}

	o.Forget(types.NamespacedName{Namespace: as.Namespace, Name: as.Name})
	metrics.mu.Lock()
	metrics.fail = false
	metrics.mu.Unlock()
	if _, ok, err := o.ObservedRPS(ctx, as); err != nil || ok {
		t.Errorf("after Forget: ok %v err %v, want a first sample again", ok, err)
	}
}

func TestLoadRequestRateScalesToNewPods(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prev := &loadSample{at: t0, counters: map[types.UID]float64{"a": 100, "b": 100}}
	cur := &loadSample{at: t0.Add(10 * time.Second), counters: map[types.UID]float64{"a": 200, "c": 5}}
	// Only a is in both: 10 rps; the Service spreads over a and c, so 20 rps in all.
	if rps, ok := requestRate(prev, cur); !ok || rps != 20 {
		t.Errorf("rate = %v ok %v, want 20", rps, ok)
	}
	if _, ok := requestRate(prev, &loadSample{at: cur.at, counters: map[types.UID]float64{"c": 5}}); ok {
		t.Error("a rate from no pod in both samples")
	}
}
