/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package admission admits CPU-heavy work (token signatures) in arrival order, at most a
// fixed number at a time.
//
// Under saturation the Go scheduler and the listener do not serve requests in arrival
// order, so a request may lose the race for the CPU to later ones again and again: the
// tail latency grows far beyond the mean. A Queue hands its slots out strictly first come,
// first served, which a buffered-channel semaphore does not (every waiter on a full
// channel races for the freed slot).
package admission

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Queue is a FIFO semaphore: at most n holders, the others wait in arrival order.
type Queue struct {
	// observe, when set, receives every admitted caller's wait (zero when a slot was free).
	observe func(time.Duration)

	mu      sync.Mutex
	free    int
	waiters []chan struct{} // in arrival order; a slot is handed over by closing one
}

// New returns a queue of n slots (at least one). observe, when not nil, is called with the
// wait of each admitted caller, outside the queue's lock.
func New(n int, observe func(time.Duration)) *Queue {
	return &Queue{free: max(n, 1), observe: observe}
}

// Acquire waits for a slot in arrival order. It returns ctx's error, holding no slot, when
// ctx is done first; the caller then leaves the queue. On nil the caller must Release.
func (q *Queue) Acquire(ctx context.Context) error {
	q.mu.Lock()
	if q.free > 0 && len(q.waiters) == 0 {
		q.free--
		q.mu.Unlock()
		if q.observe != nil {
			q.observe(0)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		q.mu.Unlock()
		return err
	}
	ready := make(chan struct{})
	q.waiters = append(q.waiters, ready)
	q.mu.Unlock()

	var start time.Time
	if q.observe != nil {
		start = time.Now()
	}
	select {
	case <-ready:
		if q.observe != nil {
			q.observe(time.Since(start))
		}
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	select {
	case <-ready:
		// Release handed us the slot as ctx ended: pass it on.
		q.releaseLocked()
	default:
		q.waiters = slices.DeleteFunc(q.waiters, func(w chan struct{}) bool { return w == ready })
	}
	q.mu.Unlock()
	return ctx.Err()
}

// Release gives the slot back: to the longest waiting caller, if any.
func (q *Queue) Release() {
	q.mu.Lock()
	q.releaseLocked()
	q.mu.Unlock()
}

func (q *Queue) releaseLocked() {
	if len(q.waiters) == 0 {
		q.free++
		return
	}
	next := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	close(next)
}

// Queued returns the number of callers waiting for a slot.
func (q *Queue) Queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiters)
}
