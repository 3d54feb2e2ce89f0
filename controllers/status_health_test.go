/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// The README's "Status and GitOps" section gives Argo CD a Lua health check. These tests run
// that very text (read from README.md) with gopher-lua, as Argo CD runs it, and hold its
// answer against kstatus's, which Flux and `kubectl wait` follow: on hand-written statuses
// here, and on the objects the operator writes in status_kstatus_test.go.

// argoHealthFor is what Argo CD's health of an object must be for each kstatus status.
var argoHealthFor = map[status.Status]string{
	status.CurrentStatus:     "Healthy",
	status.InProgressStatus:  "Progressing",
	status.FailedStatus:      "Degraded",
	status.TerminatingStatus: "Progressing",
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// argoHealthScripts reads the argocd-cm ConfigMap in README.md and returns its health
// checks by kind.
func argoHealthScripts(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "resource.customizations.health.oauth.authly.dev_"
	for _, m := range yamlBlock.FindAllSubmatch(readme, -1) {
		if !strings.Contains(string(m[1]), prefix) {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(m[1], &cm); err != nil {
			t.Fatalf("the README's argocd-cm does not parse: %v", err)
		}
		if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
			t.Fatalf("the README's health checks are in %s %s, not ConfigMap argocd-cm", cm.Kind, cm.Name)
		}
		scripts := map[string]string{}
		for _, kind := range []string{"AuthServer", "OAuthClient", "Scope"} {
			s := cm.Data[prefix+kind]
			if strings.TrimSpace(s) == "" {
				t.Fatalf("the README's argocd-cm has no health check %s%s", prefix, kind)
			}
			scripts[kind] = s
		}
		return scripts
	}
	t.Fatal("README.md has no argocd-cm with the health checks")
	return nil
}

// argoHealth runs an Argo CD health script on obj as Argo CD does: obj as a global table, the
// script's return value a table with status and message.
func argoHealth(t *testing.T, script string, obj *unstructured.Unstructured) (health, message string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	// The libraries Argo CD opens for health checks.
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj.Object))
	if err := L.DoString(script); err != nil {
		t.Fatalf("the health check fails on %s: %v", obj.GetName(), err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health check returned %s, not a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts JSON-like values (as in unstructured objects) to Lua values.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case map[string]any:
		tbl := L.NewTable()
		for k, e := range v {
			tbl.RawSetString(k, toLua(L, e))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for _, e := range v {
			tbl.Append(toLua(L, e))
		}
		return tbl
	default:
		panic(fmt.Sprintf("toLua: %T", v))
	}
}

// checkHealthAgrees computes obj's kstatus status and fails unless every README health
// check says the same in Argo CD's words. It returns the kstatus result.
func checkHealthAgrees(t *testing.T, scripts map[string]string, obj *unstructured.Unstructured) *status.Result {
	t.Helper()
	res, err := status.Compute(obj)
	if err != nil {
		t.Fatalf("kstatus on %s: %v", obj.GetName(), err)
	}
	want, ok := argoHealthFor[res.Status]
	if !ok {
		t.Fatalf("kstatus %s on %s has no Argo CD health", res.Status, obj.GetName())
	}
	for kind, script := range scripts {
		health, msg := argoHealth(t, script, obj)
		if health != want {
			t.Errorf("%s %s: Argo CD health check for %s says %s (%q), kstatus %s (%q): want %s",
				obj.GetKind(), obj.GetName(), kind, health, msg, res.Status, res.Message, want)
		}
	}
	return res
}

// The README's health check and kstatus agree on every shape of status the operator
// writes, and on those around it (a spec not yet seen, an object being deleted).
func TestStatusArgoHealthMirrorsKstatus(t *testing.T) {
	scripts := argoHealthScripts(t)
	if scripts["AuthServer"] != scripts["OAuthClient"] || scripts["AuthServer"] != scripts["Scope"] {
		t.Error("the README's health checks differ between kinds")
	}
	cond := func(typ, st, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": st, "reason": reason, "message": msg, "lastTransitionTime": "2026-12-01T00:00:00Z"}
	}
	tests := []struct {
		name        string
		generation  int64
		deleting    bool
		status      map[string]any
		want        status.Status
		wantMessage string // in the Argo CD message
	}{
		{name: "no status at all", generation: 1, want: status.CurrentStatus},
		{name: "the CRD's default status, not yet seen", generation: 1, status: map[string]any{"observedGeneration": int64(0)}, want: status.InProgressStatus, wantMessage: "latest spec"},
		{name: "ready", generation: 3, status: map[string]any{"observedGeneration": int64(3), "conditions": []any{
			cond("Ready", "True", "Synced", "client x is registered")}}, want: status.CurrentStatus, wantMessage: "client x is registered"},
		{name: "ready for an older generation", generation: 4, status: map[string]any{"observedGeneration": int64(3), "conditions": []any{
			cond("Ready", "True", "Synced", "client x is registered")}}, want: status.InProgressStatus, wantMessage: "latest spec"},
		{name: "reconciling", generation: 2, status: map[string]any{"observedGeneration": int64(2), "conditions": []any{
			cond("Ready", "False", "AuthServerNotFound", "AuthServer \"main\" does not exist"),
			cond("Reconciling", "True", "AuthServerNotFound", "AuthServer \"main\" does not exist")}}, want: status.InProgressStatus, wantMessage: "AuthServerNotFound: AuthServer \"main\" does not exist"},
		{name: "stalled", generation: 2, status: map[string]any{"observedGeneration": int64(2), "conditions": []any{
			cond("Ready", "False", "InvalidSpec", "spec.redirectUris[0]: not https"),
			cond("Stalled", "True", "InvalidSpec", "spec.redirectUris[0]: not https")}}, want: status.FailedStatus, wantMessage: "InvalidSpec: spec.redirectUris[0]"},
		{name: "stalled before ready in the list", generation: 1, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("Stalled", "True", "SecretConflict", "Secret x (spec.secretName)"),
			cond("Ready", "False", "SecretConflict", "Secret x (spec.secretName)")}}, want: status.FailedStatus, wantMessage: "spec.secretName"},
		{name: "stalled False is no stall", generation: 1, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("Stalled", "False", "Fixed", ""),
			cond("Ready", "True", "DeploymentAvailable", "2 of 2 replicas ready")}}, want: status.CurrentStatus},
		{name: "only Ready False", generation: 1, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("Ready", "False", "DeploymentUnavailable", "0 of 2 replicas ready")}}, want: status.InProgressStatus, wantMessage: "0 of 2"},
		{name: "only Ready Unknown", generation: 1, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("Ready", "Unknown", "Checking", "")}}, want: status.InProgressStatus},
		{name: "other conditions only", generation: 1, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("DatabaseReady", "False", "DatabaseUnreachable", "")}}, want: status.CurrentStatus},
		{name: "being deleted", generation: 1, deleting: true, status: map[string]any{"observedGeneration": int64(1), "conditions": []any{
			cond("Ready", "True", "Synced", "")}}, want: status.TerminatingStatus, wantMessage: "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "oauth.authly.dev/v1",
				"kind":       "OAuthClient",
				"metadata":   map[string]any{"name": "web", "namespace": "team-a", "generation": tt.generation},
			}}
			if tt.deleting {
				obj.Object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-12-01T00:00:00Z"
			}
			if tt.status != nil {
				obj.Object["status"] = tt.status
			}
			res := checkHealthAgrees(t, scripts, obj)
			if res.Status != tt.want {
				t.Errorf("kstatus %s (%s), want %s", res.Status, res.Message, tt.want)
			}
			if _, msg := argoHealth(t, scripts["OAuthClient"], obj); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("Argo CD message %q, want it to contain %q", msg, tt.wantMessage)
			}
		})
	}
}
