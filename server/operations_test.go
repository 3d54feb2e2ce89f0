/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func (e *testEnv) m2mClient() (*store.Client, string) {
	return e.client(store.Client{Name: "m2m", Type: store.Confidential, GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}})
}

func (e *testEnv) scrape() string {
	e.t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return body
}

// metricValue returns the value of the sample whose line starts with series (name and
// labels as exposed), or -1 when there is none.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func TestMetricsEndpointCountsByRoute(t *testing.T) {
	e := newTestEnv(t)
	client, secret := e.m2mClient()
	for range 3 {
		if res := e.tokenRequest(client.ID, secret, url.Values{"grant_type": {"client_credentials"}}); res.status != http.StatusOK {
			t.Fatalf("token: %d %s", res.status, res.Error)
		}
	}
	if res := e.tokenRequest(client.ID, "wrong", url.Values{"grant_type": {"client_credentials"}}); res.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", res.status)
	}
	for i := range 5 {
		resp, err := http.Get(e.URL + "/no/such/page/" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		_ = readBody(t, resp)
	}
	body := e.scrape()
	for series, want := range map[string]float64{
		`authly_requests_total{endpoint="/api/v1/oauth/token",method="POST",status_code="200"}`:                    3,
		`authly_requests_total{endpoint="/api/v1/oauth/token",method="POST",status_code="401"}`:                    1,
		`authly_requests_total{endpoint="other",method="GET",status_code="404"}`:                                   5,
		`authly_request_duration_seconds_count{endpoint="/api/v1/oauth/token",method="POST"}`:                      4,
		`authly_token_operations_total{grant_type="client_credentials",operation="issue",result="success"}`:        3,
		`authly_token_operations_total{grant_type="client_credentials",operation="issue",result="invalid_client"}`: 1,
		`authly_db_connections_max`:      30,
		`authly_client_cache_entries`:    1,
		`authly_client_cache_hits_total`: 3,
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, present := range []string{
		`authly_db_query_duration_seconds_count{operation="client_get"}`,
		`authly_db_connections_active`, `authly_db_connections_idle`, `authly_db_acquire_waits_total`,
		`authly_revoked_tokens_cached`, `authly_ratelimit_buckets`, `go_goroutines`, `process_cpu_seconds_total`,
	} {
		if metricValue(t, body, present) < 0 {
			t.Errorf("no sample %s", present)
		}
	}
	if strings.Contains(body, "/no/such/page") {
		t.Error("a raw request path became a label value")
	}
	// Every response carries the security headers; the issuer here is plain http.
	resp, err := http.Get(e.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("security headers on an http issuer: %v", resp.Header)
	}
}

func TestRateLimitPerClientOnTokenEndpoint(t *testing.T) {
	// 4 per second for the AuthServer, 2 replicas: this replica allows a burst of 2.
	e := newTestEnv(t, func(c *server.Config) { c.Replicas, c.TokenPerClientPerSecond = 2, 4 })
	client, secret := e.m2mClient()
	other, otherSecret := e.m2mClient()
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range 2 {
		if res := e.tokenRequest(client.ID, secret, cc); res.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, res.status, res.Error)
		}
	}
	res := e.tokenRequest(client.ID, secret, cc)
	if res.status != http.StatusTooManyRequests || res.Error != "temporarily_unavailable" {
		t.Fatalf("over the limit: %d %q, want 429 temporarily_unavailable", res.status, res.Error)
	}
	if ra := res.header.Get("Retry-After"); ra != "1" || res.ErrorDescription != "rate limit exceeded; retry after 1 s" {
		t.Errorf("Retry-After %q, description %q", ra, res.ErrorDescription)
	}
	if res := e.tokenRequest(other.ID, otherSecret, cc); res.status != http.StatusOK {
		t.Fatalf("another client is limited too: %d", res.status)
	}
	// Failed authentication spends nothing: the limit is per authenticated client.
	if res := e.tokenRequest(other.ID, "wrong", cc); res.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", res.status)
	}
	if res := e.tokenRequest(other.ID, otherSecret, cc); res.status != http.StatusOK {
		t.Fatalf("a failed attempt spent the client's budget: %d", res.status)
	}
	body := e.scrape()
	if got := metricValue(t, body, `authly_token_operations_total{grant_type="client_credentials",operation="issue",result="temporarily_unavailable"}`); got != 1 {
		t.Errorf("rate-limited token operations = %v, want 1", got)
	}
}

