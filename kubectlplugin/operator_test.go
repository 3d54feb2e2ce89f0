/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// cluster is a namespace with an AuthServer on a test database of its own whose clients
// the real OAuthClient reconciler registers, as the operator does. No AuthServer
// reconciler runs (there is no kubelet to run its pods): the test sets DatabaseReady.
type cluster struct {
	t     *testing.T
	c     client.Client
	ns    string
	dbURL string
}

func newCluster(t *testing.T, ns string) *cluster {
	t.Helper()
	k := &cluster{t: t, c: testClient(t), ns: ns, dbURL: storetest.URL(t)}
	createNamespace(t, k.c, ns)
	if err := k.c.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Data:       map[string][]byte{"url": []byte(k.dbURL)},
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

// addServer creates an AuthServer with the issuer on the cluster's database, with
// DatabaseReady True as the AuthServer reconciler sets it once the database is migrated.
func (k *cluster) addServer(name, issuer string) {
	k.t.Helper()
	ctx := context.Background()
	as := &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.ns, Name: name},
		Spec: authlyv1.AuthServerSpec{
			Issuer:   issuer,
			Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: "db"}},
		},
	}
	if err := k.c.Create(ctx, as); err != nil {
		k.t.Fatal(err)
	}
	meta.SetStatusCondition(&as.Status.Conditions, metav1.Condition{
		Type: authlyv1.ConditionDatabaseReady, Status: metav1.ConditionTrue, Reason: authlyv1.ReasonMigrated,
		Message: "migrated by the test", ObservedGeneration: as.Generation,
	})
	if err := k.c.Status().Update(ctx, as); err != nil {
		k.t.Fatal(err)
	}
}

// addClient creates a confidential OAuthClient of the AuthServer with the
// client_credentials grant and waits until the operator registered it.
func (k *cluster) addClient(name, server string, mutate func(*authlyv1.OAuthClient)) *authlyv1.OAuthClient {
	k.t.Helper()
	oc := &authlyv1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.ns, Name: name},
		Spec: authlyv1.OAuthClientSpec{
			AuthServerRef: authlyv1.ServerReference{Name: server},
			GrantTypes:    []authlyv1.GrantType{authlyv1.GrantClientCredentials},
			Scopes:        []string{"orders:read", "orders:write"},
		},
	}
	if mutate != nil {
		mutate(oc)
	}
	if err := k.c.Create(context.Background(), oc); err != nil {
		k.t.Fatal(err)
	}
	return k.waitReady(name)
}

func (k *cluster) waitReady(name string) *authlyv1.OAuthClient {
	k.t.Helper()
	var oc authlyv1.OAuthClient
	eventually(k.t, "OAuthClient "+name+" Ready", func() error {
		if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: k.ns, Name: name}, &oc); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(oc.Status.Conditions, authlyv1.ConditionReady) || oc.Status.ObservedGeneration != oc.Generation {
			return errNotYet(oc.Status.Conditions)
		}
		return nil
	})
	return &oc
}

func (k *cluster) secret(name string) *corev1.Secret {
	k.t.Helper()
	var s corev1.Secret
	if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: k.ns, Name: name}, &s); err != nil {
		k.t.Fatal(err)
	}
	return &s
}

// startOperator runs the OAuthClient reconciler of the operator, watching the cluster's
// namespace, until the test ends.
func (k *cluster) startOperator(clk clock.PassiveClock) {
	t := k.t
	t.Helper()
	s, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:     s,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{k.ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dbs := &controllers.Databases{MaxConns: 2}
	if err := (&controllers.OAuthClientReconciler{
		Client: mgr.GetClient(), Scheme: s, Databases: dbs, Clock: clk,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
		dbs.Close()
	})
}

type notYet struct{ conds []metav1.Condition }

func (e notYet) Error() string {
	if c := meta.FindStatusCondition(e.conds, authlyv1.ConditionReady); c != nil {
		return "Ready " + string(c.Status) + " " + c.Reason + ": " + c.Message
	}
	return "no Ready condition yet"
}

func errNotYet(conds []metav1.Condition) error { return notYet{conds} }
