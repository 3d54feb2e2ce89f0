/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package node runs a real single-node Kubernetes cluster on this machine for `make e2e` and
// `make cluster`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet
// and kube-proxy (iptables mode), built from the Go module proxy (hack/tools/envtest and
// hack/tools/node), with Debian's containerd, runc and CNI plugins. Images are imported from
// tarballs built in Go (make image): no Docker and no registry.
//
// Everything stays on this machine: the node's address is one the harness puts on a dummy
// interface of its own, the pods sit on a bridge with routes only to the Service range and
// the node, nothing is masqueraded to the outside, and forwarded traffic from the pods to
// any other address is dropped.
//
// It needs root. What it changes on the host (sysctls, network links, iptables chains,
// cgroups, mounts, the fixed paths the kubelet writes) is recorded first and put back by
// Stop, or by Teardown after a crash; a second run starts clean.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// NodeName is the name the node registers with.
	NodeName = "authly-e2e"
	// PauseImage is the sandbox image, built from hack/node/pause and imported.
	PauseImage = "localhost/pause:e2e"
	// DummyLink holds the node's address (a bridge with no ports: this kernel has no dummy
	// links).
	DummyLink = "authly-e2e0"
	// BridgeName is the pods' bridge.
	BridgeName = "authly-cni0"
	// firewallComment tags the harness's own iptables rules, so that teardown finds them.
	firewallComment = "authly-e2e"
	// Ports on the host. etcd's are not its defaults, so that a developer's etcd is safe.
	etcdClientPort = 23790
	etcdPeerPort   = 23800
	apiServerPort  = 6443
)

// Options say where the cluster lives and what it runs.
type Options struct {
	// Dir holds everything of the cluster; Stop removes it. Default /var/lib/authly-e2e.
	Dir string
	// LogDir receives each component's log, kept after Stop. Default Dir/../authly-e2e-logs.
	LogDir string
	// K8sBin holds etcd and kube-apiserver (make envtest); NodeBin holds kubelet,
	// kube-proxy, kube-scheduler, kube-controller-manager and kubectl (hack/tools/node).
	K8sBin, NodeBin string
	// Images are image tarballs imported into the node's containerd; one must be PauseImage.
	Images []string
	// NodeIP is the node's address; PodCIDR and ServiceCIDR the pods' and Services' ranges.
	NodeIP, PodCIDR, ServiceCIDR string
	// CNIBinDir holds the CNI plugins (Debian: /usr/lib/cni).
	CNIBinDir string
	// Progress receives a line per step. Nil discards them.
	Progress io.Writer
}

func (o *Options) setDefaults() {
	if o.Dir == "" {
		o.Dir = "/var/lib/authly-e2e"
	}
	if o.LogDir == "" {
		o.LogDir = filepath.Join(filepath.Dir(o.Dir), "authly-e2e-logs")
	}
	if o.NodeIP == "" {
		o.NodeIP = "10.251.0.1"
	}
	if o.PodCIDR == "" {
		o.PodCIDR = "10.251.1.0/24"
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.251.2.0/24"
	}
	if o.CNIBinDir == "" {
		o.CNIBinDir = "/usr/lib/cni"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Cluster is a running single-node cluster.
type Cluster struct {
	opts  Options
	pki   *pki
	procs []*process // in start order; stopped in reverse
	// Kubeconfig is the cluster-admin kubeconfig; Config the same as a rest.Config.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
}

// Start brings the cluster up: on return the node is Ready and the default ServiceAccount
// exists. On error everything started is torn down again.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts.setDefaults()
	if os.Geteuid() != 0 {
		return nil, errors.New("node: the single-node cluster needs root (containerd, the kubelet, iptables)")
	}
	if err := preflight(opts); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts}
	// Whatever a previous run left behind goes first.
	if err := Teardown(opts); err != nil {
		return nil, fmt.Errorf("node: clean up a previous run: %w", err)
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	_ = os.RemoveAll(opts.LogDir)
	for _, d := range []string{opts.Dir, opts.LogDir, c.path("containerd"), c.path("kubelet"), c.path("etcd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"host settings", c.prepareHost},
		{"certificates", c.writePKI},
		{"etcd", c.startEtcd},
		{"kube-apiserver", c.startAPIServer},
		{"kube-controller-manager and kube-scheduler", c.startControllers},
		{"containerd and images", c.startContainerd},
		{"kubelet and kube-proxy", c.startNode},
		{"node Ready", c.waitNodeReady},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("node: %s: %w", s.name, err)
		}
		_, _ = fmt.Fprintf(opts.Progress, "node: %s (%s)\n", s.name, time.Since(start).Round(10*time.Millisecond))
	}
	return c, nil
}

func preflight(o Options) error {
	var missing []string
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	for _, b := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join(o.CNIBinDir, b)); err != nil {
			missing = append(missing, "CNI plugin "+b)
		}
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(o.K8sBin, b)); err != nil {
			missing = append(missing, filepath.Join(o.K8sBin, b)+" (make envtest)")
		}
	}
	for _, b := range []string{"kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.NodeBin, b)); err != nil {
			missing = append(missing, filepath.Join(o.NodeBin, b)+" (make node-binaries)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("node: missing %s; Debian packages: containerd runc containernetworking-plugins iptables iproute2", strings.Join(missing, ", "))
	}
	return nil
}

