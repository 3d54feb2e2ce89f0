/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pods' network must give them no way off the machine: routes only to the Service
// range and the node, no default gateway, no masquerading.
func TestCNIConfigKeepsPodsOnTheMachine(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	opts.setDefaults()
	c := &Cluster{opts: opts}
	if err := c.writeCNIConfig(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(opts.Dir, "cni", "net.d", "10-authly-e2e.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type             string `json:"type"`
			IsDefaultGateway bool   `json:"isDefaultGateway"`
			IPMasq           bool   `json:"ipMasq"`
			IPAM             struct {
				Routes []struct {
					Dst string `json:"dst"`
				} `json:"routes"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("the conflist is not JSON: %v\n%s", err, b)
	}
	bridge := conf.Plugins[0]
	if bridge.Type != "bridge" || bridge.IsDefaultGateway || bridge.IPMasq {
		t.Errorf("bridge plugin %+v: want no default gateway and no masquerading", bridge)
	}
	var dsts []string
	for _, r := range bridge.IPAM.Routes {
		dsts = append(dsts, r.Dst)
	}
	if want := opts.ServiceCIDR + "," + opts.NodeIP + "/32"; strings.Join(dsts, ",") != want {
		t.Errorf("pod routes %v, want only %s", dsts, want)
	}
}

func TestFirstServiceIP(t *testing.T) {
	for cidr, want := range map[string]string{"10.251.2.0/24": "10.251.2.1", "10.96.0.0/12": "10.96.0.1"} {
		if got, err := firstServiceIP(cidr); err != nil || got != want {
			t.Errorf("firstServiceIP(%s) = %q, %v; want %s", cidr, got, err, want)
		}
	}
	for _, bad := range []string{"10.0.0.1", "fd00::/64"} {
		if _, err := firstServiceIP(bad); err == nil {
			t.Errorf("firstServiceIP(%s) accepted", bad)
		}
	}
}

// Mount points in /proc/self/mountinfo escape spaces and the like in octal.
func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/var/lib/kubelet/pods/x/volumes`: `/var/lib/kubelet/pods/x/volumes`,
		`/a\040b`:                         `/a b`,
		`/tab\011end\134`:                 "/tab\tend\\",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// The operator's image and extra arguments become the chart's values as helm flags.
func TestOperatorValues(t *testing.T) {
	for _, tc := range []struct {
		image string
		args  []string
		want  string
	}{
		{"localhost/authly:dev", []string{"--load-observe-interval=10s"},
			`--set image.repository=localhost/authly --set-string image.tag=dev --set image.pullPolicy=IfNotPresent --set-json extraArgs=["--load-observe-interval=10s"]`},
		{"localhost:5000/authly", nil,
			`--set image.repository=localhost:5000/authly --set-string image.tag=latest --set image.pullPolicy=IfNotPresent --set-json extraArgs=[]`},
	} {
		if got := strings.Join(OperatorValues(tc.image, tc.args...), " "); got != tc.want {
			t.Errorf("OperatorValues(%q, %q):\n got %s\nwant %s", tc.image, tc.args, got, tc.want)
		}
	}
}
