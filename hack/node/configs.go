/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package node

import (
	"fmt"
	"os"
	"path/filepath"
)

// The configuration files of containerd, the CNI network, the kubelet and kube-proxy.
// Each setting that departs from a component's default says why.

func (c *Cluster) writeContainerdConfig() error {
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
# No CAP_SYS_RESOURCE in these VMs: containers must not ask for a lower OOM score than ours.
oom_score = 0
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
[plugins."io.containerd.grpc.v1.cri"]
  # Built locally and imported: nothing is pulled from a registry.
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 and no systemd here: the kubelet runs with the cgroupfs driver too.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
`, c.path("containerd", "root"), c.path("containerd", "state"), c.ContainerdSocket(),
		c.ContainerdSocket()+".ttrpc", c.path("containerd", "opt"), PauseImage,
		c.opts.CNIBinDir, c.path("cni", "net.d"))
	return os.WriteFile(c.path("containerd", "config.toml"), []byte(cfg), 0o644)
}

// writeCNIConfig is a bridge network for the pods. The pods get routes to the Service range
// and to the node only, and no default route and no masquerading: nothing a pod sends can
// leave this machine. The harness also drops forwarded traffic from the pods to anything
// outside the cluster's addresses (see guardForwarding).
func (c *Cluster) writeCNIConfig() error {
	cfg := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "authly-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %[1]q,
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %[2]q,
        "ranges": [[{"subnet": %[3]q}]],
        "routes": [{"dst": %[4]q}, {"dst": %[5]q}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, BridgeName, c.path("cni", "ipam"), c.opts.PodCIDR, c.opts.ServiceCIDR, c.opts.NodeIP+"/32")
	dir := c.path("cni", "net.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "10-authly-e2e.conflist"), []byte(cfg), 0o644)
}

func (c *Cluster) writeKubeletConfig() error {
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[2]s}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://%[3]s
# cgroup v1 without systemd in these VMs.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# No CAP_SYS_RESOURCE: the kubelet must not lower its own OOM score.
oomScoreAdj: 0
# A test node on a shared disk: do not evict or collect images because the disk is full-ish.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
# Fast feedback for the tests: node status and pod status without the production delays.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
shutdownGracePeriod: 0s
`, c.opts.NodeIP, c.pki.path("ca.crt"), c.ContainerdSocket())
	return os.WriteFile(c.path("kubelet", "config.yaml"), []byte(cfg), 0o644)
}

func (c *Cluster) writeKubeProxyConfig() error {
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: %[1]s}
hostnameOverride: %[2]s
clusterCIDR: %[3]s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# No CAP_SYS_RESOURCE: kube-proxy must not lower its own OOM score.
oomScoreAdj: 0
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
nodePortAddresses: [%[4]s/32]
`, c.path("kube-proxy.kubeconfig"), NodeName, c.opts.PodCIDR, c.opts.NodeIP)
	return os.WriteFile(c.path("kube-proxy.yaml"), []byte(cfg), 0o644)
}
