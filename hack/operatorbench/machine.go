package main

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

// machine describes where and when the numbers were taken.
type machine struct {
	CPUs         int
	CPUModel     string
	Memory       string
	Kernel       string
	LoadAvgStart string
	LoadAvgEnd   string
	GoVersion    string
	Commit       string
	Postgres     string
	Started      time.Time
	Finished     time.Time
}

func describeMachine() machine {
	m := machine{
		CPUs:         runtime.NumCPU(),
		CPUModel:     cpuinfo("model name"),
		Memory:       meminfo("MemTotal"),
		Kernel:       readTrim("/proc/sys/kernel/osrelease"),
		LoadAvgStart: loadavg(),
		GoVersion:    runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Commit:       gitCommit(),
		Started:      time.Now(),
	}
	if bin, err := pgcluster.BinDir(); err == nil {
		if out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
			m.Postgres = strings.TrimSpace(string(out))
		}
	}
	return m
}

// finish records the load average and time at the end of the run.
func (m *machine) finish() {
	m.LoadAvgEnd = loadavg()
	m.Finished = time.Now()
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

func loadavg() string {
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

// gitCommit is HEAD of the working tree, marked -dirty when tracked files have changes.
func gitCommit() string {
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
