/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// readyWatcher follows the OAuthClients of the benchmark's namespace through a watch (one
// request, not a List of thousands of objects every few hundred milliseconds, which would
// take API server CPU from the operator) and notes when each is first seen Ready.
type readyWatcher struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	created map[string]time.Time // when the create call returned, by name
	ready   map[string]readiness
	changed chan struct{} // closed and replaced at every change of ready
}

// readiness is when one OAuthClient became Ready.
type readiness struct {
	seen       time.Time   // when the watch delivered it Ready (the benchmark's clock)
	created    metav1.Time // its creationTimestamp (API server, whole seconds)
	transition metav1.Time // the Ready condition's lastTransitionTime (operator, whole seconds)
}

func watchReady(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*readyWatcher, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{benchNamespace: {}}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &readyWatcher{
		cancel:  cancel,
		done:    make(chan struct{}),
		created: map[string]time.Time{},
		ready:   map[string]readiness{},
		changed: make(chan struct{}),
	}
	inf, err := c.GetInformer(ctx, &authlyv1.OAuthClient{})
	if err != nil {
		cancel()
		return nil, err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.observe,
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	}); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(w.done)
		_ = c.Start(ctx)
	}()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		<-w.done
		return nil, fmt.Errorf("the OAuthClient watch did not sync")
	}
	return w, nil
}

func (w *readyWatcher) stop() {
	w.cancel()
	<-w.done
}

func (w *readyWatcher) observe(obj any) {
	oc, ok := obj.(*authlyv1.OAuthClient)
	if !ok {
		return
	}
	c := meta.FindStatusCondition(oc.Status.Conditions, authlyv1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionTrue {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.ready[oc.Name]; ok {
		return
	}
	w.ready[oc.Name] = readiness{seen: now, created: oc.CreationTimestamp, transition: c.LastTransitionTime}
	close(w.changed)
	w.changed = make(chan struct{})
}

// noteCreated records when the create call of an OAuthClient returned.
func (w *readyWatcher) noteCreated(name string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.created[name] = at
}

// waitReady waits until every name in names is Ready and returns when the last one was
// seen Ready.
func (w *readyWatcher) waitReady(ctx context.Context, names []string, alive func() error) (time.Time, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		w.mu.Lock()
		var last time.Time
		missing := 0
		for _, n := range names {
			r, ok := w.ready[n]
			if !ok {
				missing++
				continue
			}
			if r.seen.After(last) {
				last = r.seen
			}
		}
		changed := w.changed
		w.mu.Unlock()
		if missing == 0 {
			return last, nil
		}
		select {
		case <-changed:
		case <-tick.C:
			if err := alive(); err != nil {
				return time.Time{}, err
			}
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d OAuthClients not Ready yet: %w", missing, len(names), ctx.Err())
		}
	}
}

// latencies returns, for names, the time from the create call returning to Ready seen by
// the watch, and from creationTimestamp to the Ready condition's lastTransitionTime.
func (w *readyWatcher) latencies(names []string) (observed, recorded []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		r, ok := w.ready[n]
		if !ok {
			continue
		}
		if c, ok := w.created[n]; ok {
			observed = append(observed, max(r.seen.Sub(c), 0))
		}
		recorded = append(recorded, r.transition.Sub(r.created.Time))
	}
	return observed, recorded
}
