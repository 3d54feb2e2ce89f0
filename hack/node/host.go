/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// What the node changes on the host, and how the harness puts it back. The kubelet sets
// some kernel settings whatever its flags say, and writes under fixed paths; the node needs
// forwarding and bridge netfilter. All of it is recorded in a state file before the first
// change, so that a teardown after a crash (or a second run) still restores the host.

// sysctls the node needs, and those the kubelet sets on its own.
var (
	nodeSysctls = map[string]string{
		"net/ipv4/ip_forward":                 "1",
		"net/bridge/bridge-nf-call-iptables":  "1",
		"net/bridge/bridge-nf-call-ip6tables": "1",
	}
	kubeletSysctls = []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"}
)

// fixedPaths are paths the kubelet, containerd and the CNI plugins write whatever their
// flags say. Those that did not exist before the run are removed by the teardown.
var fixedPaths = []string{
	"/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/var/log/containers",
	"/run/containerd", "/run/netns", "/var/run/netns", "/etc/cni",
}

// hostState is what the run found before it changed anything.
type hostState struct {
	Sysctls map[string]string `json:"sysctls"`
	// Created are the fixed paths that did not exist before the run.
	Created []string `json:"created"`
}

// saveHostState records the host's settings in path, unless a previous run that did not
// finish left its record there: that one holds the values from before any run.
func saveHostState(path string) (*hostState, error) {
	if b, err := os.ReadFile(path); err == nil {
		st := &hostState{}
		if err := json.Unmarshal(b, st); err == nil {
			return st, nil
		}
	}
	st := &hostState{Sysctls: map[string]string{}}
	keys := append([]string{}, kubeletSysctls...)
	for k := range nodeSysctls {
		keys = append(keys, k)
	}
	for _, k := range keys {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return nil, fmt.Errorf("read sysctl %s: %w", k, err)
		}
		st.Sysctls[k] = strings.TrimSpace(string(b))
	}
	for _, p := range fixedPaths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			st.Created = append(st.Created, p)
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return st, os.WriteFile(path, b, 0o600)
}

func setSysctls(values map[string]string) error {
	var errs []error
	for k, v := range values {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// restoreHost puts back the sysctls and removes the fixed paths the run created.
func restoreHost(path string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	st := &hostState{}
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	errs := []error{setSysctls(st.Sysctls)}
	for _, p := range st.Created {
		unmountUnder(p)
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(path)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, strings.TrimSuffix(dir, "/")+"/") {
			mounts = append(mounts, mp)
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	return mounts
}

// unmountUnder detaches every mount at or below dir (pod volumes, container root
// filesystems, network namespaces), deepest first.
func unmountUnder(dir string) {
	for i := 0; i < 3; i++ {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return
		}
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// killCgroup kills every process in the cgroup subtree name of each v1 hierarchy (or of
// the v2 tree), then removes the cgroups, deepest first. The kubelet puts every container
// under "kubepods", so this ends the pods even when containerd is gone.
func killCgroup(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if _, err := os.Stat("/sys/fs/cgroup/" + name); err == nil {
		roots = append(roots, "/sys/fs/cgroup/"+name)
	}
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, d := range dirs {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}
}

// killMatching kills the processes whose command line holds every one of needles: the
// containerd shims of this cluster, which outlive containerd by design.
func killMatching(needles ...string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		match := true
		for _, n := range needles {
			if !strings.Contains(cmdline, n) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeNetns deletes the network namespaces the CNI runtime left (containerd names them
// cni-<uuid> under /run/netns).
func removeNetns() {
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "cni-") {
				p := filepath.Join(dir, e.Name())
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
				_ = os.Remove(p)
			}
		}
	}
}

// iptablesCleanup removes every chain and rule of the node (kube-proxy's and the kubelet's
// KUBE-*, the CNI plugins' CNI-*, and the harness's own rules, tagged with comment) by
// rewriting the tables without them. Nothing else on a test machine uses those names.
func iptablesCleanup(comment string) error {
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool + "-save"); err != nil {
			continue
		}
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s-save: %w", tool, err))
			continue
		}
		var kept []string
		changed := false
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") || strings.Contains(line, comment) {
				changed = true
				continue
			}
			kept = append(kept, line)
		}
		if !changed {
			continue
		}
		cmd := exec.Command(tool + "-restore")
		cmd.Stdin = strings.NewReader(strings.Join(kept, "\n"))
		if b, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore: %w: %s", tool, err, b))
		}
	}
	return errors.Join(errs...)
}

// linkExists reports whether a network interface of that name exists.
func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}
