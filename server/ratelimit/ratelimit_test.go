/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package ratelimit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/authly-dev/authly-operator/server/settings"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestShareSplitsTheTotalAmongReplicas(t *testing.T) {
	for _, tc := range []struct {
		total    float64
		period   time.Duration
		replicas int
		want     Limit
	}{
		{100, time.Second, 1, Limit{Rate: 100, Burst: 100}},
		{100, time.Second, 4, Limit{Rate: 25, Burst: 25}},
		{30, time.Minute, 3, Limit{Rate: rate.Limit(10.0 / 60), Burst: 10}},
		{1, time.Second, 4, Limit{Rate: 0.25, Burst: 1}},
		{10, time.Second, 0, Limit{Rate: 10, Burst: 10}},
		{0, time.Second, 2, Limit{}},
		{-5, time.Second, 2, Limit{}},
	} {
		got := Share(tc.total, tc.period, tc.replicas)
		if got != tc.want {
			t.Errorf("Share(%v, %v, %d) = %+v, want %+v", tc.total, tc.period, tc.replicas, got, tc.want)
		}
	}
}

func TestKeyedBurstThenRefill(t *testing.T) {
	k := NewKeyed(Limit{Rate: 2, Burst: 3}, 0, 0)
	for i := range 3 {
		if ok, _ := k.Allow("a", t0); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, retry := k.Allow("a", t0)
	if ok {
		t.Fatal("request over the burst allowed")
	}
	if retry != 500*time.Millisecond {
		t.Fatalf("retry after %v, want 500ms (one token at 2/s)", retry)
	}
	if ok, _ := k.Allow("b", t0); !ok {
		t.Fatal("another key shares the bucket")
	}
	// A refused request must not consume: after the delay exactly one more is allowed.
	if ok, _ := k.Allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the announced delay")
	}
	if ok, _ := k.Allow("a", t0.Add(500*time.Millisecond)); ok {
		t.Fatal("allowed twice after one token's delay")
	}
}

func TestKeyedDisabledAllowsAll(t *testing.T) {
	k := NewKeyed(Share(0, time.Second, 1), 0, 0)
	for range 1000 {
		if ok, _ := k.Allow("a", t0); !ok {
			t.Fatal("disabled limit refused")
		}
	}
	if k.Len() != 0 {
		t.Fatalf("disabled limit holds %d buckets", k.Len())
	}
}

