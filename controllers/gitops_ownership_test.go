/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
)

// gitopsManager is the field manager of the GitOps tool (Argo CD, Flux) in these tests.
const gitopsManager = "gitops"

// The manifests a GitOps tool applies. Some spec fields are left to their defaults
// (web's secretRotationGracePeriod, deletionPolicy), some are set to what the default
// would be ("24h", which Go's metav1.Duration prints as "24h0m0s"), and some are set to a
// zero value that the Go types omit (firstParty: false, default: false): an operator that
// sent the spec back through the Go types would change all of these.
var gitopsManifests = []string{`
apiVersion: oauth.authly.dev/v1
kind: AuthServer
metadata:
  name: main
spec:
  issuer: https://auth.team-a.example.com
  database:
    secretRef:
      name: authly-db
  tokens:
    accessTokenTTL: 15m
  resources:
    requests:
      cpu: "1"
`, `
apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata:
  name: web
spec:
  authServerRef:
    name: main
  grantTypes: [authorization_code, refresh_token]
  redirectUris:
  - https://web.team-a.example.com/callback
  scopes: [openid, profile]
  firstParty: false
`, `
apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata:
  name: orders-worker
spec:
  authServerRef:
    name: main
  clientId: orders-worker
  type: confidential
  grantTypes: [client_credentials]
  scopes: ["orders:read"]
  tokenEndpointAuthMethod: client_secret_post
  secretRotationGracePeriod: 24h
`, `
apiVersion: oauth.authly.dev/v1
kind: Scope
metadata:
  name: orders-read
spec:
  authServerRef:
    name: main
  name: "orders:read"
  description: Read orders
  default: false
`}

// applyAsGitOps server-side applies the manifests in namespace ns under field manager
// "gitops", as `kubectl apply --server-side` or Argo CD would.
func applyAsGitOps(t *testing.T, c client.Client, ns string, manifests []string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, m := range manifests {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(m), &u.Object); err != nil {
			t.Fatalf("manifest %s: %v", m, err)
		}
		u.SetNamespace(ns)
		if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(gitopsManager)); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		objs = append(objs, u)
	}
	return objs
}

// assertSpecOwnedByGitOps checks that an object applied by GitOps is as it left it:
// generation 1, and no field manager but gitops owns a field under spec.
func assertSpecOwnedByGitOps(t *testing.T, c client.Client, applied *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(applied.GroupVersionKind())
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(applied), got); err != nil {
		t.Fatal(err)
	}
	what := got.GetKind() + " " + got.GetName()
	if got.GetGeneration() != 1 {
		t.Errorf("%s: metadata.generation = %d, want 1 (the operator changed the spec)", what, got.GetGeneration())
	}
	for _, mf := range got.GetManagedFields() {
		if mf.FieldsV1 == nil || !bytes.Contains(mf.FieldsV1.GetRawBytes(), []byte(`"f:spec"`)) {
			continue
		}
		if mf.Manager != gitopsManager {
			t.Errorf("%s: manager %q (operation %s, subresource %q) owns fields under spec: %s", what, mf.Manager, mf.Operation, mf.Subresource, mf.FieldsV1.GetRawBytes())
		}
	}
	return got
}

// entryWrites wraps the OAuthClient and Scope reconcilers' client and records each write
// to an OAuthClient or Scope itself (status aside) that could carry more than metadata:
// an Update, or a patch whose body has anything but metadata.finalizers and
// metadata.resourceVersion.
type entryWrites struct {
	client.Client
	mu      sync.Mutex
	patches int
	bad     []string
}

func isEntry(obj client.Object) bool {
	switch obj.(type) {
	case *authlyv1.OAuthClient, *authlyv1.Scope, *authlyv1.AuthServer:
		return true
	}
	return false
}

func (w *entryWrites) note(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bad = append(w.bad, fmt.Sprintf(format, a...))
}

func (w *entryWrites) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if isEntry(obj) {
		w.note("Update of %T %s (sends the whole object, spec included)", obj, obj.GetName())
	}
	return w.Client.Update(ctx, obj, opts...)
}

func (w *entryWrites) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if isEntry(obj) {
		w.checkPatch(obj, patch)
	}
	return w.Client.Patch(ctx, obj, patch, opts...)
}

