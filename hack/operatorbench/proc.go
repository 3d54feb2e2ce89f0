/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat; Linux fixes it at 100.
const clockTicks = 100

// parseStatCPU returns utime+stime of a /proc/PID/stat line, in seconds. The command name
// is in parentheses and may contain spaces, so fields are counted from the last ')'.
func parseStatCPU(line []byte) (float64, error) {
	end := bytes.LastIndexByte(line, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15).
	f := bytes.Fields(line[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat line has %d fields after the command", len(f))
	}
	utime, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, err
	}
	return float64(utime+stime) / clockTicks, nil
}

// processCPU is the CPU seconds (user and system, all threads) process pid has used.
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// memStatus is the resident memory of a process from /proc/PID/status, in bytes.
type memStatus struct {
	RSS  uint64 // VmRSS: resident now
	Peak uint64 // VmHWM: the most that was ever resident
}

// parseStatus reads VmRSS and VmHWM from a /proc/PID/status file.
func parseStatus(r io.Reader) (memStatus, error) {
	var m memStatus
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmRSS" {
			m.RSS = kb * 1024
		} else {
			m.Peak = kb * 1024
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if seen != 2 {
		return m, fmt.Errorf("no VmRSS and VmHWM in the status file")
	}
	return m, nil
}

func processMemory(pid int) (memStatus, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memStatus{}, err
	}
	defer func() { _ = f.Close() }()
	return parseStatus(f)
}

// parseMetrics returns the values of the named unlabelled metrics in a Prometheus text
// exposition.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("metric %s not found", n)
		}
	}
	return out, nil
}

// scrapeMetrics reads the named metrics from a /metrics URL.
func scrapeMetrics(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body, names...)
}