func TestKeyedSweepsIdleBuckets(t *testing.T) {
	// Burst 2 at 1/s: a bucket is full again 2s after its last use.
	k := NewKeyed(Limit{Rate: 1, Burst: 2}, 0, 10*time.Second)
	for i := range 100 {
		k.Allow(fmt.Sprint("idle-", i), t0)
	}
	k.Allow("busy", t0.Add(9500*time.Millisecond)) // 2 tokens, 1 left
	k.Allow("busy", t0.Add(10*time.Second))        // sweep due: the idle ones go; 0.5 left
	if n := k.Len(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
	// The survivor kept its state: a fresh bucket would allow this one.
	if ok, _ := k.Allow("busy", t0.Add(10*time.Second)); ok {
		t.Fatal("sweep reset a bucket in use")
	}
}

func TestKeyedStaysBounded(t *testing.T) {
	k := NewKeyed(Limit{Rate: 1, Burst: 1}, 50, time.Hour)
	for i := range 1000 {
		// All within one second: nothing is idle, so eviction must make room.
		k.Allow(fmt.Sprint("k", i), t0.Add(time.Duration(i)*time.Millisecond/2))
	}
	if n := k.Len(); n > 50 {
		t.Fatalf("%d buckets, want at most 50", n)
	}
	// Once the old ones are idle, a full set sweeps them before evicting.
	k.Allow("late", t0.Add(time.Hour))
	if n := k.Len(); n != 1 {
		t.Fatalf("%d buckets after a sweep on a full set, want 1", n)
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:4711":             "192.0.2.7",
		"192.0.2.7":                  "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:80":  "2001:db8:1:2::/64",
		"2001:db8:1:2::9":            "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":      "192.0.2.7",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not an address":             "not an address",
		"@":                          "@",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func newTestLimiter(clock *time.Time) *Limiter {
	l := New(Config{
		RateLimits: settings.RateLimits{Replicas: 2, TokenPerClientPerSecond: 4, TokenPerIPPerSecond: 6,
			LoginPerIPPerMinute: 4, AdminPerIPPerSecond: 2, UserCodeFailuresPerMinute: 6},
		Clock: func() time.Time { return *clock },
	}, Paths{Token: "/token", Introspect: "/introspect", Revoke: "/revoke", Authorize: "/authorize", AdminPrefix: "/admin/",
		DeviceAuthorization: "/device_authorization", Device: "/device"})
	l.Pattern = func(r *http.Request) string { return "POST " + r.URL.Path }
	return l
}

func TestMiddlewareLimitsPerAddressAndPath(t *testing.T) {
	now := t0
	l := newTestLimiter(&now)
	served := 0
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	do := func(path, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Token, introspect and revoke share 6/2 = 3 per second per address.
	for _, p := range []string{"/token", "/introspect", "/revoke"} {
		if w := do(p, "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("%s: status %d within the limit", p, w.Code)
		}
	}
	w := do("/token", "192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d over the limit, want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	var body struct{ Error, ErrorDescription string }
	if err := json.Unmarshal(w.Body.Bytes(), &struct {
		Error            *string `json:"error"`
		ErrorDescription *string `json:"error_description"`
	}{&body.Error, &body.ErrorDescription}); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	if body.Error != "temporarily_unavailable" || body.ErrorDescription != "rate limit exceeded; retry after 1 s" {
		t.Errorf("body %q", w.Body.String())
	}
	// Another address has its own bucket; other paths are not limited.
	if w := do("/token", "192.0.2.2:1000"); w.Code != 200 {
		t.Fatalf("other address: status %d", w.Code)
	}
	for range 20 {
		if w := do("/.well-known/jwks.json", "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("unlimited path: status %d", w.Code)
		}
	}
	// Authorize: 4/min / 2 replicas = 2 per minute, so the third waits 30s.
	do("/authorize", "192.0.2.1:1")
	do("/authorize", "192.0.2.1:1")
	w = do("/authorize", "192.0.2.1:1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("authorize over the limit: status %d, Retry-After %q; want 429, 30", w.Code, w.Header().Get("Retry-After"))
	}
	// The device verification page shares the authorize bucket; the device authorization
	// endpoint the token one.
	if w := do("/device", "192.0.2.1:1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("device page with the authorize bucket spent: status %d", w.Code)
	}
	if w := do("/device_authorization", "192.0.2.1:1000"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("device authorization with the token bucket spent: status %d", w.Code)
	}
	// Admin: 1 per second per replica.
	do("/admin/clients", "192.0.2.1:1")
	if w := do("/admin/users/x", "192.0.2.1:1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("admin over the limit: status %d", w.Code)
	}
	now = now.Add(time.Second)
	if w := do("/admin/users/x", "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("admin after refill: status %d", w.Code)
	}
}

func TestMiddlewareLabelsRefusals(t *testing.T) {
	now := t0
	l := newTestLimiter(&now)
	var pattern string
	h := l.Middleware(http.NotFoundHandler())
	for range 4 {
		r := httptest.NewRequest("POST", "/token", nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
		pattern = r.Pattern
	}
	if pattern != "POST /token" {
		t.Fatalf("refused request's pattern %q, want the route's", pattern)
	}
}

func TestAllowClient(t *testing.T) {
	now := t0
	l := newTestLimiter(&now)
	// 4 per second for the AuthServer, 2 per replica.
	for i := range 2 {
		if ok, _ := l.AllowClient("c1"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, retry := l.AllowClient("c1")
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("third request: ok=%v retry=%v, want refused for 500ms", ok, retry)
	}
	if ok, _ := l.AllowClient("c2"); !ok {
		t.Fatal("another client refused")
	}
	if n := l.Buckets(); n != 2 {
		t.Fatalf("%d buckets, want 2", n)
	}
}

// User codes that match nothing spend one bucket for all addresses: 6 a minute for the
// AuthServer, 3 per replica; lookups that match spend nothing.
func TestAllowUserCode(t *testing.T) {
	now := t0
	l := newTestLimiter(&now)
	for i := range 3 {
		if ok, _ := l.AllowUserCode(); !ok {
			t.Fatalf("lookup %d refused", i)
		}
		l.UserCodeMissed()
	}
	ok, retry := l.AllowUserCode()
	if ok || retry != 20*time.Second {
		t.Fatalf("after 3 misses: ok=%v retry=%v, want refused for 20s", ok, retry)
	}
	now = now.Add(20 * time.Second)
	if ok, _ := l.AllowUserCode(); !ok {
		t.Fatal("refused after the refill")
	}
	off := New(Config{RateLimits: settings.RateLimits{Replicas: 1}}, Paths{})
	for range 100 {
		off.UserCodeMissed()
	}
	if ok, _ := off.AllowUserCode(); !ok {
		t.Fatal("refused without a limit")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 30 * time.Second: 30} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func BenchmarkMiddlewareAllowed(b *testing.B) {
	l := New(Config{RateLimits: settings.RateLimits{Replicas: 1, TokenPerIPPerSecond: 1e9}}, Paths{Token: "/token"})
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("POST", "/token", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
