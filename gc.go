package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// serverGCPercent is the server's garbage collection target unless GOGC says otherwise.
// Its live heap is small (caches of clients, keys and revoked ids), but every request
// allocates: an ES256 signature alone allocates about 6 KiB inside crypto/ecdsa, and an
// argon2id verification its whole 19 MiB. At the default of 100 the collector runs many
// times a second under load; at 400 it runs a quarter as often, which measured 15% more
// client_credentials and 25% more authorize requests per CPU-second on the benchmark
// machine (bench/results/REPORT.md) for a heap a few tens of MiB larger.
const serverGCPercent = 400

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
