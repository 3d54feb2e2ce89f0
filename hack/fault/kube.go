/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/hack/internal/harness"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// What the operator scenarios create.
const (
	kubeNamespace = "fault"
	kubeServer    = "main"
	kubeDBSecret  = "authly-db"
	kubeIssuer    = "https://auth.fault.example.com"
	// settleTimeout bounds the wait for the operator to bring every OAuthClient in line.
	settleTimeout = 2 * time.Minute
	// apiserverStopTimeout is how long kube-apiserver gets to exit on SIGTERM.
	apiserverStopTimeout = 5 * time.Second
)

// kubeEnv is a Postgres, envtest's kube-apiserver and etcd, and `authly operator`.
type kubeEnv struct {
	o          options
	pg         *pgcluster.Cluster
	te         *envtest.Environment
	c          client.Client
	kubeconfig string
	logPath    string
	op         *operatorProc
	store      *store.Store
}

func startKubeEnv(ctx context.Context, o options, tmp string) (k *kubeEnv, err error) {
	k = &kubeEnv{o: o, logPath: filepath.Join(tmp, "operator.log")}
	defer func() {
		if err != nil {
			k.stop()
		}
	}()
	for _, p := range []string{filepath.Join(o.assets, "kube-apiserver"), filepath.Join(o.assets, "etcd")} {
		if _, err := os.Stat(p); err != nil {
			return k, fmt.Errorf("%s is missing (make envtest): %w", p, err)
		}
	}
	if k.pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(tmp, "kube-postgres")}); err != nil {
		return k, fmt.Errorf("postgres: %w", err)
	}
	if k.store, err = store.Open(ctx, k.pg.URL("postgres"), store.Options{MaxConns: 2, ApplicationName: "authly-fault"}); err != nil {
		return k, err
	}
	// A certificate directory of our own, so that the API server restarts with the same
	// serving certificate (envtest would make a new one in a new directory).
	certDir := filepath.Join(tmp, "kube-apiserver")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return k, err
	}
	k.te = &envtest.Environment{
		BinaryAssetsDirectory:    o.assets,
		CRDDirectoryPaths:        []string{o.crds},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		// kube-apiserver waits for its watches to end before it exits, which the operator's
		// informers never do: after this long it is killed (SIGKILL).
		ControlPlaneStopTimeout: apiserverStopTimeout,
	}
	k.te.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir}
	cfg, err := k.te.Start()
	if err != nil {
		k.te = nil
		return k, fmt.Errorf("envtest (kube-apiserver and etcd from %s): %w", o.assets, err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return k, err
	}
	if err := authlyv1.AddToScheme(scheme); err != nil {
		return k, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 500, 1000
	cfg.Timeout = 10 * time.Second
	if k.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return k, err
	}
	k.kubeconfig = filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(k.kubeconfig, k.te.KubeConfig, 0o600); err != nil {
		return k, err
	}
	if k.op, err = k.startOperator(); err != nil {
		return k, err
	}
	if err := k.op.waitReady(ctx, time.Minute); err != nil {
		return k, err
	}
	return k, k.createServer(ctx)
}

// createServer makes the namespace, the database Secret and an AuthServer, and waits until
// the operator has migrated the database. No pods run in envtest; OAuthClients are
// registered by the operator itself, through the store.
func (k *kubeEnv) createServer(ctx context.Context) error {
	err := harness.CreateAuthServer(ctx, k.c, harness.AuthServer{
		Namespace: kubeNamespace, Name: kubeServer, Issuer: kubeIssuer,
		DatabaseSecret: kubeDBSecret, DatabaseURL: k.pg.URL("postgres"),
	})
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: kubeNamespace, Name: kubeServer}
	return harness.WaitDatabaseReady(ctx, k.c, key, 2*time.Minute, nil)
}

func (k *kubeEnv) stop() {
	if k == nil {
		return
	}
	if k.op != nil {
		k.op.stop()
	}
	if k.te != nil {
		_ = k.te.Stop()
	}
	if k.store != nil {
		k.store.Close()
	}
	if k.pg != nil {
		k.pg.Stop()
	}
}

// operatorProc is `authly operator` as a child process, so that it can be killed.
type operatorProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	readyz string
}

