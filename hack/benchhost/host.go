/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package benchhost describes the machine a benchmark ran on, for the reports of the
// load tool and the operator benchmark.
package benchhost

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// Host describes where the numbers were taken.
type Host struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model"`
	Memory        string `json:"memory"`
	Kernel        string `json:"kernel"`
	LoadAvgStart  string `json:"loadavg_start"`
	LoadAvgEnd    string `json:"loadavg_end"`
	GoVersion     string `json:"go_version"`
	Commit        string `json:"commit"`
	AuthlyVersion string `json:"authly_version"`
	Postgres      string `json:"postgres"`
	Started       string `json:"started"`
	Finished      string `json:"finished"`
}

// Describe reads the machine, the toolchain, the commit and the PostgreSQL version.
func Describe() Host {
	m := Host{
		CPUs:         runtime.NumCPU(),
		CPUModel:     cpuinfo("model name"),
		Memory:       meminfo("MemTotal"),
		Kernel:       readTrim("/proc/sys/kernel/osrelease"),
		LoadAvgStart: LoadAvg(),
		GoVersion:    runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Commit:       GitCommit(),
		Started:      time.Now().UTC().Format(time.RFC3339),
	}
	if bin, err := pgcluster.BinDir(); err == nil {
		if out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
			m.Postgres = strings.TrimSpace(string(out))
		}
	}
	return m
}

// Finish records the load average and the time at the end of the run.
func (h *Host) Finish() {
	h.LoadAvgEnd = LoadAvg()
	h.Finished = time.Now().UTC().Format(time.RFC3339)
}

func cpuinfo(key string) string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func meminfo(key string) string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			var kb float64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil {
				return strconv.FormatFloat(kb/1024/1024, 'f', 1, 64) + " GiB"
			}
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// LoadAvg is the 1, 5 and 15 minute load averages of /proc/loadavg, or "unknown".
func LoadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// GitCommit is HEAD of the working tree, marked -dirty when it has changes.
func GitCommit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

// AuthlyVersion is what `bin version` prints.
func AuthlyVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