func (w *entryWrites) checkPatch(obj client.Object, patch client.Patch) {
	w.mu.Lock()
	w.patches++
	w.mu.Unlock()
	data, err := patch.Data(obj)
	if err != nil {
		w.note("patch of %T %s: %v", obj, obj.GetName(), err)
		return
	}
	if patch.Type() != types.MergePatchType {
		w.note("%s patch of %T %s: %s", patch.Type(), obj, obj.GetName(), data)
		return
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		w.note("patch of %T %s is not an object of objects (%v): %s", obj, obj.GetName(), err, data)
		return
	}
	var fields []string
	for top, sub := range body {
		for k := range sub {
			fields = append(fields, top+"."+k)
		}
	}
	sort.Strings(fields)
	for _, f := range fields {
		if f != "metadata.finalizers" && f != "metadata.resourceVersion" {
			w.note("patch of %T %s writes %v: %s", obj, obj.GetName(), fields, data)
			return
		}
	}
	if !slices.Contains(fields, "metadata.resourceVersion") {
		w.note("patch of %T %s has no resourceVersion precondition, and replaces the whole finalizer list: %s", obj, obj.GetName(), data)
	}
}

// An OAuthClient, a Scope and an AuthServer applied server-side by a GitOps tool stay as
// it applied them: the operator adds and removes its finalizer with patches of the
// metadata alone, so metadata.generation stays 1 and no manager but the applier owns a
// field under spec, also after the same manifests are applied again.
func TestGitOpsAppliedSpecOwnedByApplierOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	newDatabaseSecret(t, f.c, f.ns, testDBSecret, "url", f.dbURL)
	startAuthServerController(t, f.ns, &controllers.AuthServerReconciler{})
	writes := &entryWrites{}
	f.start(operator{WrapClient: func(c client.Client) client.Client {
		writes.Client = c
		return writes
	}})

	applied := applyAsGitOps(t, f.c, f.ns, gitopsManifests)
	waitCondition(t, f.c, f.key(testServer), authlyv1.ConditionDatabaseReady, metav1.ConditionTrue, authlyv1.ReasonMigrated)
	web := waitReady(f, &authlyv1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "web"}}, metav1.ConditionTrue, authlyv1.ReasonSynced)
	worker := waitReady(f, &authlyv1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "orders-worker"}}, metav1.ConditionTrue, authlyv1.ReasonSynced)
	scope := waitReady(f, &authlyv1.Scope{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "orders-read"}}, metav1.ConditionTrue, authlyv1.ReasonSynced)
	for _, obj := range []client.Object{web, worker, scope} {
		if !slices.Contains(obj.GetFinalizers(), authlyv1.Finalizer) {
			t.Errorf("%T %s: finalizers %v, want %s", obj, obj.GetName(), obj.GetFinalizers(), authlyv1.Finalizer)
		}
	}

	check := func(when string) {
		t.Helper()
		for _, u := range applied {
			got := assertSpecOwnedByGitOps(t, f.c, u)
			if got.GetKind() != "OAuthClient" {
				continue
			}
			// Both the default and the explicit value are stored as written: "24h".
			if v, _, _ := unstructured.NestedString(got.Object, "spec", "secretRotationGracePeriod"); v != "24h" {
				t.Errorf("%s: OAuthClient %s spec.secretRotationGracePeriod = %q, want \"24h\"", when, got.GetName(), v)
			}
		}
	}
	check("after reconcile")

	// The GitOps tool syncs again: nothing to change, and nobody else's fields to fight.
	applyAsGitOps(t, f.c, f.ns, gitopsManifests)
	waitReady(f, web, metav1.ConditionTrue, authlyv1.ReasonSynced)
	waitReady(f, scope, metav1.ConditionTrue, authlyv1.ReasonSynced)
	check("after the second apply")

	// Deletion removes the finalizer, again with a patch of the metadata alone.
	for _, obj := range []client.Object{web, worker, scope} {
		f.delete(obj)
	}
	for _, obj := range []client.Object{web, worker, scope} {
		f.waitGone(obj)
	}
	writes.mu.Lock()
	defer writes.mu.Unlock()
	if writes.patches < 6 {
		t.Errorf("saw %d metadata patches of OAuthClients and Scopes, want at least 6 (a finalizer added and removed on each of 3)", writes.patches)
	}
	if len(writes.bad) > 0 {
		t.Errorf("the reconcilers wrote more than metadata to OAuthClients or Scopes:\n%s", strings.Join(writes.bad, "\n"))
	}
}