func (k *kubeEnv) startOperator() (*operatorProc, error) {
	ports, err := harness.FreePorts(1)
	if err != nil {
		return nil, err
	}
	probe := "127.0.0.1:" + strconv.Itoa(ports[0])
	logFile, err := os.OpenFile(k.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	op := &operatorProc{done: make(chan struct{}), readyz: "http://" + probe + "/readyz"}
	op.cmd = exec.Command(k.o.authly, "operator",
		"--kubeconfig", k.kubeconfig,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", probe,
		"--namespaces", kubeNamespace,
	)
	op.cmd.Env = harness.EnvironWithoutAuthly()
	op.cmd.Stdout, op.cmd.Stderr = logFile, logFile
	op.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := op.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	go func() { _ = op.cmd.Wait(); close(op.done) }()
	return op, nil
}

func (op *operatorProc) running() bool {
	select {
	case <-op.done:
		return false
	default:
		return true
	}
}

func (op *operatorProc) waitReady(ctx context.Context, timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := hc.Get(op.readyz); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !op.running() {
			return errors.New("the operator exited before it was ready")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the operator was not ready within %s", timeout)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

func (op *operatorProc) kill() {
	_ = op.cmd.Process.Kill()
	<-op.done
}

func (op *operatorProc) stop() {
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-op.done:
	case <-time.After(15 * time.Second):
		op.kill()
	}
}

// kubeClient is the OAuthClient name with the given scopes: a confidential service client.
func kubeClient(name string, scopes ...string) *authlyv1.OAuthClient {
	return &authlyv1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: kubeNamespace, Name: name},
		Spec: authlyv1.OAuthClientSpec{
			AuthServerRef:           authlyv1.ServerReference{Name: kubeServer},
			Type:                    authlyv1.ClientConfidential,
			GrantTypes:              []authlyv1.GrantType{authlyv1.GrantClientCredentials},
			Scopes:                  scopes,
			TokenEndpointAuthMethod: authlyv1.AuthMethodClientSecretBasic,
		},
	}
}

// applier sends API calls as a GitOps tool does: each is retried until it is done,
// for up to a minute, and every failed attempt is counted by kind.
type applier struct {
	k   *kubeEnv
	res *result
	mu  sync.Mutex
}

