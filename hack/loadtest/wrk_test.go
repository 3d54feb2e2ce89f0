/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLuaString(t *testing.T) {
	for in, want := range map[string]string{
		"":             `""`,
		"Basic YQ==":   `"Basic YQ=="`,
		`a"b\c`:        `"a\034b\092c"`,
		"x\ny\x00\xff": `"x\010y\000\255"`,
	} {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestWrkMedians(t *testing.T) {
	pts := []*wrkPoint{
		{Scenario: helloName, MicrosPerRequest: 20, MeanMs: 1, P99Ms: 3},
		{Scenario: "discovery", MicrosPerRequest: 25, VsHello: 0.8, MeanMs: 2, P99Ms: 4},
		{Scenario: helloName, MicrosPerRequest: 30, MeanMs: 1, P99Ms: 2},
		{Scenario: "discovery", MicrosPerRequest: 20, VsHello: 1.5, MeanMs: 2, P99Ms: 8},
		{Scenario: "discovery", MicrosPerRequest: 40, VsHello: 0.9, MeanMs: 2, P99Ms: 6},
	}
	got := wrkMedians(pts)
	if len(got) != 2 || got[0].Scenario != helloName || got[1].Scenario != "discovery" {
		t.Fatalf("medians %+v", got)
	}
	if got[0].MicrosPerRequest != 25 || got[0].TailRatio != 2.5 {
		t.Errorf("hello: %+v, want 25 µs (mean of the middle two) and p99/mean 2.5", got[0])
	}
	if d := got[1]; d.Runs != 3 || d.MicrosPerRequest != 25 || d.VsHello != 0.9 || d.TailRatio != 3 {
		t.Errorf("discovery: %+v, want 3 runs, 25 µs, 0.9, p99/mean 3", d)
	}
}

// TestWrkScript runs wrk (when installed: it is the point of the code under test) with the
// script of a scenario of distinct POST requests against a local server, which records
// what it receives; the summary must parse and every distinct request must arrive intact.
func TestWrkScript(t *testing.T) {
	wrkPath, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed (apt-get install -y wrk)")
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(b)] = true
		mu.Unlock()
	}))
	defer srv.Close()
	sc := &scenario{Name: "t", request: func(ctx context.Context, i int) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/p?q=1", strings.NewReader("token=a%2Bb&i="+string(rune('a'+i))))
		if err == nil {
			req.Header.Set("Content-Type", formType)
			req.Header.Set("Authorization", `Basic "x"`)
		}
		return req, err
	}}
	script, err := wrkScript(context.Background(), sc, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.lua")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wrkPath, "-t1", "-c2", "-d1s", "-s", path, srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `WRKJSON {"requests":`) {
		t.Errorf("no summary in wrk's output:\n%s", out)
	}
	for _, c := range "abc" {
		want := "POST /p?q=1 Basic \"x\" " + formType + " token=a%2Bb&i=" + string(c)
		if !seen[want] {
			t.Errorf("never received %q; received %v", want, seen)
		}
	}
}
