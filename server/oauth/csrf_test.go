/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIssuerOrigin(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://auth.example.com":           "https://auth.example.com",
		"https://Auth.Example.com:443/realm": "https://auth.example.com",
		"https://auth.example.com:8443":      "https://auth.example.com:8443",
		"http://127.0.0.1:8000":              "http://127.0.0.1:8000",
		"http://localhost:80":                "http://localhost",
		"http://[::1]:9000":                  "http://[::1]:9000",
	} {
		if got := issuerOrigin(issuer); got != want {
			t.Errorf("issuerOrigin(%q) = %q, want %q", issuer, got, want)
		}
	}
}

func TestCrossSitePost(t *testing.T) {
	p := &Provider{origin: "https://auth.example.com"}
	for _, tc := range []struct {
		origin, site string
		cross        bool
	}{
		{"", "", false}, // no metadata: the token alone decides
		{"https://auth.example.com", "same-origin", false},
		{"https://auth.example.com", "", false},
		{"", "same-origin", false},
		{"", "none", false},
		{"https://auth.example.com", "same-site", true},
		{"https://auth.example.com", "cross-site", true},
		{"https://evil.example.net", "", true},
		{"https://login.example.com", "same-site", true},
		{"null", "", true},
		{"http://auth.example.com", "", true},
		{"https://auth.example.com:8443", "", true},
		{"", "garbage", true},
	} {
		r := httptest.NewRequest(http.MethodPost, PathAuthorize, nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := p.crossSitePost(r); got != tc.cross {
			t.Errorf("Origin %q, Sec-Fetch-Site %q: crossSitePost = %v, want %v", tc.origin, tc.site, got, tc.cross)
		}
	}
}
