/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command may hold spaces and parentheses; utime 250 and stime 50 ticks.
	line := "4242 (authly (op) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU([]byte(line))
	if err != nil || got != 3 {
		t.Fatalf("parseStatCPU = %v, %v; want 3 s", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 authly S 1")); err == nil {
		t.Error("a line without the command in parentheses was accepted")
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tauthly\nVmPeak:\t 900000 kB\nVmHWM:\t   153600 kB\nVmRSS:\t   102400 kB\nThreads:\t12\n"
	got, err := parseStatus(strings.NewReader(status))
	if err != nil || got.RSS != 100<<20 || got.Peak != 150<<20 {
		t.Fatalf("parseStatus = %+v, %v; want RSS 100 MiB, peak 150 MiB", got, err)
	}
	if _, err := parseStatus(strings.NewReader("Name:\tauthly\n")); err == nil {
		t.Error("a status without VmRSS was accepted")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 9.7e+07
go_goroutines 181
workqueue_depth{name="oauthclient"} 3
`
	got, err := parseMetrics(strings.NewReader(text), "go_memstats_heap_inuse_bytes", "go_goroutines")
	if err != nil || got["go_memstats_heap_inuse_bytes"] != 97e6 || got["go_goroutines"] != 181 {
		t.Fatalf("parseMetrics = %v, %v", got, err)
	}
	if _, err := parseMetrics(strings.NewReader(text), "go_memstats_sys_bytes"); err == nil {
		t.Error("a missing metric was not reported")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(21-i)*time.Second)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 10 * time.Second}, {95, 19 * time.Second}, {100, 20 * time.Second}, {1, time.Second}} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("the percentile of nothing is not 0")
	}
}