func TestRateLimitPerAddressBehindTrustedProxy(t *testing.T) {
	e := newTestEnv(t, func(c *server.Config) {
		c.TokenPerIPPerSecond = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	post := func(path, forwardedFor string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader("token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = readBody(t, resp)
		return resp
	}
	// Token, introspection and revocation share the address's bucket of 3.
	for _, p := range []string{"/api/v1/oauth/token", "/api/v1/oauth/introspect", "/api/v1/oauth/revoke"} {
		if resp := post(p, "198.51.100.7"); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("%s: limited within the budget", p)
		}
	}
	resp := post("/api/v1/oauth/introspect", "192.0.2.1, 198.51.100.7")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A different client behind the same proxy has its own bucket.
	if resp := post("/api/v1/oauth/introspect", "198.51.100.8"); resp.StatusCode == http.StatusTooManyRequests {
		t.Fatal("another client address shares the bucket")
	}
	body := e.scrape()
	if got := metricValue(t, body, `authly_requests_total{endpoint="/api/v1/oauth/introspect",method="POST",status_code="429"}`); got != 1 {
		t.Errorf("refusals counted under the route: %v, want 1", got)
	}
}

func TestRateLimitAuthorizePerMinute(t *testing.T) {
	e := newTestEnv(t, func(c *server.Config) { c.LoginPerIPPerMinute = 2 })
	c := newBrowser(t)
	for i := range 2 {
		if resp, _ := c.get(e.URL + "/api/v1/oauth/authorize?client_id=nope"); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("request %d limited", i)
		}
	}
	resp, _ := c.get(e.URL + "/api/v1/oauth/authorize?client_id=nope")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("third authorize within a minute: %d, Retry-After %q; want 429, 30", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestCORSOnServerEndpoints(t *testing.T) {
	e := newTestEnv(t, func(c *server.Config) { c.CORSOrigins = []string{"https://spa.example.com"} })
	req, _ := http.NewRequest(http.MethodOptions, e.URL+"/api/v1/oauth/token", nil)
	req.Header.Set("Origin", "https://spa.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.com" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	get := func(path string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
		req.Header.Set("Origin", "https://spa.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = readBody(t, resp)
		return resp
	}
	if resp := get("/.well-known/jwks.json"); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.com" {
		t.Errorf("JWKS: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get("/api/v1/oauth/authorize?client_id=x"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("authorize answers cross-origin: %v", resp.Header)
	}
	if got := metricValue(t, e.scrape(), `authly_requests_total{endpoint="/api/v1/oauth/token",method="OPTIONS",status_code="204"}`); got != 1 {
		t.Errorf("preflights counted under the route: %v, want 1", got)
	}
}

// TestReadyFailsDuringShutdown serves on a listener, cancels, and watches readiness fail
// while the server drains, before the listener closes.
func TestReadyFailsDuringShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.Issuer = base
	cfg.Password = fastPasswords
	cfg.ShutdownGrace = 8 * time.Second // drains for 2s
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status := func(path string) int {
		resp, err := client.Get(base + path)
		if err != nil {
			return -1
		}
		_ = readBody(t, resp)
		return resp.StatusCode
	}
	waitFor(t, "readiness", func() bool { return status("/ready") == http.StatusOK })
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + "/health"); err != nil {
		t.Fatal(err)
	} else if _ = readBody(t, resp); resp.Close {
		t.Error("Connection: close before the drain: keep-alive is off")
	}

	cancel()
	waitFor(t, "readiness to fail", func() bool { return status("/ready") == http.StatusServiceUnavailable })
	// Still draining: the listener serves, liveness holds, requests succeed.
	if got := status("/health"); got != http.StatusOK {
		t.Fatalf("health while draining: %d", got)
	}
	if got := status("/.well-known/openid-configuration"); got != http.StatusOK {
		t.Fatalf("discovery while draining: %d", got)
	}
	// And every response tells keep-alive clients to close, so that they reconnect
	// (through a Service, to a replica that stays) before Shutdown closes the listener.
	keepAlive := &http.Client{Timeout: 2 * time.Second}
	resp, err := keepAlive.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_ = readBody(t, resp)
	if !resp.Close {
		t.Error("response while draining without Connection: close")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if got := status("/health"); got != -1 {
		t.Fatalf("listener still answers after shutdown: %d", got)
	}
}
