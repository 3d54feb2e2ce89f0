/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// Shared by the OAuthClient and Scope tests: a namespace with an AuthServer whose database
// is a fresh Postgres database, and a manager running the two reconcilers for that
// namespace only (so that tests can run side by side and restart "their" operator).

const (
	testServer   = "main"
	testIssuer   = "https://auth.team-a.example.com"
	testDBSecret = "authly-db"
)

type fixture struct {
	t     *testing.T
	c     client.Client
	ns    string
	dbURL string
	// st is the test's own connection to the database, to look at and tamper with rows.
	st *store.Store
}

// newFixture makes a namespace and a database; the AuthServer is made by addServer.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, ns: newNamespace(t, c), dbURL: storetest.URL(t)}
	f.st, err = store.Open(context.Background(), f.dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.st.Close)
	return f
}

// addServer creates the database Secret and the AuthServer, with condition DatabaseReady
// True when ready (as the AuthServer reconciler sets it once the database is migrated).
func (f *fixture) addServer(ready bool) *authlyv1.AuthServer {
	f.t.Helper()
	ctx := context.Background()
	db := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: testDBSecret},
		Data:       map[string][]byte{"url": []byte(f.dbURL)},
	}
	if err := f.c.Create(ctx, db); err != nil {
		f.t.Fatal(err)
	}
	as := &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: testServer},
		Spec: authlyv1.AuthServerSpec{
			Issuer:   testIssuer,
			Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: testDBSecret}},
		},
	}
	if err := f.c.Create(ctx, as); err != nil {
		f.t.Fatal(err)
	}
	if ready {
		f.setDatabaseReady()
	}
	return as
}

// setDatabaseReady sets the AuthServer's DatabaseReady condition to True.
func (f *fixture) setDatabaseReady() {
	f.t.Helper()
	ctx := context.Background()
	var as authlyv1.AuthServer
	if err := f.c.Get(ctx, f.key(testServer), &as); err != nil {
		f.t.Fatal(err)
	}
	meta.SetStatusCondition(&as.Status.Conditions, metav1.Condition{
		Type: authlyv1.ConditionDatabaseReady, Status: metav1.ConditionTrue, Reason: authlyv1.ReasonMigrated,
		Message: "migrated by the test", ObservedGeneration: as.Generation,
	})
	if err := f.c.Status().Update(ctx, &as); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: f.ns, Name: name}
}

// operator is what a test runs the reconcilers with.
type operator struct {
	Clock        clock.PassiveClock
	ResyncPeriod time.Duration
	// Databases, if nil, is a new one: an operator that starts again knows no store.
	Databases       *controllers.Databases
	DeletionTimeout time.Duration
	// ServerWaitPeriod is the reconcilers' (zero: their default).
	ServerWaitPeriod time.Duration
	// WrapClient, if set, wraps the client the reconcilers write with, to watch what they send.
	WrapClient func(client.Client) client.Client
	// FederationPoll, when set, also runs the ServiceAccount issuer sync with this poll
	// interval.
	FederationPoll time.Duration
}

// start runs a manager with both reconcilers, watching the fixture's namespace only. The
// returned stop ends it (and is called at the end of the test anyway).
func (f *fixture) start(op operator) (stop func()) {
	t := f.t
	t.Helper()
	dbs := op.Databases
	if dbs == nil {
		dbs = &controllers.Databases{MaxConns: 2}
		t.Cleanup(dbs.Close)
	}
	startManager(t, func(mgr ctrl.Manager) error {
		s := mgr.GetScheme()
		c := mgr.GetClient()
		if op.WrapClient != nil {
			c = op.WrapClient(c)
		}
		if op.FederationPoll > 0 {
			issuer, err := controllers.NewClusterIssuer(cfg)
			if err != nil {
				return err
			}
			if err := mgr.Add(&controllers.FederationSync{Client: mgr.GetClient(), Databases: dbs, Issuer: issuer,
				PollInterval: op.FederationPoll}); err != nil {
				return err
			}
		}
		if err := (&controllers.OAuthClientReconciler{
			Client: c, Scheme: s, Recorder: newRecorder(t, s, "oauthclient-controller"),
			Databases: dbs, Clock: op.Clock, ResyncPeriod: op.ResyncPeriod, DeletionTimeout: op.DeletionTimeout,
			ServerWaitPeriod: op.ServerWaitPeriod,
		}).SetupWithManager(mgr); err != nil {
			return err
		}
		return (&controllers.ScopeReconciler{
			Client: c, Scheme: s, Recorder: newRecorder(t, s, "scope-controller"),
			Databases: dbs, Clock: op.Clock, ResyncPeriod: op.ResyncPeriod, DeletionTimeout: op.DeletionTimeout,
			ServerWaitPeriod: op.ServerWaitPeriod,
		}).SetupWithManager(mgr)
	}, inNamespace(f.ns), stopWith(&stop))
	return stop
}

