/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/store"
)

// cpuProfileSeconds is how long the CPU profile of phase 1 runs (--profile-dir).
const cpuProfileSeconds = 30

// phaseResult is what one phase measured.
type phaseResult struct {
	from, to   int           // OAuthClients before and after the phase
	createTime time.Duration // first create sent to last create returned
	allReady   time.Duration // first create sent to the last one seen Ready
	observed   []time.Duration
	recorded   []time.Duration
	cpu        float64 // operator CPU seconds from the first create to all Ready
	mem        memStatus
	verify     verifyResult
}

// clientName names the i-th OAuthClient.
func clientName(i int) string { return fmt.Sprintf("bench-%05d", i) }

// benchClient is the i-th OAuthClient: a confidential service client.
func benchClient(i int) *authlyv1.OAuthClient {
	return &authlyv1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: clientName(i)},
		Spec: authlyv1.OAuthClientSpec{
			AuthServerRef:           authlyv1.ServerReference{Name: benchServer},
			Type:                    authlyv1.ClientConfidential,
			GrantTypes:              []authlyv1.GrantType{authlyv1.GrantClientCredentials},
			Scopes:                  []string{"orders:read"},
			TokenEndpointAuthMethod: authlyv1.AuthMethodClientSecretBasic,
		},
	}
}

// phase creates OAuthClients from..to-1 at once and waits until all are Ready.
func (e *env) phase(ctx context.Context, from, to int, profileDir, profileName string) (phaseResult, error) {
	res := phaseResult{from: from, to: to}
	names := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		names = append(names, clientName(i))
	}
	cpu0, err := processCPU(e.op.pid())
	if err != nil {
		return res, err
	}
	var profileDone chan error
	if profileDir != "" {
		profileDone = make(chan error, 1)
		go func() {
			profileDone <- e.saveProfile(ctx, profileDir, profileName, fmt.Sprintf("/profile?seconds=%d", cpuProfileSeconds))
		}()
	}
	start := time.Now()
	if err := e.createClients(ctx, from, to); err != nil {
		return res, err
	}
	res.createTime = time.Since(start)
	logf("created %d OAuthClients in %.1f s; waiting for Ready", to-from, res.createTime.Seconds())
	last, err := e.watcher.waitReady(ctx, names, e.operatorAlive)
	if err != nil {
		return res, err
	}
	res.allReady = last.Sub(start)
	cpu1, err := processCPU(e.op.pid())
	if err != nil {
		return res, err
	}
	res.cpu = cpu1 - cpu0
	if res.mem, err = processMemory(e.op.pid()); err != nil {
		return res, err
	}
	res.observed, res.recorded = e.watcher.latencies(names)
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			return res, err
		}
	}
	return res, nil
}

func (e *env) operatorAlive() error {
	if !e.op.running() {
		return fmt.Errorf("the operator exited: %w", e.op.exitErr())
	}
	return nil
}

// createClients creates OAuthClients from..to-1 with --creators goroutines, retrying the
// API server's transient refusals.
func (e *env) createClients(ctx context.Context, from, to int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(e.creators, to-from) {
		wg.Go(func() {
			for i := range next {
				if err := e.createClient(ctx, i); err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
					return
				}
			}
		})
	}
