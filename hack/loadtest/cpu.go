/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat. Linux fixes it at 100
// for user space on every architecture Go supports.
const clockTicks = 100

// procTimes are the CPU times of one process from /proc/PID/stat, in clock ticks.
type procTimes struct {
	state                        byte
	ppid                         int
	utime, stime, cutime, cstime uint64
}

// parseStat reads the fields of a /proc/PID/stat line that matter here. The command name
// is in parentheses and may itself contain spaces or parentheses, so fields are counted
// from the last ')'.
func parseStat(line []byte) (procTimes, error) {
	end := bytes.LastIndexByte(line, ')')
	if end < 0 {
		return procTimes{}, fmt.Errorf("malformed stat line")
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := bytes.Fields(line[end+1:])
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("stat line has %d fields after the command", len(f))
	}
	num := func(i int) (uint64, error) { return strconv.ParseUint(string(f[i]), 10, 64) }
	t := procTimes{state: f[0][0]}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return t, err
	}
	t.ppid = ppid
	// cutime and cstime are signed in the kernel's format but never negative in practice.
	for i, dst := range []*uint64{&t.utime, &t.stime, &t.cutime, &t.cstime} {
		if *dst, err = num(11 + i); err != nil {
			return t, err
		}
	}
	return t, nil
}

func readStat(pid int) (procTimes, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procTimes{}, err
	}
	return parseStat(b)
}

// running reports whether pid is a process that has not exited: a child that exited but
// was not waited for yet is a zombie, which still answers signal 0.
func running(pid int) bool {
	t, err := readStat(pid)
	return err == nil && t.state != 'Z' && t.state != 'X'
}

// processCPU is the CPU seconds a process has used: its own user and system time (all
// threads) plus that of children it has waited for.
func processCPU(pid int) (float64, error) {
	t, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(t.utime+t.stime+t.cutime+t.cstime) / clockTicks, nil
}

// treeCPU is the CPU seconds of a process and its direct children: the process's own
// time, the time of the children it has reaped (cutime, cstime) and the time of its live
// children. For the postmaster that is every backend and auxiliary process, whether it
// is still running or exited during the run.
func treeCPU(pid int) (float64, error) {
	root, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	total := root.utime + root.stime + root.cutime + root.cstime
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		t, err := readStat(child)
		if err != nil || t.ppid != pid {
			// Gone between the listing and the read, or not ours.
			continue
		}
		total += t.utime + t.stime
	}
	return float64(total) / clockTicks, nil
}

// selfCPU is the CPU seconds this process (the load generator) has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
