/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OtherEndpoint labels requests that matched no route.
const OtherEndpoint = "other"

// DefaultSeriesLimit bounds the request series. Route patterns are few (routes x methods
// x status codes stay in the hundreds), so this only guards against a handler that sets an
// unexpected pattern: beyond it, new endpoints count as OtherEndpoint.
const DefaultSeriesLimit = 2048

// Middleware counts and times every request by route. It must wrap the ServeMux with no
// handler in between that replaces the *http.Request: the mux records the matched pattern
// in r.Pattern, which is read after the request is served. That keeps the label bounded (a
// route pattern, never the raw path) without routing twice.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*recorder)
		rec.ResponseWriter, rec.status = w, 0
		defer func() {
			status := rec.status
			if status == 0 {
				// Nothing written: net/http sends 200, unless the handler panicked, in
				// which case the recovering middleware outside answers 500.
				status = http.StatusOK
				if rec.panicking {
					status = http.StatusInternalServerError
				}
			}
			rec.ResponseWriter, rec.panicking = nil, false
			recorders.Put(rec)
			s := m.seriesFor(endpointLabel(r.Pattern), methodLabel(r.Method), status)
			s.count.Inc()
			s.duration.Observe(time.Since(start).Seconds())
		}()
		rec.panicking = true
		next.ServeHTTP(rec, r)
		rec.panicking = false
	})
}

// seriesFor returns the cached children of the request metrics for a label set. Reads
// take no lock: the map is replaced, never changed, when a label set is first seen.
func (m *Metrics) seriesFor(endpoint, method string, code int) *requestSeries {
	k := seriesKey{endpoint: endpoint, method: method, code: code}
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	cur := *m.series.Load()
	if s, ok := cur[k]; ok {
		return s
	}
	if len(cur) >= m.seriesLimit && endpoint != OtherEndpoint {
		k.endpoint = OtherEndpoint
		if s, ok := cur[k]; ok {
			return s
		}
	}
	s := &requestSeries{
		count:    m.requests.WithLabelValues(k.endpoint, k.method, strconv.Itoa(k.code)),
		duration: m.duration.WithLabelValues(k.endpoint, k.method),
	}
	next := make(map[seriesKey]*requestSeries, len(cur)+1)
	for key, v := range cur {
		next[key] = v
	}
	next[k] = s
	m.series.Store(&next)
	return s
}

// endpointLabel turns a ServeMux pattern ("POST /api/v1/oauth/token") into the endpoint
// label, its path; requests that matched no route have no pattern.
func endpointLabel(pattern string) string {
	if pattern == "" {
		return OtherEndpoint
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// methodLabel bounds the method label: a pattern without a method matches any method, and
// clients may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return "OTHER"
}

// recorder remembers the status a handler sends. Recorders are pooled: one request
// allocates none.
type recorder struct {
	http.ResponseWriter
	status int
	// panicking is true while the handler runs: still true in the deferred bookkeeping
	// means the handler panicked.
	panicking bool
}

var recorders = sync.Pool{New: func() any { return new(recorder) }}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses are informational; the final status comes later (101 is final).
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
