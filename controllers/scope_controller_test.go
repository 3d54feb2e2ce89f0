/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/store"
)

func (f *fixture) newScope(name, scope string, mutate func(*authlyv1.Scope)) *authlyv1.Scope {
	f.t.Helper()
	sc := &authlyv1.Scope{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: authlyv1.ScopeSpec{
			AuthServerRef: authlyv1.ServerReference{Name: testServer},
			Name:          scope,
			Description:   "Read orders",
		},
	}
	if mutate != nil {
		mutate(sc)
	}
	if err := f.c.Create(context.Background(), sc); err != nil {
		f.t.Fatal(err)
	}
	return sc
}

// waitScope waits until the database row of the scope equals want (timestamps aside).
func (f *fixture) waitScope(what string, want *store.Scope) {
	f.t.Helper()
	eventually(f.t, what, func() error {
		got, err := f.st.GetScope(context.Background(), want.Name)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, cmpScopeRow); diff != "" {
			return fmt.Errorf("(-want +got):\n%s", diff)
		}
		return nil
	})
}

var cmpScopeRow = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".CreatedAt", ".UpdatedAt":
		return true
	}
	return false
}, cmp.Ignore())

func (f *fixture) waitScopeGone(name string) {
	f.t.Helper()
	eventually(f.t, "scope "+name+" removed from the database", func() error {
		_, err := f.st.GetScope(context.Background(), name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still in the database")
	})
}

// The life of a Scope: registration after the AuthServer's database is ready, update,
// drift put back, and deletion.
func TestScopeLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start(operator{ResyncPeriod: 500 * time.Millisecond})
	ctx := context.Background()
	owner := "k8s:" + f.ns + "/orders-read"

	sc := waitReady(f, f.newScope("orders-read", "orders:read", nil), metav1.ConditionFalse, authlyv1.ReasonAuthServerNotFound)
	f.addServer(false)
	waitReady(f, sc, metav1.ConditionFalse, authlyv1.ReasonAuthServerNotReady)
	f.setDatabaseReady()
	sc = waitReady(f, sc, metav1.ConditionTrue, authlyv1.ReasonSynced)
	if !slices.Contains(sc.Finalizers, authlyv1.Finalizer) || sc.Status.DatabaseSecretName != testDBSecret || sc.Status.LastSyncTime == nil {
		t.Errorf("finalizers %v status %+v", sc.Finalizers, sc.Status)
	}
	f.waitScope("scope registered", &store.Scope{Name: "orders:read", Description: "Read orders", ManagedBy: owner})
	f.waitEvent("orders-read", "Registered", "orders:read")

	eventually(t, "update of the Scope", func() error {
		if err := f.c.Get(ctx, f.key("orders-read"), sc); err != nil {
			return err
		}
		sc.Spec.Description = "Read all orders"
		sc.Spec.Default = true
		return f.c.Update(ctx, sc)
	})
	f.waitScope("scope updated", &store.Scope{Name: "orders:read", Description: "Read all orders", Default: true, ManagedBy: owner})
	waitReady(f, sc, metav1.ConditionTrue, authlyv1.ReasonSynced)

	if _, err := f.st.UpsertScope(ctx, &store.Scope{Name: "orders:read", Description: "changed by hand", ManagedBy: owner}); err != nil {
		t.Fatal(err)
	}
	f.waitScope("drift put back", &store.Scope{Name: "orders:read", Description: "Read all orders", Default: true, ManagedBy: owner})
	f.waitEvent("orders-read", "DriftCorrected", "orders:read")

	if err := f.st.DeleteScope(ctx, "orders:read"); err != nil {
		t.Fatal(err)
	}
	f.waitScope("deleted row registered again", &store.Scope{Name: "orders:read", Description: "Read all orders", Default: true, ManagedBy: owner})

	f.delete(sc)
	f.waitGone(sc)
	f.waitScopeGone("orders:read")
	f.waitEvent("orders-read", "Deleted", "orders:read")
}

// A scope name that someone else registered is reported and never overwritten nor
// deleted; one registered outside Kubernetes is taken over.
func TestScopeConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	ctx := context.Background()
	theirs := &store.Scope{Name: "orders:write", Description: "theirs", ManagedBy: "k8s:other-team/orders-write"}
	if _, err := f.st.UpsertScope(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpsertScope(ctx, &store.Scope{Name: "legacy", Description: "made with authly admin"}); err != nil {
		t.Fatal(err)
	}
	f.start(operator{})

	sc := waitReady(f, f.newScope("orders-write", "orders:write", nil), metav1.ConditionFalse, authlyv1.ReasonConflict)
	if msg := readyMessage(sc.Status.Conditions); !containsAny(msg, theirs.ManagedBy) {
		t.Errorf("conflict message %q does not say who manages the scope", msg)
	}
	f.delete(sc)
	f.waitGone(sc)
	f.waitScope("someone else's scope left alone", theirs)

	waitReady(f, f.newScope("legacy", "legacy", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	f.waitScope("scope taken over", &store.Scope{Name: "legacy", Description: "Read orders", ManagedBy: "k8s:" + f.ns + "/legacy"})
}

// Orphan leaves the scope in the database; with Delete, a Scope whose AuthServer is gone
// is still removed from the database.
func TestScopeDeletionPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	as := f.addServer(true)
	f.start(operator{})

	orphan := waitReady(f, f.newScope("kept", "kept:scope", func(sc *authlyv1.Scope) {
		sc.Spec.DeletionPolicy = authlyv1.DeletionPolicyOrphan
	}), metav1.ConditionTrue, authlyv1.ReasonSynced)
	deleted := waitReady(f, f.newScope("removed", "removed:scope", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)

	f.delete(orphan)
	f.waitGone(orphan)
	f.waitScope("orphaned scope kept", &store.Scope{Name: "kept:scope", Description: "Read orders", ManagedBy: "k8s:" + f.ns + "/kept"})

	f.delete(as)
	f.waitGone(as)
	f.delete(deleted)
	f.waitGone(deleted)
	f.waitScopeGone("removed:scope")
}