feed:
	for i := from; i < to; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func (e *env) createClient(ctx context.Context, i int) error {
	for attempt := 0; ; attempt++ {
		err := e.c.Create(ctx, benchClient(i))
		if err == nil {
			e.watcher.noteCreated(clientName(i), time.Now())
			return nil
		}
		transient := apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
		if !transient || attempt == 10 {
			return fmt.Errorf("creating OAuthClient %s: %w", clientName(i), err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// verifyResult is what the check of the API server and the database found.
type verifyResult struct {
	clients, ready, secrets, rows int
	problems                      []string
}

func (v *verifyResult) problem(format string, a ...any) {
	if len(v.problems) < 10 {
		v.problems = append(v.problems, fmt.Sprintf(format, a...))
	} else if len(v.problems) == 10 {
		v.problems = append(v.problems, "... (more left out)")
	}
}

// verify checks that the n OAuthClients are Ready, that each has its Secret with the
// client_id in status and a secret, and that each is registered in the database by this
// OAuthClient.
func (e *env) verify(ctx context.Context, n int) (verifyResult, error) {
	var v verifyResult
	var clients []authlyv1.OAuthClient
	for cont := ""; ; {
		var list authlyv1.OAuthClientList
		if err := e.c.List(ctx, &list, client.InNamespace(benchNamespace), client.Limit(1000), client.Continue(cont)); err != nil {
			return v, err
		}
		clients = append(clients, list.Items...)
		if cont = list.Continue; cont == "" {
			break
		}
	}
	secrets := map[string]corev1.Secret{}
	for cont := ""; ; {
		var list corev1.SecretList
		if err := e.c.List(ctx, &list, client.InNamespace(benchNamespace), client.Limit(1000), client.Continue(cont)); err != nil {
			return v, err
		}
		for _, s := range list.Items {
			secrets[s.Name] = s
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	st, err := store.Open(ctx, e.pg.URL(benchDatabase), store.Options{MaxConns: 1, ApplicationName: "operatorbench"})
	if err != nil {
		return v, err
	}
	defer st.Close()
	rows := map[string]*store.Client{}
	for after := ""; ; {
		page, err := st.ListClients(ctx, store.Page{Limit: 1000, After: after})
		if err != nil {
			return v, err
		}
		for _, c := range page {
			rows[c.ID] = c
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}

	v.clients = len(clients)
	if v.clients != n {
		v.problem("%d OAuthClients in the namespace, want %d", v.clients, n)
	}
	for _, oc := range clients {
		if c := meta.FindStatusCondition(oc.Status.Conditions, authlyv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
			v.ready++
		} else {
			v.problem("OAuthClient %s is not Ready: %+v", oc.Name, c)
		}
		id := oc.Status.ClientID
		if id == "" {
			v.problem("OAuthClient %s has no client_id in status", oc.Name)
			continue
		}
		s, ok := secrets[oc.EffectiveSecretName()]
		switch {
		case !ok:
			v.problem("OAuthClient %s: Secret %s is missing", oc.Name, oc.EffectiveSecretName())
		case string(s.Data["client_id"]) != id || len(s.Data["client_secret"]) == 0:
			v.problem("OAuthClient %s: Secret %s holds client_id %q (want %q) and a client_secret of %d bytes", oc.Name, s.Name, s.Data["client_id"], id, len(s.Data["client_secret"]))
		default:
			v.secrets++
		}
		row, ok := rows[id]
		switch {
		case !ok:
			v.problem("OAuthClient %s: client %s is not in the database", oc.Name, id)
		case row.ManagedBy != "k8s:"+oc.Namespace+"/"+oc.Name || !slices.Equal(row.GrantTypes, []string{string(authlyv1.GrantClientCredentials)}) || len(row.SecretHash) == 0:
			v.problem("OAuthClient %s: database row %s is managed by %q with grants %v and a secret hash of %d bytes", oc.Name, id, row.ManagedBy, row.GrantTypes, len(row.SecretHash))
		default:
			v.rows++
		}
	}
	if len(v.problems) > 0 {
		logf("verification found problems: %v", v.problems)
	} else {
		logf("verified %d OAuthClients: Ready, with their Secrets and database rows", n)
	}
	return v, nil
}

// memorySample is the operator's memory after phase 2, from /proc and its Go metrics.
type memorySample struct {
	proc                        memStatus
	heapInuse, heapAlloc, goSys float64
	goroutines                  float64
	cpuTotal                    float64
}

func (e *env) memory(ctx context.Context) (memorySample, error) {
	var s memorySample
	var err error
	if s.proc, err = processMemory(e.op.pid()); err != nil {
		return s, err
	}
	if s.cpuTotal, err = processCPU(e.op.pid()); err != nil {
		return s, err
	}
	m, err := scrapeMetrics(ctx, e.op.metrics, "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_goroutines")
	if err != nil {
		return s, fmt.Errorf("the operator's metrics: %w", err)
	}
	s.heapInuse, s.heapAlloc, s.goSys, s.goroutines = m["go_memstats_heap_inuse_bytes"], m["go_memstats_heap_alloc_bytes"], m["go_memstats_sys_bytes"], m["go_goroutines"]
	return s, nil
}

// saveHeapProfile writes the operator's heap profile into dir.
func (e *env) saveHeapProfile(ctx context.Context, dir string) error {
	return e.saveProfile(ctx, dir, "phase2-heap.pprof", "/heap")
}

func (e *env) saveProfile(ctx context.Context, dir, name, path string) error {
	if e.op.pprof == "" {
		return errors.New("pprof is not served by the operator")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.op.pprof+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	logf("saved %s", filepath.Join(dir, name))
	return f.Close()
}
