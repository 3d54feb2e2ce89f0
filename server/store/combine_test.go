/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recordingCombiner combines ints; each batch is recorded, and run blocks while gate is
// held so that tests can queue calls behind a running batch.
type recordingCombiner struct {
	*combiner[int, int]
	mu      sync.Mutex
	batches [][]int
	gate    sync.RWMutex
}

func newRecordingCombiner(slots, maxBatch int) *recordingCombiner {
	rc := &recordingCombiner{}
	rc.combiner = newCombiner(slots, maxBatch, func(a, b int) bool { return a == b }, func(batch []*combinedCall[int, int]) {
		rc.gate.RLock()
		defer rc.gate.RUnlock()
		var ins []int
		for _, call := range batch {
			ins = append(ins, call.in)
			call.out = call.in * 10
		}
		rc.mu.Lock()
		rc.batches = append(rc.batches, ins)
		rc.mu.Unlock()
	})
	return rc
}

func (rc *recordingCombiner) recorded() [][]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]int(nil), rc.batches...)
}

// queued waits until n calls are queued behind the running batches.
func (rc *recordingCombiner) queued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		rc.combiner.mu.Lock()
		got := len(rc.pending)
		rc.combiner.mu.Unlock()
		rc.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRunning waits until n batches are running.
func waitRunning[In, Out any](t *testing.T, c *combiner[In, Out], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		running := c.running
		c.mu.Unlock()
		if running == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d batches running, want %d", running, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// doAll runs do for each input in its own goroutine and returns the outputs by input.
func (rc *recordingCombiner) doAll(ctx context.Context, ins []int) (chan map[int]int, chan error) {
	outs := make(chan map[int]int, 1)
	errs := make(chan error, len(ins))
	go func() {
		var mu sync.Mutex
		got := map[int]int{}
		var wg sync.WaitGroup
		for _, in := range ins {
			wg.Go(func() {
				out, err := rc.do(ctx, in)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[in] += out
				mu.Unlock()
			})
		}
		wg.Wait()
		outs <- got
	}()
	return outs, errs
}

func TestCombinerRunsAloneWhenIdle(t *testing.T) {
	rc := newRecordingCombiner(1, 64)
	for i := range 3 {
		out, err := rc.do(context.Background(), i)
		if err != nil || out != i*10 {
			t.Fatalf("do(%d) = %d, %v", i, out, err)
		}
	}
	if got := rc.recorded(); len(got) != 3 {
		t.Errorf("batches %v, want one per call", got)
	}
}

func TestCombinerBatchesWhatQueuesBehindABusySlot(t *testing.T) {
	rc := newRecordingCombiner(1, 4)
	rc.gate.Lock() // the first batch blocks in run
	first, _ := rc.doAll(context.Background(), []int{100})
	waitRunning(t, rc.combiner, 1)
	// Ten calls queue: 1 and 2 twice each, which may not share a batch.
	ins := []int{1, 2, 3, 4, 5, 6, 7, 8, 1, 2}
	outs, errs := rc.doAll(context.Background(), ins)
	rc.queued(t, len(ins))
	rc.gate.Unlock()
	<-first
	got := <-outs
	close(errs)
	for err := range errs {
		t.Errorf("do: %v", err)
	}
	for _, in := range []int{3, 4, 5, 6, 7, 8} {
		if got[in] != in*10 {
			t.Errorf("out for %d = %d, want %d", in, got[in], in*10)
		}
	}
	if got[1] != 20 || got[2] != 40 {
		t.Errorf("outs of the twice-queued calls %d, %d: want each call answered (20, 40)", got[1], got[2])
	}
	batches := rc.recorded()
	total := 0
	for _, b := range batches[1:] {
		total += len(b)
		if len(b) > 4 {
			t.Errorf("batch %v larger than the maximum 4", b)
		}
		seen := map[int]bool{}
		for _, in := range b {
			if seen[in] {
				t.Errorf("batch %v holds %d twice", b, in)
			}
			seen[in] = true
		}
	}
	if total != len(ins) {
		t.Errorf("batches %v after the first ran %d calls, want %d", batches, total, len(ins))
	}
	// 10 calls, at most 4 a batch: 3 batches when the queue is taken whole each time.
	if n := len(batches) - 1; n > 4 {
		t.Errorf("%d batches for 10 queued calls (%v): they were not combined", n, batches)
	}
}

func TestCombinerCancelledWhileQueued(t *testing.T) {
	rc := newRecordingCombiner(1, 64)
	rc.gate.Lock()
	first, _ := rc.doAll(context.Background(), []int{1})
	waitRunning(t, rc.combiner, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rc.do(ctx, 2)
		done <- err
	}()
	rc.queued(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled queued call: %v, want context.Canceled", err)
	}
	rc.gate.Unlock()
	<-first
	for _, b := range rc.recorded() {
		for _, in := range b {
			if in == 2 {
				t.Errorf("the cancelled call ran (batches %v)", rc.recorded())
			}
		}
	}
}

func TestCombinerPanicReleasesTheOthers(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	c := newCombiner(1, 64, func(_, _ int) bool { return false }, func(batch []*combinedCall[int, int]) {
		if batch[0].in == 0 {
			once.Do(func() { close(started) })
			<-gate
			return
		}
		panic("boom")
	})
	go func() { _, _ = c.do(context.Background(), 0) }()
	<-started
	waitRunning(t, c, 1)
	results := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					results <- errors.New("panicked")
				}
			}()
			_, err := c.do(context.Background(), i)
			results <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	var panicked, failed int
	for range 3 {
		err := <-results
		switch {
		case err == nil:
			t.Error("a call of the panicking batch succeeded")
		case err.Error() == "panicked":
			panicked++
		case errors.Is(err, errCombinedPanic):
			failed++
		}
	}
	if panicked != 1 || failed != 2 {
		t.Errorf("%d callers panicked and %d got errCombinedPanic, want 1 and 2", panicked, failed)
	}
	// The slot was given back.
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if running != 0 {
		t.Errorf("%d slots still taken after the panic", running)
	}
}