func (a *applier) retry(ctx context.Context, what string, call func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := call()
		a.mu.Lock()
		a.res.requests++
		if err != nil {
			a.res.errors["apply: "+kubeErrKind(err)]++
		}
		a.mu.Unlock()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// create creates oc; AlreadyExists after a lost answer means it was.
func (a *applier) create(ctx context.Context, oc *authlyv1.OAuthClient) error {
	return a.retry(ctx, "create "+oc.Name, func() error {
		err := a.k.c.Create(ctx, oc.DeepCopy())
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

// setScopes replaces the scopes of an OAuthClient (read, modify, update).
func (a *applier) setScopes(ctx context.Context, name string, scopes []string) error {
	return a.retry(ctx, "update "+name, func() error {
		var oc authlyv1.OAuthClient
		if err := a.k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name}, &oc); err != nil {
			return err
		}
		oc.Spec.Scopes = scopes
		return a.k.c.Update(ctx, &oc)
	})
}

func (a *applier) delete(ctx context.Context, name string) error {
	return a.retry(ctx, "delete "+name, func() error {
		err := a.k.c.Delete(ctx, &authlyv1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNamespace, Name: name}})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

func kubeErrKind(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		return fmt.Sprintf("HTTP %d %s", s.Code, s.Reason)
	}
	return transportKind(err)
}

// want is what an OAuthClient must end as: present with these scopes, or gone.
type want struct {
	scopes  []string
	deleted bool
}

// settle waits (bounded) until every wanted OAuthClient is Ready at its generation and
// every deleted one is gone, and returns when that happened.
func (k *kubeEnv) settle(ctx context.Context, wants map[string]want) (time.Time, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		pending := ""
		for name, w := range wants {
			var oc authlyv1.OAuthClient
			err := k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name}, &oc)
			switch {
			case w.deleted && apierrors.IsNotFound(err):
				continue
			case w.deleted:
				pending = name + " still exists"
			case err != nil:
				pending = fmt.Sprintf("%s: %v", name, err)
			default:
				c := meta.FindStatusCondition(oc.Status.Conditions, authlyv1.ConditionReady)
				if c == nil || c.Status != metav1.ConditionTrue || oc.Status.ObservedGeneration != oc.Generation {
					pending = name + " not Ready at its generation"
				}
			}
			if pending != "" {
				break
			}
		}
		if pending == "" {
			return time.Now(), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("not settled after %s: %s", settleTimeout, pending)
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// check compares the API server and the database with wants: every present OAuthClient has
// its Secret and exactly one database row, whose secret hash is the Secret's and whose
// scopes are the spec's; no deleted one has a row left. Each mismatch is data lost.
func (k *kubeEnv) check(ctx context.Context, res *result, prefix string, wants map[string]want) {
	var rows []*store.Client
	for after := ""; ; {
		page, err := k.store.ListClients(ctx, store.Page{Limit: 500, After: after})
		if err != nil {
			res.problem("listing the database's clients: %v", err)
			return
		}
		rows = append(rows, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	byOwner := map[string][]*store.Client{}
	for _, r := range rows {
		byOwner[r.ManagedBy] = append(byOwner[r.ManagedBy], r)
	}
	for name, w := range wants {
		owned := byOwner["k8s:"+kubeNamespace+"/"+name]
		if w.deleted {
			if len(owned) > 0 {
				res.loss(1, "OAuthClient %s was deleted but its client %s is still in the database", name, owned[0].ID)
			}
			continue
		}
		var oc authlyv1.OAuthClient
		if err := k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name}, &oc); err != nil {
			res.loss(1, "OAuthClient %s is missing: %v", name, err)
			continue
		}
		var s corev1.Secret
		if err := k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: oc.EffectiveSecretName()}, &s); err != nil {
			res.loss(1, "OAuthClient %s: Secret %s is missing: %v", name, oc.EffectiveSecretName(), err)
			continue
		}
		switch {
		case len(owned) == 0:
			res.loss(1, "OAuthClient %s is not registered in the database", name)
		case len(owned) > 1:
			res.loss(len(owned)-1, "OAuthClient %s is registered %d times", name, len(owned))
		case string(s.Data["client_id"]) != owned[0].ID || oc.Status.ClientID != owned[0].ID:
			res.loss(1, "OAuthClient %s: Secret client_id %q, status %q, database %q", name, s.Data["client_id"], oc.Status.ClientID, owned[0].ID)
		case !bytes.Equal(credentials.HashSecret(string(s.Data["client_secret"])), owned[0].SecretHash):
			res.loss(1, "OAuthClient %s: the Secret's client_secret is not the registered one", name)
		case fmt.Sprint(owned[0].Scopes) != fmt.Sprint(w.scopes):
			res.loss(1, "OAuthClient %s: database scopes %v, spec %v", name, owned[0].Scopes, w.scopes)
		}
	}
	// Rows of OAuthClients the scenario never made.
	for owner, list := range byOwner {
		if name, ok := strings.CutPrefix(owner, "k8s:"+kubeNamespace+"/"); ok && strings.HasPrefix(name, prefix) {
			if _, ok := wants[name]; !ok {
				res.loss(len(list), "database rows managed by %s, which the scenario never created", owner)
			}
		}
	}
}

// apiserverRestart applies 30 OAuthClients while the kube-apiserver is stopped for 3 s and
// started again on the same port, certificates and etcd.
func (k *kubeEnv) apiserverRestart(ctx context.Context) *result {
	res := newResult("apiserver-restart")
	const n = 30
	ap := &applier{k: k, res: res}
	wants := map[string]want{}
	names := make(chan string, n)
	for i := range n {
		name := fmt.Sprintf("ar-%02d", i)
		wants[name] = want{scopes: []string{"orders:read"}}
		names <- name
	}
	close(names)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var applyErrs []error
	for range 4 {
		wg.Go(func() {
			for name := range names {
				if err := ap.create(ctx, kubeClient(name, "orders:read")); err != nil {
					mu.Lock()
					applyErrs = append(applyErrs, err)
					mu.Unlock()
				}
				sleep(ctx, 150*time.Millisecond)
			}
		})
	}
	sleep(ctx, 400*time.Millisecond)
	api := k.te.ControlPlane.APIServer
	t0 := time.Now()
	if err := api.Stop(); err != nil {
		// The timeout is expected (see apiserverStopTimeout): it was killed.
		res.note("kube-apiserver stop: %v (killed after %s)", err, apiserverStopTimeout)
	}
	stopped := time.Since(t0)
	sleep(ctx, 3*time.Second)
	if err := api.Start(); err != nil {
		res.problem("starting the kube-apiserver again: %v", err)
		wg.Wait()
		return res
	}
	back := time.Now()
	res.note("kube-apiserver: stop took %.1f s, down for %.1f s in all", stopped.Seconds(), back.Sub(t0).Seconds())
	wg.Wait()
	for _, err := range applyErrs {
		res.problem("apply gave up: %v", err)
	}
	at, err := k.settle(ctx, wants)
	if err != nil {
		res.recovered = false
		res.problem("%v; the operator's log ends with: %s", err, harness.LogTail(k.logPath, 3))
	} else {
		res.recovery = at.Sub(back)
	}
	if !k.op.running() {
		res.note("the operator exited during the outage (it is restarted for the next scenario)")
		k.restartOperator(ctx, res)
	}
	k.check(ctx, res, "ar-", wants)
	res.note("recovery: from the API server back to every OAuthClient Ready and checked")
	return res
}

