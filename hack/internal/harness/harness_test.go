/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package harness

import "testing"

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 5 distinct positive ports", ports)
		}
		seen[p] = true
	}
}

func TestOAuthError(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":"invalid_grant","error_description":"x"}`: "invalid_grant",
		`{"access_token":"a"}`:                              "",
		`not json`:                                          "",
		`{"error":"` + string(make([]byte, 65)) + `"}`:      "",
	} {
		if got := OAuthError([]byte(body)); got != want {
			t.Errorf("OAuthError(%q) = %q, want %q", body, got, want)
		}
	}
}
