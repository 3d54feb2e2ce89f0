/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package packaging_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The kustomize bases under config/ are what `kubectl apply -k config/default` installs;
// these tests read them as the API server would, since no kubectl runs in the tests.

// repoRoot is the repository's root, seen from this package's directory.
const repoRoot = "../.."

var yamlDocSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// readDocs reads every YAML document of a file.
func readDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range yamlDocSeparator.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	NamePrefix string   `json:"namePrefix"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
}

// Every kustomization's resources exist and every manifest is well-formed YAML with a kind.
func TestPackagingKustomizeBasesAreWellFormed(t *testing.T) {
	var visit func(dir string)
	seen := map[string]bool{}
	visit = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		var k kustomization
		if err := yaml.UnmarshalStrict(mustRead(t, filepath.Join(dir, "kustomization.yaml")), &k); err != nil {
			t.Fatalf("%s/kustomization.yaml: %v", dir, err)
		}
		if k.Kind != "Kustomization" || len(k.Resources) == 0 {
			t.Errorf("%s/kustomization.yaml: kind %q, %d resources", dir, k.Kind, len(k.Resources))
		}
		for _, r := range k.Resources {
			p := filepath.Join(dir, r)
			st, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: resource %s: %v", dir, r, err)
				continue
			}
			if st.IsDir() {
				visit(p)
				continue
			}
			for i, doc := range readDocs(t, p) {
				var obj struct {
					APIVersion string         `json:"apiVersion"`
					Kind       string         `json:"kind"`
					Metadata   map[string]any `json:"metadata"`
				}
				if err := yaml.Unmarshal(doc, &obj); err != nil {
					t.Errorf("%s document %d: %v", p, i, err)
					continue
				}
				if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata["name"] == nil {
					t.Errorf("%s document %d: apiVersion %q kind %q metadata %v", p, i, obj.APIVersion, obj.Kind, obj.Metadata)
				}
			}
		}
	}
	visit(filepath.Join(repoRoot, "config", "default"))

	var def kustomization
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(repoRoot, "config", "default", "kustomization.yaml")), &def); err != nil {
		t.Fatal(err)
	}
	if def.Namespace != "authly-system" || def.NamePrefix != "authly-" || !slices.Equal(def.Resources, []string{"../crd", "../rbac", "../manager", "metrics_service.yaml"}) {
		t.Errorf("config/default = %+v", def)
	}
	for _, dir := range []string{"crd", "rbac", "manager"} {
		if !seen[filepath.Join(repoRoot, "config", dir)] {
			t.Errorf("config/default does not reach config/%s", dir)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The operator's Deployment runs `authly operator --leader-elect`, hardened, probed on 8081,
// with the image `make deploy` substitutes, also as the server pods' image.
func TestPackagingManagerDeployment(t *testing.T) {
	var dep *appsv1.Deployment
	for _, doc := range readDocs(t, filepath.Join(repoRoot, "config", "manager", "manager.yaml")) {
		var probe struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatal(err)
		}
		if probe.Kind == "Deployment" {
			dep = &appsv1.Deployment{}
			if err := yaml.UnmarshalStrict(doc, dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dep == nil {
		t.Fatal("no Deployment in config/manager/manager.yaml")
	}
	ps := dep.Spec.Template.Spec
	c := ps.Containers[0]
	if c.Image != "controller:latest" || len(c.Args) < 2 || c.Args[0] != "operator" || !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("image %s args %v", c.Image, c.Args)
	}
	// The operator takes the server pods' image from its own pod, so that swapping the
	// image with kustomize swaps both; a literal AUTHLY_IMAGE would not be swapped.
	fieldRefs := map[string]string{}
	for _, e := range c.Env {
		if e.Name == "AUTHLY_IMAGE" {
			t.Errorf("AUTHLY_IMAGE = %q: kustomize's images: would not change it", e.Value)
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fieldRefs[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if fieldRefs["POD_NAME"] != "metadata.name" || fieldRefs["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("POD_NAME and POD_NAMESPACE from the downward API: %v", fieldRefs)
	}
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Error("the operator may run as root")
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v", sc)
	}
	if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.IntValue() != 8081 {
		t.Errorf("liveness %+v", p)
	}
	if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.IntValue() != 8081 {
		t.Errorf("readiness %+v", p)
	}
	if ps.ServiceAccountName != "controller-manager" {
		t.Errorf("serviceAccountName = %q", ps.ServiceAccountName)
	}
	makefile := string(mustRead(t, filepath.Join(repoRoot, "Makefile")))
	if !strings.Contains(makefile, `sed "s|image: controller:latest|image: $(IMG)|"`) {
		t.Error("make deploy does not put IMG in place of the operator's controller:latest")
	}
}

// The generated role grants what the AuthServer reconciler does.
func TestPackagingManagerRoleCoversTheAuthServerReconciler(t *testing.T) {
	var role rbacv1.ClusterRole
	docs := readDocs(t, filepath.Join(repoRoot, "config", "rbac", "role.yaml"))
	if len(docs) != 1 {
		t.Fatalf("role.yaml has %d documents", len(docs))
	}
	if err := yaml.UnmarshalStrict(docs[0], &role); err != nil {
		t.Fatal(err)
	}
	if role.Name != "manager-role" {
		t.Errorf("role name %q", role.Name)
	}
	allows := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	need := []struct{ group, resource, verbs string }{
		{"oauth.authly.dev", "authservers", "get list watch update patch"},
		{"oauth.authly.dev", "authservers/status", "get update patch"},
		{"oauth.authly.dev", "authservers/finalizers", "update"},
		{"apps", "deployments", "get list watch create patch delete"},
		{"", "services", "get list watch create patch delete"},
		{"", "serviceaccounts", "get list watch create patch"},
		{"", "secrets", "get list watch create"},
		{"", "pods", "get list"},
		{"", "events", "create patch"},
		{"policy", "poddisruptionbudgets", "get list watch create patch delete"},
		{"networking.k8s.io", "ingresses", "get list watch create patch delete"},
		{"monitoring.coreos.com", "servicemonitors", "get create patch"},
	}
	for _, n := range need {
		for _, verb := range strings.Fields(n.verbs) {
			if !allows(n.group, n.resource, verb) {
				t.Errorf("manager-role does not allow %s on %s.%s", verb, n.resource, n.group)
			}
		}
	}
	if allows("", "secrets", "deletecollection") || allows("*", "*", "*") {
		t.Error("manager-role grants more than the reconcilers use")
	}
}

// The image: static, from a pinned builder, running as non-root with /authly as entrypoint.
func TestPackagingDockerfile(t *testing.T) {
	df := mustRead(t, filepath.Join(repoRoot, "Dockerfile"))
	for _, want := range []string{
		"FROM golang:1.26 AS builder",
		"CGO_ENABLED=0",
		"-trimpath",
		"-X main.version=${VERSION} -X main.commit=${COMMIT}",
		"FROM gcr.io/distroless/static:nonroot",
		"USER 65532",
		`ENTRYPOINT ["/authly"]`,
	} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