func (k *kubeEnv) restartOperator(ctx context.Context, res *result) {
	op, err := k.startOperator()
	if err != nil {
		res.problem("restarting the operator: %v", err)
		return
	}
	k.op = op
	if err := op.waitReady(ctx, time.Minute); err != nil {
		res.problem("restarting the operator: %v", err)
	}
}

// The manager is killed at least minKills times, and on until the changes are applied.
const (
	minKills = 12
	maxKills = 40
)

// managerKill kills the operator with SIGKILL at random short intervals while OAuthClients
// are created, updated and deleted, then lets it settle.
func (k *kubeEnv) managerKill(ctx context.Context) *result {
	res := newResult("manager-kill")
	ap := &applier{k: k, res: res}
	wants := map[string]want{}
	name := func(i int) string { return fmt.Sprintf("mk-%02d", i) }
	// 20 clients registered before the kills: 10 to update, 10 to delete.
	for i := range 20 {
		wants[name(i)] = want{scopes: []string{"orders:read"}}
		if err := ap.create(ctx, kubeClient(name(i), "orders:read")); err != nil {
			res.problem("%v", err)
			return res
		}
	}
	if _, err := k.settle(ctx, wants); err != nil {
		res.problem("before the kills: %v", err)
		return res
	}
	type change struct {
		what string
		i    int
	}
	var changes []change
	for i := range 10 {
		changes = append(changes, change{"create", 20 + i}, change{"update", i}, change{"delete", 10 + i})
	}
	for i := range 10 {
		wants[name(20+i)] = want{scopes: []string{"orders:read"}}
		wants[name(i)] = want{scopes: []string{"orders:read", "orders:write"}}
		wants[name(10+i)] = want{deleted: true}
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	mutated := make(chan struct{})
	go func() {
		defer close(mutated)
		for _, c := range changes {
			var err error
			switch c.what {
			case "create":
				err = ap.create(ctx, kubeClient(name(c.i), "orders:read"))
			case "update":
				err = ap.setScopes(ctx, name(c.i), []string{"orders:read", "orders:write"})
			case "delete":
				err = ap.delete(ctx, name(c.i))
			}
			if err != nil {
				ap.mu.Lock()
				res.problem("%v", err)
				ap.mu.Unlock()
			}
			sleep(ctx, 500*time.Millisecond)
		}
	}()
	// Each incarnation of the manager is killed at a random point of its work: from its
	// readiness (caches synced, reconciles starting) plus 0 to 800 ms.
	var killedAt []time.Duration
	start := time.Now()
	for kills := 0; kills < maxKills; kills++ {
		if kills >= minKills {
			select {
			case <-mutated:
				kills = maxKills
				continue
			default:
			}
		}
		if err := k.op.waitReady(ctx, 30*time.Second); err != nil {
			ap.mu.Lock()
			res.problem("the restarted operator: %v", err)
			ap.mu.Unlock()
		}
		sleep(ctx, time.Duration(rng.IntN(800))*time.Millisecond)
		killedAt = append(killedAt, time.Since(start))
		k.op.kill()
		op, err := k.startOperator()
		if err != nil {
			ap.mu.Lock()
			res.problem("restarting the operator: %v", err)
			ap.mu.Unlock()
			<-mutated
			return res
		}
		k.op = op
	}
	<-mutated
	back := time.Now()
	if err := k.op.waitReady(ctx, time.Minute); err != nil {
		res.problem("%v", err)
	}
	at, err := k.settle(ctx, wants)
	if err != nil {
		res.recovered = false
		res.problem("%v; the operator's log ends with: %s", err, harness.LogTail(k.logPath, 3))
	} else {
		res.recovery = at.Sub(back)
	}
	k.check(ctx, res, "mk-", wants)
	res.note("%d kills (SIGKILL, restarted at once) at %v after the start of the changes (seed %d)", len(killedAt), roundAll(killedAt), seed)
	res.note("recovery: from the last change (the operator running for good) to every OAuthClient in line and checked")
	return res
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}

// step is a point of an OAuthClient's reconcile the operator is killed right after, as
// seen from outside: the effect of the step is there, the next one not yet.
type step struct {
	name string
	// seen reports whether the step's effect is visible for OAuthClient name.
	seen func(ctx context.Context, k *kubeEnv, name string) bool
}

var registrationSteps = []step{
	{"finalizer added", func(ctx context.Context, k *kubeEnv, name string) bool {
		var oc authlyv1.OAuthClient
		return k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name}, &oc) == nil &&
			slices.Contains(oc.Finalizers, authlyv1.Finalizer)
	}},
	{"Secret written", func(ctx context.Context, k *kubeEnv, name string) bool {
		var s corev1.Secret
		return k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name + authlyv1.OAuthClientSecretSuffix}, &s) == nil
	}},
	{"client registered", func(ctx context.Context, k *kubeEnv, name string) bool { return k.registered(ctx, name) }},
	{"status Ready", func(ctx context.Context, k *kubeEnv, name string) bool {
		var oc authlyv1.OAuthClient
		if k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name}, &oc) != nil {
			return false
		}
		c := meta.FindStatusCondition(oc.Status.Conditions, authlyv1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue
	}},
}

