/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The chart under dist/chart and the kustomize bases under config/ are two ways to install
// one operator. These tests keep them from drifting: with its default values the chart
// renders the objects `kubectl kustomize config/default` renders, field by field, apart from
// what differs on purpose (normalize says what).

const (
	releaseName = "authly-operator"
	namespace   = "authly-system"
	// kustomizeImage is config/manager's placeholder, which `make deploy` or an overlay's
	// `images:` replaces.
	kustomizeImage = "controller:latest"
)

var repo = filepath.Join("..", "..", "..")

// object is a rendered Kubernetes object as JSON decodes it.
type object = map[string]any

// renderChart renders dist/chart as `helm template` (a client-only dry run of an install)
// does, with values over the defaults.
func renderChart(t *testing.T, values map[string]any) []object {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(repo, "dist", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.Replace = true
	r, err := install.Run(chrt, values)
	if err != nil {
		t.Fatal(err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		t.Fatalf("a release of type %T", r)
	}
	if len(rel.Hooks) != 0 {
		t.Errorf("the chart has %d hooks; it installs everything as ordinary objects", len(rel.Hooks))
	}
	return decode(t, rel.Manifest)
}

// kustomize builds a kustomization directory as `kubectl kustomize` does.
func kustomize(t *testing.T, dir string) []object {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// decode splits a multi-document YAML stream into objects, through JSON, so that both sides
// hold the same Go types (float64 numbers).
func decode(t *testing.T, stream string) []object {
	t.Helper()
	var out []object
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out
}

// key names an object: kind, namespace and name.
func key(o object) string {
	return fmt.Sprintf("%s %s/%s", o["kind"], str(o, "metadata", "namespace"), str(o, "metadata", "name"))
}

func str(o object, path ...string) string {
	v, _ := get(o, path...).(string)
	return v
}

func get(o object, path ...string) any {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func byKey(objs []object) map[string]object {
	m := map[string]object{}
	for _, o := range objs {
		m[key(o)] = o
	}
	return m
}

// helmOnlyLabels are Helm's and the release's labels, which config/ has no use for;
// config/'s own app.kubernetes.io/managed-by (kustomize) goes too.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

// normalize removes from a copy of o what differs between the two on purpose: the labels
// above, the CRDs' helm.sh/resource-policy annotation (kept on `helm uninstall`), and the
// operator's image (config/ has a placeholder that `make deploy` replaces).
func normalize(t *testing.T, o object) object {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c object
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	meta := c["metadata"].(map[string]any)
	if labels, ok := meta["labels"].(map[string]any); ok {
		for _, l := range helmOnlyLabels {
			delete(labels, l)
		}
		if len(labels) == 0 {
			delete(meta, "labels")
		}
	}
	if annotations, ok := meta["annotations"].(map[string]any); ok {
		delete(annotations, "helm.sh/resource-policy")
		if len(annotations) == 0 {
			delete(meta, "annotations")
		}
	}
	for _, container := range containers(c) {
		container["image"] = "IMAGE"
	}
	return c
}

// containers are the containers of a Deployment's pod template.
func containers(o object) []map[string]any {
	list, _ := get(o, "spec", "template", "spec", "containers").([]any)
	var out []map[string]any
	for _, c := range list {
		out = append(out, c.(map[string]any))
	}
	return out
}

func TestChartRendersConfigDefault(t *testing.T) {
	chart := byKey(renderChart(t, nil))
	kust := byKey(kustomize(t, filepath.Join(repo, "config", "default")))

	// config/default creates its namespace, labelled for the restricted Pod Security
	// Standard; a chart installs into the release's namespace (`-n authly-system
	// --create-namespace`, or one made beforehand) and never owns it, or `helm uninstall`
	// would delete it with everything in it.
	nsKey := "Namespace /" + namespace
	if _, ok := kust[nsKey]; !ok {
		t.Fatalf("config/default renders no namespace %s: %v", namespace, slices.Sorted(mapKeys(kust)))
	}
	delete(kust, nsKey)

	if diff := cmp.Diff(slices.Sorted(mapKeys(kust)), slices.Sorted(mapKeys(chart))); diff != "" {
		t.Fatalf("objects of config/default (-) and of the chart (+):\n%s", diff)
	}
	for k, want := range kust {
		got := chart[k]
		if diff := cmp.Diff(normalize(t, want), normalize(t, got)); diff != "" {
			t.Errorf("%s: config/default (-) and the chart (+) differ:\n%s", k, diff)
		}
	}

	// What normalize took away, checked here: the image, and Helm's labels.
	dep := chart["Deployment "+namespace+"/authly-controller-manager"]
	if img := containers(dep)[0]["image"]; img != "ghcr.io/authly-dev/authly:"+appVersion(t) {
		t.Errorf("chart image %v, want the release image at the chart's appVersion", img)
	}
	if img := containers(kust["Deployment "+namespace+"/authly-controller-manager"])[0]["image"]; img != kustomizeImage {
		t.Errorf("config/default image %v, want the placeholder %s", img, kustomizeImage)
	}
	for k, o := range chart {
		if o["kind"] == "CustomResourceDefinition" {
			continue
		}
		if got := str(o, "metadata", "labels", "app.kubernetes.io/managed-by"); got != "Helm" {
			t.Errorf("%s: managed-by %q, want Helm", k, got)
		}
	}
}

func mapKeys(m map[string]object) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "dist", "chart", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil || meta.AppVersion == "" {
		t.Fatalf("the chart's appVersion: %q %v", meta.AppVersion, err)
	}
	return meta.AppVersion
}

func mustJSON(t *testing.T, v any) object {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// The chart's CRDs are config/crd/bases, byte for byte as objects, with the keep annotation
// (crds.keep, the default) or without it; crds.install=false leaves them out.
func TestChartCRDsAreConfigCRDBases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("config/crd/bases: %v %v", files, err)
	}
	bases := map[string]object{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decode(t, string(b)) {
			bases[key(o)] = o
		}
	}
	crds := func(values map[string]any) map[string]object {
		out := map[string]object{}
		for _, o := range renderChart(t, values) {
			if o["kind"] == "CustomResourceDefinition" {
				out[key(o)] = o
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		keep   bool
	}{
		{"defaults: installed and kept", nil, true},
		{"crds.keep=false: deleted on uninstall", map[string]any{"crds": map[string]any{"keep": false}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := crds(tc.values)
			if diff := cmp.Diff(slices.Sorted(mapKeys(bases)), slices.Sorted(mapKeys(got))); diff != "" {
				t.Fatalf("CRDs of config/crd/bases (-) and of the chart (+); run make chart:\n%s", diff)
			}
			for k, want := range bases {
				policy := str(got[k], "metadata", "annotations", "helm.sh/resource-policy")
				if tc.keep && policy != "keep" || !tc.keep && policy != "" {
					t.Errorf("%s: helm.sh/resource-policy %q, keep %v", k, policy, tc.keep)
				}
				if diff := cmp.Diff(normalize(t, want), normalize(t, got[k])); diff != "" {
					t.Errorf("%s: config/crd/bases (-) and the chart (+) differ; run make chart:\n%s", k, diff)
				}
			}
		})
	}
	if got := crds(map[string]any{"crds": map[string]any{"install": false}}); len(got) != 0 {
		t.Errorf("crds.install=false renders %d CRDs", len(got))
	}
}

// The ServiceMonitor behind metrics.serviceMonitor.enabled is config/prometheus's, and it
// selects the metrics Service's port.
func TestChartServiceMonitor(t *testing.T) {
	for _, o := range renderChart(t, nil) {
		if o["kind"] == "ServiceMonitor" {
			t.Fatal("a ServiceMonitor by default: it needs the Prometheus Operator's CRDs")
		}
	}
	// config/prometheus as config/default would include it (kustomize takes relative paths).
	dir := t.TempDir()
	abs, err := filepath.Abs(filepath.Join(repo, "config", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	prometheus, err := filepath.Rel(dir, abs)
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("namespace: %s\nnamePrefix: authly-\nresources:\n- %s\n", namespace, prometheus)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	want := kustomize(t, dir)
	chart := renderChart(t, map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}})
	var got []object
	var svc object
	for _, o := range chart {
		switch o["kind"] {
		case "ServiceMonitor":
			got = append(got, o)
		case "Service":
			svc = o
		}
	}
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("%d ServiceMonitors in config/prometheus, %d in the chart", len(want), len(got))
	}
	if diff := cmp.Diff(normalize(t, want[0]), normalize(t, got[0])); diff != "" {
		t.Errorf("config/prometheus (-) and the chart (+) differ:\n%s", diff)
	}
	if diff := cmp.Diff(get(svc, "spec", "selector"), get(got[0], "spec", "selector", "matchLabels")); diff != "" {
		t.Errorf("the ServiceMonitor does not select the metrics Service's pods:\n%s", diff)
	}
	port := get(got[0], "spec", "endpoints").([]any)[0].(map[string]any)["port"]
	if svcPort := get(svc, "spec", "ports").([]any)[0].(map[string]any)["name"]; port != svcPort {
		t.Errorf("the ServiceMonitor scrapes port %v, the Service's is %v", port, svcPort)
	}
}

// deployment renders the chart with values and returns the operator's Deployment.
func deployment(t *testing.T, values map[string]any) object {
	t.Helper()
	for _, o := range renderChart(t, values) {
		if o["kind"] == "Deployment" {
			return o
		}
	}
	t.Fatal("the chart renders no Deployment")
	return nil
}

// Each value reaches the Deployment where it belongs, and nothing else changes with it.
func TestChartValues(t *testing.T) {
	defaults := deployment(t, nil)
	for _, tc := range []struct {
		name   string
		values string // YAML
		path   []string
		want   string // YAML
	}{
		{"image", "image: {repository: localhost/authly, tag: dev, pullPolicy: Never}",
			[]string{"spec", "template", "spec", "containers"},
			strings.ReplaceAll(strings.ReplaceAll(toYAML(t, get(defaults, "spec", "template", "spec", "containers")), "ghcr.io/authly-dev/authly:"+appVersion(t), "localhost/authly:dev"), "IfNotPresent", "Never")},
		{"watched namespaces and extra args", "{watchNamespaces: [team-a, team-b], extraArgs: [--load-observe-interval=10s, --zap-log-level=debug]}",
			[]string{"spec", "template", "spec", "containers", "0", "args"},
			"[operator, --leader-elect, --health-probe-bind-address=:8081, --metrics-bind-address=:8080, '--namespaces=team-a,team-b', --load-observe-interval=10s, --zap-log-level=debug]"},
		{"extra env", "extraEnv: [{name: AUTHLY_IMAGE, value: x/y:z}]",
			[]string{"spec", "template", "spec", "containers", "0", "env"},
			"[{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}, {name: AUTHLY_IMAGE, value: x/y:z}]"},
		{"pull secrets", "imagePullSecrets: [{name: regcred}]",
			[]string{"spec", "template", "spec", "imagePullSecrets"}, "[{name: regcred}]"},
		// Helm merges maps with the defaults: the memory limit stays unless set to null.
		{"resources", "resources: {requests: {cpu: 1, memory: 1Gi}}",
			[]string{"spec", "template", "spec", "containers", "0", "resources"}, "{requests: {cpu: 1, memory: 1Gi}, limits: {memory: 512Mi}}"},
		{"resources without the limit", "resources: {limits: null}",
			[]string{"spec", "template", "spec", "containers", "0", "resources"}, "{requests: {cpu: 100m, memory: 128Mi}}"},
		{"replicas", "replicaCount: 2", []string{"spec", "replicas"}, "2"},
		{"node selector", "nodeSelector: {kubernetes.io/os: linux}",
			[]string{"spec", "template", "spec", "nodeSelector"}, "{kubernetes.io/os: linux}"},
		{"tolerations", "tolerations: [{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]",
			[]string{"spec", "template", "spec", "tolerations"}, "[{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]"},
		{"affinity", "affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}",
			[]string{"spec", "template", "spec", "affinity"}, "{podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}"},
		{"pod annotations", "podAnnotations: {example.com/a: b}",
			[]string{"spec", "template", "metadata", "annotations"}, "{kubectl.kubernetes.io/default-container: manager, example.com/a: b}"},
		{"pod labels (the selector stays)", "podLabels: {team: ops}",
			[]string{"spec", "template", "metadata", "labels"}, "{app.kubernetes.io/name: authly-operator, app.kubernetes.io/component: controller-manager, team: ops}"},
		{"priority class", "priorityClassName: system-cluster-critical",
			[]string{"spec", "template", "spec", "priorityClassName"}, "system-cluster-critical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var values map[string]any
			if err := yaml.Unmarshal([]byte(tc.values), &values); err != nil {
				t.Fatal(err)
			}
			got := deployment(t, values)
			var want any
			if err := yaml.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, at(got, tc.path)); diff != "" {
				t.Errorf("%v with %s (-want +got):\n%s", tc.path, tc.values, diff)
			}
			// Everything else is as with the defaults.
			rest, base := mustJSON(t, got), mustJSON(t, defaults)
			set(rest, tc.path, nil)
			set(base, tc.path, nil)
			if diff := cmp.Diff(base, rest); diff != "" {
				t.Errorf("%s changed more than %v:\n%s", tc.values, tc.path, diff)
			}
			// The selector never changes: a Deployment's is immutable.
			if diff := cmp.Diff(get(defaults, "spec", "selector"), get(got, "spec", "selector")); diff != "" {
				t.Errorf("selector changed:\n%s", diff)
			}
		})
	}
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// at follows a path of map keys and list indexes.
func at(v any, path []string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// set replaces what path leads to with v (nil: removes it from its map).
func set(o object, path []string, v any) {
	parent := at(o, path[:len(path)-1])
	last := path[len(path)-1]
	switch x := parent.(type) {
	case map[string]any:
		if v == nil {
			delete(x, last)
		} else {
			x[last] = v
		}
	case []any:
		var i int
		if _, err := fmt.Sscan(last, &i); err == nil && i < len(x) {
			x[i] = v
		}
	}
}

// The operator's pod passes the restricted Pod Security Standard with the default values
// and with two replicas, the namespaces' strictest level.
func TestChartPodIsRestricted(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range []map[string]any{nil, {"replicaCount": 2, "extraArgs": []any{"--zap-log-level=debug"}}} {
		dep := deployment(t, values)
		b, err := json.Marshal(get(dep, "spec", "template"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl corev1.PodTemplateSpec
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatal(err)
		}
		results := evaluator.EvaluatePod(api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}, &tmpl.ObjectMeta, &tmpl.Spec)
		if agg := policy.AggregateCheckResults(results); !agg.Allowed {
			t.Errorf("values %v: the operator's pod violates the restricted standard: %s", values, agg.ForbiddenDetail())
		}
	}
}
