/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admission

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitQueued blocks until n callers wait in q. It polls the queue's state, it does not time
// anything.
func waitQueued(t *testing.T, q *Queue, n int) {
	t.Helper()
	for q.Queued() != n {
		runtime.Gosched()
	}
}

func TestFIFOOrder(t *testing.T) {
	q := New(1, nil)
	if err := q.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 20
	got := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			got <- i
			q.Release()
		}()
		waitQueued(t, q, i+1) // the next one arrives after this one queued
	}
	q.Release()
	wg.Wait()
	close(got)
	want := 0
	for i := range got {
		if i != want {
			t.Fatalf("admitted waiter %d, want %d (arrival order)", i, want)
		}
		want++
	}
	if want != n {
		t.Fatalf("admitted %d waiters, want %d", want, n)
	}
}

func TestBound(t *testing.T) {
	q := New(3, nil)
	for range 3 {
		if err := q.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	admitted := make(chan struct{})
	go func() {
		if err := q.Acquire(context.Background()); err != nil {
			t.Error(err)
		}
		close(admitted)
	}()
	waitQueued(t, q, 1)
	select {
	case <-admitted:
		t.Fatal("a fourth caller was admitted while three held the slots")
	default:
	}
	q.Release()
	<-admitted
	if q.Queued() != 0 {
		t.Fatalf("Queued() = %d after the waiter was admitted, want 0", q.Queued())
	}
}

func TestBoundUnderContention(t *testing.T) {
	const slots = 2
	q := New(slots, nil)
	var holders, most atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if err := q.Acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				h := holders.Add(1)
				for {
					m := most.Load()
					if h <= m || most.CompareAndSwap(m, h) {
						break
					}
				}
				runtime.Gosched()
				holders.Add(-1)
				q.Release()
			}
		}()
	}
	wg.Wait()
	if m := most.Load(); m > slots {
		t.Fatalf("%d holders at once, want at most %d", m, slots)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	q := New(1, nil)
	if err := q.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error)
	go func() { cancelled <- q.Acquire(ctx) }()
	waitQueued(t, q, 1)
	admitted := make(chan struct{})
	go func() {
		if err := q.Acquire(context.Background()); err != nil {
			t.Error(err)
		}
		close(admitted)
	}()
	waitQueued(t, q, 2)

	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
	}
	if n := q.Queued(); n != 1 {
		t.Fatalf("Queued() = %d after the cancel, want 1", n)
	}
	q.Release() // goes to the second waiter, not to the one that left
	<-admitted
	q.Release()
	// Every slot is free again: a new caller is admitted at once.
	if err := q.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireWithDoneContextOnFullQueue(t *testing.T) {
	q := New(1, nil)
	if err := q.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	if n := q.Queued(); n != 0 {
		t.Fatalf("Queued() = %d, want 0", n)
	}
}

// Cancellations racing with releases must neither lose a slot nor admit too many.
func TestCancelRacingRelease(t *testing.T) {
	const slots = 2
	q := New(slots, nil)
	var holders atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				ctx, cancel := context.WithCancel(context.Background())
				if (i+j)%3 == 0 {
					go cancel()
				}
				if err := q.Acquire(ctx); err == nil {
					if holders.Add(1) > slots {
						t.Error("more holders than slots")
					}
					holders.Add(-1)
					q.Release()
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	// No slot was lost: all of them can be taken without waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range slots {
		q.mu.Lock()
		free := q.free
		q.mu.Unlock()
		if free == 0 {
			t.Fatal("a slot was lost")
		}
		if err := q.Acquire(ctx); err != nil {
			t.Fatalf("Acquire on an idle queue = %v", err)
		}
	}
}

func TestObserve(t *testing.T) {
	var waits []time.Duration
	var mu sync.Mutex
	q := New(1, func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() })
	if err := q.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		if err := q.Acquire(context.Background()); err != nil {
			t.Error(err)
		}
		close(done)
	}()
	waitQueued(t, q, 1)
	q.Release()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0] != 0 || waits[1] < 0 {
		t.Fatalf("observed waits %v, want [0, >=0]", waits)
	}
}
