/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the share of the container's memory limit that the Go runtime
// aims to stay under (GOMEMLIMIT), unless GOMEMLIMIT is set: near the limit the collector
// runs as often as it must, whatever the GC percent, instead of the pod being killed.
const memoryLimitShare = 0.9

// cgroupMemoryMax is where cgroup v2 publishes the memory limit of this container.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// tuneGC applies gcPercent unless GOGC is set, and a soft memory limit below the cgroup's
// unless GOMEMLIMIT is set.
func tuneGC(gcPercent int, memoryMaxFile string) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if limit, ok := cgroupMemoryLimit(memoryMaxFile); ok {
			debug.SetMemoryLimit(int64(float64(limit) * memoryLimitShare))
		}
	}
}

// cgroupMemoryLimit reads a cgroup v2 memory.max file: a number of bytes, or "max" when
// there is no limit.
func cgroupMemoryLimit(file string) (int64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
