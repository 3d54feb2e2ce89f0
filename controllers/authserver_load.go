/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/specs"
)

// requestsMetric is the server's counter of HTTP requests (server/metrics).
const requestsMetric = "authly_requests_total"

// defaultMinSampleInterval is the shortest time between two samples of one AuthServer: a
// rate over a shorter span says more about chance than about load.
const defaultMinSampleInterval = 10 * time.Second

// PodLoadObserver is the LoadObserver of a real cluster: it scrapes the /metrics of an
// AuthServer's ready pods, sums authly_requests_total per pod, and divides the increase since
// its previous sample by the time between them. Samples are kept in memory; after an
// operator restart the first reading only records a sample.
type PodLoadObserver struct {
	// Reader lists pods. The manager's API reader is best: caching every pod of the
	// cluster to read a few of them once a minute is not worth the memory.
	Reader client.Reader
	// HTTP scrapes the pods; nil means a client with a 5 second timeout.
	HTTP *http.Client
	// Clock dates the samples; nil means the real clock.
	Clock clock.PassiveClock
	// MinSampleInterval is the shortest time between two samples; 0 means 10 seconds.
	// Asked again sooner, the observer answers with the rate it last computed.
	MinSampleInterval time.Duration
	// PodURL overrides the address of a pod's metrics, for tests; nil means
	// http(s)://<pod IP>:8000/metrics.
	PodURL func(pod *corev1.Pod, scheme string) string

	mu      sync.Mutex
	samples map[types.NamespacedName]*loadSample
}

// loadSample is one reading of an AuthServer's pods and the rate computed from it.
type loadSample struct {
	at       time.Time
	counters map[types.UID]float64
	rate     float64
	hasRate  bool
}

// ObservedRPS implements LoadObserver.
func (o *PodLoadObserver) ObservedRPS(ctx context.Context, as *authlyv1.AuthServer) (float64, bool, error) {
	key := types.NamespacedName{Namespace: as.Namespace, Name: as.Name}
	now := o.now()
	o.mu.Lock()
	prev := o.samples[key]
	o.mu.Unlock()
	minInterval := o.MinSampleInterval
	if minInterval <= 0 {
		minInterval = defaultMinSampleInterval
	}
	if prev != nil && now.Sub(prev.at) < minInterval {
		return prev.rate, prev.hasRate, nil
	}

	var pods corev1.PodList
	if err := o.Reader.List(ctx, &pods, client.InNamespace(as.Namespace), client.MatchingLabels(specs.SelectorLabels(as))); err != nil {
		return 0, false, fmt.Errorf("list pods: %w", err)
	}
	httpClient, scheme, err := o.httpClient(ctx, as)
	if err != nil {
		return 0, false, err
	}
	cur := &loadSample{at: now, counters: map[types.UID]float64{}}
	var errs []error
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !podReady(pod) {
			continue
		}
		v, err := scrapeRequests(ctx, httpClient, o.podURL(pod, scheme))
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", pod.Name, err))
			continue
		}
		cur.counters[pod.UID] = v
	}
	if len(cur.counters) == 0 && len(errs) > 0 {
		return 0, false, errors.Join(errs...)
	}
	if prev != nil {
		cur.rate, cur.hasRate = requestRate(prev, cur)
	}
	o.mu.Lock()
	if o.samples == nil {
		o.samples = map[types.NamespacedName]*loadSample{}
	}
	o.samples[key] = cur
	o.mu.Unlock()
	return cur.rate, cur.hasRate, nil
}

// Forget drops the samples of a deleted AuthServer.
func (o *PodLoadObserver) Forget(key types.NamespacedName) {
	o.mu.Lock()
	delete(o.samples, key)
	o.mu.Unlock()
}

// requestRate is the request rate between two samples. Only pods in both count; a counter
// that went down was reset by a restart and counts from zero. The Service spreads requests
// evenly over the ready pods, so the rate of the pods in both samples is scaled up to all
// pods of the current one (pods come and go during a rollout or a scale-up).
func requestRate(prev, cur *loadSample) (float64, bool) {
	dt := cur.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		return 0, false
	}
	var increase float64
	common := 0
	for uid, v := range cur.counters {
		p, ok := prev.counters[uid]
		if !ok {
			continue
		}
		common++
		if v >= p {
			increase += v - p
		} else {
			increase += v
		}
	}
	if common == 0 {
		return 0, false
	}
	return increase / dt * float64(len(cur.counters)) / float64(common), true
}

// scrapeRequests reads a pod's metrics and sums the authly_requests_total series.
func scrapeRequests(ctx context.Context, c *http.Client, metricsURL string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, fmt.Errorf("metrics request: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping the metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", specs.PathMetrics, resp.Status)
	}
	return sumCounter(io.LimitReader(resp.Body, 16<<20), requestsMetric)
}

// sumCounter parses the Prometheus text format and sums every series of the counter name.
// A missing counter is 0: a server that has served nothing yet has no series.
func sumCounter(r io.Reader, name string) (float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return 0, fmt.Errorf("parse metrics: %w", err)
	}
	fam, ok := families[name]
	if !ok {
		return 0, nil
	}
	if fam.GetType() != dto.MetricType_COUNTER && fam.GetType() != dto.MetricType_UNTYPED {
		return 0, fmt.Errorf("%s is a %s, not a counter", name, fam.GetType())
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		if m.GetCounter() != nil {
			sum += m.GetCounter().GetValue()
		} else if m.GetUntyped() != nil {
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, nil
}

// httpClient is the client and scheme to scrape an AuthServer's pods with. A server that
// serves TLS itself presents the issuer's certificate: it is checked against the system
// roots plus the TLS Secret's ca.crt, for the issuer's host name, as the pods are reached
// by IP.
func (o *PodLoadObserver) httpClient(ctx context.Context, as *authlyv1.AuthServer) (*http.Client, string, error) {
	base := o.HTTP
	if base == nil {
		base = &http.Client{Timeout: 5 * time.Second}
	}
	if !specs.ServerTLS(as) {
		return base, "http", nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	var s corev1.Secret
	if err := o.Reader.Get(ctx, types.NamespacedName{Namespace: as.Namespace, Name: as.Spec.TLS.SecretName}, &s); err == nil {
		if ca := s.Data["ca.crt"]; len(ca) > 0 {
			roots.AppendCertsFromPEM(ca)
		}
	}
	host := ""
	if u, err := url.Parse(as.Spec.Issuer); err == nil {
		host = u.Hostname()
	}
	c := *base
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}}
	return &c, "https", nil
}

func (o *PodLoadObserver) podURL(pod *corev1.Pod, scheme string) string {
	if o.PodURL != nil {
		return o.PodURL(pod, scheme)
	}
	return scheme + "://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(specs.ServerPort)) + specs.PathMetrics
}

func (o *PodLoadObserver) now() time.Time {
	if o.Clock == nil {
		return time.Now()
	}
	return o.Clock.Now()
}

// podReady reports whether a pod serves: running, with an IP, Ready, not being deleted.
func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.PodIP == "" {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
