/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/authly-dev/authly-operator/server/oauth"
)

// The middleware between the listener and the mux, outermost first: recoverPanics,
// trustProxies, securityHeaders, metrics, cors, rate limits. Each costs next to nothing
// on a request it has nothing to do with, since every request passes all of them.

// trustProxies replaces r.RemoteAddr with the client address from X-Forwarded-For when
// the connection comes from a trusted proxy, so that everything downstream (rate limits,
// sessions, logs) sees the client. The header is read from the right, skipping trusted
// proxies: entries to the left of the first untrusted one could have been written by
// anyone.
func trustProxies(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 {
			if a, ok := forwardedClient(r.RemoteAddr, xff, trusted); ok {
				r.RemoteAddr = netip.AddrPortFrom(a, 0).String()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient finds the client address in X-Forwarded-For values (all header lines,
// in order) of a request from peer. It reports false when the peer is not trusted or the
// header names no address.
func forwardedClient(peer string, xff []string, trusted []netip.Prefix) (netip.Addr, bool) {
	p, err := netip.ParseAddrPort(peer)
	if err != nil || !isTrusted(p.Addr().Unmap(), trusted) {
		return netip.Addr{}, false
	}
	var nearest netip.Addr // the leftmost address seen so far, all of them trusted
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			entry := line
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				line = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseForwarded(entry)
			if !ok {
				// Garbage: a trusted proxy would not have written it, so the nearest
				// address a trusted proxy vouched for is the best answer.
				return nearest, nearest.IsValid()
			}
			if !isTrusted(a, trusted) {
				return a, true
			}
			nearest = a
		}
	}
	return nearest, nearest.IsValid()
}

// parseForwarded reads one X-Forwarded-For entry: an address, possibly with a port or in
// brackets.
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Header values shared by every response; a slice of length and capacity one is never
// written to (Header.Add appends into a new array).
var (
	nosniff    = []string{"nosniff"}
	varyOrigin = []string{"Origin"}
	hsts       = []string{"max-age=31536000; includeSubDomains"}
)

// securityHeaders sets the headers every response carries; the pages add their own (CSP,
// X-Frame-Options, Referrer-Policy). HSTS only when the issuer is https: over plain http
// (development) it would be ignored, and a browser must not learn it for localhost.
func securityHeaders(issuer string, next http.Handler) http.Handler {
	https := strings.HasPrefix(issuer, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		if https {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// corsRoute is an endpoint browsers may call from the configured origins.
type corsRoute struct {
	methods string // Access-Control-Allow-Methods
	// preflight is the route pattern a preflight is counted under in the request
	// metrics: the mux never sees it.
	preflight string
}

// corsRoutes are the endpoints a single-page application calls: token, JWKS, discovery
// and userinfo. Authorize is a browser navigation and the admin API is for tools, so
// neither answers cross-origin calls.
var corsRoutes = map[string]corsRoute{
	oauth.PathToken:         {methods: "POST", preflight: "OPTIONS " + oauth.PathToken},
	oauth.PathJWKS:          {methods: "GET", preflight: "OPTIONS " + oauth.PathJWKS},
	oauth.PathOAuthMetadata: {methods: "GET", preflight: "OPTIONS " + oauth.PathOAuthMetadata},
	oauth.PathOIDCMetadata:  {methods: "GET", preflight: "OPTIONS " + oauth.PathOIDCMetadata},
	oauth.PathUserinfo:      {methods: "GET, POST", preflight: "OPTIONS " + oauth.PathUserinfo},
}

// cors answers cross-origin requests from the configured origins on corsRoutes: it echoes
// an allowed Origin (never "*" unless "*" is configured, and never with credentials: the
// endpoints take credentials in the Authorization header or the body, not cookies) and
// answers preflights itself.
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	allowed := make(map[string]bool, len(origins))
	anyOrigin := false
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "*" {
			anyOrigin = true
		}
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := corsRoutes[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		// The answer depends on Origin, also when it is refused: caches must know.
		if len(h["Vary"]) == 0 {
			h["Vary"] = varyOrigin
		} else {
			h.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		permitted := origin != "" && (anyOrigin || allowed[origin])
		allowOrigin := origin
		if anyOrigin {
			allowOrigin = "*"
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			r.Pattern = route.preflight
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !permitted {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.Set("Access-Control-Allow-Origin", allowOrigin)
			h.Set("Access-Control-Allow-Methods", route.methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if permitted {
			h.Set("Access-Control-Allow-Origin", allowOrigin)
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		}
		next.ServeHTTP(w, r)
	})
}