// registered reports whether the database holds a client managed by OAuthClient name.
func (k *kubeEnv) registered(ctx context.Context, name string) bool {
	var s corev1.Secret
	if k.c.Get(ctx, types.NamespacedName{Namespace: kubeNamespace, Name: name + authlyv1.OAuthClientSecretSuffix}, &s) != nil {
		return false
	}
	c, err := k.store.GetClient(ctx, string(s.Data["client_id"]))
	return err == nil && c.ManagedBy == "k8s:"+kubeNamespace+"/"+name
}

// managerKillSteps kills the operator right after each step of a registration and of a
// removal, as soon as the step's effect is visible, starts it again, and checks the end
// state. Where the kill lands is bounded by how fast the effect is seen (a 5 ms poll).
func (k *kubeEnv) managerKillSteps(ctx context.Context) *result {
	res := newResult("manager-kill-steps")
	ap := &applier{k: k, res: res}
	wants := map[string]want{}
	// killAfter kills the operator once seen, and says whether it died before the next
	// step (when there is one to look at).
	killAfter := func(what, name string, seen, next func() bool) (between bool) {
		deadline := time.Now().Add(30 * time.Second)
		for !seen() {
			if time.Now().After(deadline) || ctx.Err() != nil {
				res.problem("%s of %s not seen within 30 s", what, name)
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		k.op.kill()
		where := ""
		if next != nil {
			between = !next()
			where = " (the next step was not done yet)"
			if !between {
				where = " (the next step was done already)"
			}
		}
		defer res.note("killed after %q of %s%s", what, name, where)
		op, err := k.startOperator()
		if err != nil {
			res.problem("restarting the operator: %v", err)
			return
		}
		k.op = op
		if err := op.waitReady(ctx, time.Minute); err != nil {
			res.problem("the restarted operator: %v", err)
		}
		return between
	}
	// Each registration step gets up to three clients, until a kill lands before the next
	// step.
	for i, st := range registrationSteps {
		for attempt := range 3 {
			name := fmt.Sprintf("ks-%d%d", i, attempt)
			wants[name] = want{scopes: []string{"orders:read"}}
			if err := ap.create(ctx, kubeClient(name, "orders:read")); err != nil {
				res.problem("%v", err)
				return res
			}
			var next func() bool
			if i+1 < len(registrationSteps) {
				next = func() bool { return registrationSteps[i+1].seen(ctx, k, name) }
			}
			if killAfter(st.name, name, func() bool { return st.seen(ctx, k, name) }, next) || next == nil {
				break
			}
		}
	}
	// Removal: killed once the deletion is requested and once the row is gone (before the
	// finalizer is removed, when the operator is quick enough to leave that gap).
	for i, what := range []string{"deletion requested", "client removed from the database"} {
		name := fmt.Sprintf("ks-%d0", i)
		if err := ap.delete(ctx, name); err != nil {
			res.problem("%v", err)
			return res
		}
		wants[name] = want{deleted: true}
		gone := func() bool { return !k.registered(ctx, name) }
		if i == 0 {
			killAfter(what, name, func() bool { return true }, gone)
		} else {
			killAfter(what, name, gone, nil)
		}
	}
	back := time.Now()
	at, err := k.settle(ctx, wants)
	if err != nil {
		res.recovered = false
		res.problem("%v; the operator's log ends with: %s", err, harness.LogTail(k.logPath, 3))
	} else {
		res.recovery = at.Sub(back)
	}
	k.check(ctx, res, "ks-", wants)
	return res
}