// newRecorder sends events to the test API server through the core/v1 Events API, as the
// manager's recorder does.
func newRecorder(t *testing.T, s *runtime.Scheme, component string) record.EventRecorder {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	t.Cleanup(b.Shutdown)
	return b.NewRecorder(s, corev1.EventSource{Component: component})
}

// waitCondition waits until the object's Ready condition has the status and reason, for
// its current generation, and returns the object.
func waitReady[T client.Object](f *fixture, obj T, status metav1.ConditionStatus, reason string) T {
	f.t.Helper()
	conds := func() []metav1.Condition {
		switch o := any(obj).(type) {
		case *authlyv1.OAuthClient:
			return o.Status.Conditions
		case *authlyv1.Scope:
			return o.Status.Conditions
		}
		f.t.Fatalf("waitReady: unexpected %T", obj)
		return nil
	}
	key := client.ObjectKeyFromObject(obj)
	eventually(f.t, fmt.Sprintf("%T %s Ready=%s reason %s", obj, key.Name, status, reason), func() error {
		if err := f.c.Get(context.Background(), key, obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds(), authlyv1.ConditionReady)
		if c == nil {
			return errors.New("no Ready condition")
		}
		if c.Status != status || c.Reason != reason || c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("Ready=%s reason %s generation %d (object generation %d): %s", c.Status, c.Reason, c.ObservedGeneration, obj.GetGeneration(), c.Message)
		}
		return nil
	})
	return obj
}

// events returns the namespace's events with their reasons and messages.
func (f *fixture) events() []corev1.Event {
	f.t.Helper()
	var list corev1.EventList
	if err := f.c.List(context.Background(), &list, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	return list.Items
}

// waitEvent waits for an event of the object with that reason whose message contains
// substr.
func (f *fixture) waitEvent(name, reason, substr string) {
	f.t.Helper()
	eventually(f.t, fmt.Sprintf("event %s on %s containing %q", reason, name, substr), func() error {
		var seen []string
		for _, e := range f.events() {
			if e.InvolvedObject.Name == name && e.Reason == reason && strings.Contains(e.Message, substr) {
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return fmt.Errorf("events so far: %q", seen)
	})
}

// noSecretInEvents fails if any event of the namespace mentions one of the secrets.
func (f *fixture) noSecretInEvents(secrets ...string) {
	f.t.Helper()
	for _, e := range f.events() {
		for _, s := range secrets {
			if s != "" && (strings.Contains(e.Message, s) || strings.Contains(e.Reason, s)) {
				f.t.Errorf("event %s %q contains a client secret", e.Reason, e.Message)
			}
		}
	}
}

// waitGone waits until the object no longer exists.
func (f *fixture) waitGone(obj client.Object) {
	f.t.Helper()
	key := client.ObjectKeyFromObject(obj)
	eventually(f.t, fmt.Sprintf("%T %s to be gone", obj, key.Name), func() error {
		err := f.c.Get(context.Background(), key, obj)
		if err == nil {
			return fmt.Errorf("still there, finalizers %v", obj.GetFinalizers())
		}
		return client.IgnoreNotFound(err)
	})
}

func (f *fixture) delete(obj client.Object) {
	f.t.Helper()
	if err := f.c.Delete(context.Background(), obj); err != nil {
		f.t.Fatal(err)
	}
}