func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.opts.Dir}, elem...)...)
}

// ContainerdSocket is the node's containerd endpoint (a short path: sockets are limited to
// 108 bytes).
func (c *Cluster) ContainerdSocket() string { return c.path("containerd", "containerd.sock") }

// NodeIP is the node's address: where the host's Postgres listens for the pods.
func (c *Cluster) NodeIP() string { return c.opts.NodeIP }

// PodCIDR is the pods' address range.
func (c *Cluster) PodCIDR() string { return c.opts.PodCIDR }

// LogDir holds the components' logs.
func (c *Cluster) LogDir() string { return c.opts.LogDir }

func (c *Cluster) bin(name string) string {
	switch name {
	case "etcd", "kube-apiserver":
		return filepath.Join(c.opts.K8sBin, name)
	}
	return filepath.Join(c.opts.NodeBin, name)
}

func (c *Cluster) start(name string, args ...string) (*process, error) {
	p, err := startProcess(c.opts.LogDir, name, c.bin(name), args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// prepareHost records the host's settings, then sets the node's sysctls, its address on a
// dummy link and the forwarding guard.
func (c *Cluster) prepareHost(context.Context) error {
	if _, err := saveHostState(c.path("host-state.json")); err != nil {
		return err
	}
	if err := setSysctls(nodeSysctls); err != nil {
		return err
	}
	if err := run("ip", "link", "add", DummyLink, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "addr", "add", c.opts.NodeIP+"/32", "dev", DummyLink); err != nil {
		return err
	}
	if err := run("ip", "link", "set", DummyLink, "up"); err != nil {
		return err
	}
	return c.guardForwarding()
}

// guardForwarding drops whatever the pods send to an address outside their own range that
// the host would forward. Services are translated to pod addresses before this rule, and
// the node's own address is delivered locally, so only traffic bound off the machine meets it.
func (c *Cluster) guardForwarding() error {
	return run("iptables", "-I", "FORWARD", "1", "-s", c.opts.PodCIDR, "!", "-d", c.opts.PodCIDR,
		"-m", "comment", "--comment", firewallComment, "-j", "DROP")
}

func (c *Cluster) writePKI(context.Context) error {
	p, err := newPKI(c.path("pki"))
	if err != nil {
		return err
	}
	c.pki = p
	serviceIP, err := firstServiceIP(c.opts.ServiceCIDR)
	if err != nil {
		return err
	}
	if err := p.issue("apiserver", "kube-apiserver", nil, c.opts.NodeIP, "127.0.0.1", serviceIP, "localhost",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"); err != nil {
		return err
	}
	clients := []struct{ name, cn, group string }{
		{"admin", "kubernetes-admin", "system:masters"},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"},
		{"kubelet", "system:node:" + NodeName, "system:nodes"},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
		{"kube-proxy", "system:kube-proxy", ""},
	}
	server := "https://" + net.JoinHostPort(c.opts.NodeIP, fmt.Sprint(apiServerPort))
	for _, cl := range clients {
		var orgs []string
		if cl.group != "" {
			orgs = []string{cl.group}
		}
		if err := p.issue(cl.name, cl.cn, orgs); err != nil {
			return err
		}
		if err := p.kubeconfig(c.path(cl.name+".kubeconfig"), cl.name, server); err != nil {
			return err
		}
	}
	c.Kubeconfig = c.path("admin.kubeconfig")
	return p.serviceAccountKey()
}

func firstServiceIP(cidr string) (string, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return "", fmt.Errorf("service range %q: %w", cidr, err)
	}
	ip := n.IP.To4()
	if ip == nil {
		return "", fmt.Errorf("service range %q: only IPv4 is supported", cidr)
	}
	first := make(net.IP, 4)
	copy(first, ip)
	first[3]++
	return first.String(), nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	client := fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort)
	p, err := c.start("etcd", "--name", "default", "--data-dir", c.path("etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default="+peer,
		// A throwaway cluster: durability buys nothing and costs the tests time.
		"--unsafe-no-fsync", "--quota-backend-bytes", "2147483648")
	if err != nil {
		return err
	}
	return waitFor(ctx, "etcd", 30*time.Second, p, func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := c.start("kube-apiserver",
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort),
		"--bind-address", c.opts.NodeIP, "--advertise-address", c.opts.NodeIP,
		"--secure-port", fmt.Sprint(apiServerPort),
		"--tls-cert-file", c.pki.path("apiserver.crt"), "--tls-private-key-file", c.pki.path("apiserver.key"),
		"--client-ca-file", c.pki.path("ca.crt"),
		"--kubelet-client-certificate", c.pki.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", c.pki.path("apiserver-kubelet-client.key"),
		// Reach the kubelet (logs, exec) at the node's address: its name resolves nowhere,
		// and a lookup would leave the machine.
		"--kubelet-preferred-address-types", "InternalIP",
		"--service-cluster-ip-range", c.opts.ServiceCIDR,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", c.pki.path("sa.pub"),
		"--service-account-signing-key-file", c.pki.path("sa.key"),
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=false",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	return waitFor(ctx, "kube-apiserver", 90*time.Second, p, func() error {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (c *Cluster) startControllers(context.Context) error {
	kcm := c.path("kube-controller-manager.kubeconfig")
	if _, err := c.start("kube-controller-manager",
		"--kubeconfig", kcm, "--authentication-kubeconfig", kcm, "--authorization-kubeconfig", kcm,
		"--bind-address", "127.0.0.1",
		"--service-account-private-key-file", c.pki.path("sa.key"),
		"--root-ca-file", c.pki.path("ca.crt"),
		"--use-service-account-credentials",
		"--service-cluster-ip-range", c.opts.ServiceCIDR,
		"--leader-elect=false",
		"--profiling=false",
	); err != nil {
		return err
	}
	sched := c.path("kube-scheduler.kubeconfig")
	_, err := c.start("kube-scheduler",
		"--kubeconfig", sched, "--authentication-kubeconfig", sched, "--authorization-kubeconfig", sched,
		"--bind-address", "127.0.0.1", "--leader-elect=false", "--profiling=false")
	return err
}

func (c *Cluster) startContainerd(ctx context.Context) error {
	if err := c.writeContainerdConfig(); err != nil {
		return err
	}
	if err := c.writeCNIConfig(); err != nil {
		return err
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return err
	}
	p, err := startProcess(c.opts.LogDir, "containerd", bin, "--config", c.path("containerd", "config.toml"))
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	if err := waitFor(ctx, "containerd", 30*time.Second, p, func() error {
		return run("ctr", "--address", c.ContainerdSocket(), "version")
	}); err != nil {
		return err
	}
	for _, img := range c.opts.Images {
		if err := c.ImportImage(img); err != nil {
			return err
		}
	}
	return nil
}

// ImportImage imports an image tarball into the node's containerd, where the kubelet finds
// it (namespace k8s.io).
func (c *Cluster) ImportImage(tarball string) error {
	return run("ctr", "--address", c.ContainerdSocket(), "-n", "k8s.io", "images", "import", tarball)
}

// TagImage gives an image on the node a second name, as a new release's tag of the same image.
func (c *Cluster) TagImage(image, newName string) error {
	return run("ctr", "--address", c.ContainerdSocket(), "-n", "k8s.io", "images", "tag", "--force", image, newName)
}

func (c *Cluster) startNode(context.Context) error {
	if err := c.writeKubeletConfig(); err != nil {
		return err
	}
	if err := c.writeKubeProxyConfig(); err != nil {
		return err
	}
	if _, err := c.start("kubelet",
		"--config", c.path("kubelet", "config.yaml"),
		"--kubeconfig", c.path("kubelet.kubeconfig"),
		"--root-dir", c.path("kubelet", "root"),
		"--hostname-override", NodeName,
		"--node-ip", c.opts.NodeIP,
		"--v", "1",
	); err != nil {
		return err
	}
	_, err := c.start("kube-proxy", "--config", c.path("kube-proxy.yaml"), "--v", "1")
	return err
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	kubelet := c.proc("kubelet")
	if err := waitFor(ctx, "node", 2*time.Minute, kubelet, func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node not Ready: %s: %s", cond.Reason, cond.Message)
			}
		}
		return errors.New("node has no Ready condition yet")
	}); err != nil {
		return err
	}
	// Pods need their namespace's default ServiceAccount, which the controller manager makes.
	return waitFor(ctx, "default ServiceAccount", time.Minute, c.proc("kube-controller-manager"), func() error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func (c *Cluster) proc(name string) *process {
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// Kubectl runs the node's kubectl against the cluster and returns its standard output.
func (c *Cluster) Kubectl(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Memory is the resident memory of the node: its components' processes (etcd, the control
// plane, containerd, the kubelet, kube-proxy) and its pods (the kubepods cgroup).
func (c *Cluster) Memory() (components, pods int64) {
	for _, p := range c.procs {
		if p.cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				components += kb << 10
			}
		}
	}
	for _, f := range []string{"/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "/sys/fs/cgroup/kubepods/memory.current"} {
		if b, err := os.ReadFile(f); err == nil {
			pods, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			break
		}
	}
	return components, pods
}

// Stop stops every component, removes the pods, the network and the cluster's directory,
// and restores the host. The logs stay in LogDir.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if p.name == "containerd" {
			// The pods first: they are not children of containerd, and a stopped
			// containerd no longer stops them.
			killCgroup("kubepods")
		}
		p.stop(10 * time.Second)
	}
	c.procs = nil
	if err := Teardown(c.opts); err != nil {
		_, _ = fmt.Fprintf(c.opts.Progress, "node: teardown: %v\n", err)
	}
}

// Teardown removes what a cluster in opts.Dir left on the host, whether it stopped or
// crashed: pods, containerd shims, mounts, network namespaces and links, iptables chains,
// sysctls and the directory. It is safe to run when nothing is left.
func Teardown(opts Options) error {
	opts.setDefaults()
	killCgroup("kubepods")
	killMatching("containerd-shim", opts.Dir)
	for _, dir := range []string{opts.Dir, "/var/lib/kubelet", "/run/containerd"} {
		unmountUnder(dir)
	}
	removeNetns()
	var errs []error
	for _, link := range []string{BridgeName, DummyLink} {
		if linkExists(link) {
			if err := run("ip", "link", "delete", link); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := iptablesCleanup(firewallComment); err != nil {
		errs = append(errs, err)
	}
	if err := restoreHost(filepath.Join(opts.Dir, "host-state.json")); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
