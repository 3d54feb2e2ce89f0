/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
)

// combiner runs the operations of concurrent callers as fewer, larger statements. Each
// statement costs Postgres and the server a round trip, a commit and per-statement
// executor work besides the rows it touches; when requests queue for the database, one
// statement for the whole queue spends that once. Measured on the benchmark machine: a
// refresh-token rotation cost 135 µs of Postgres CPU as its own statement and 62 µs in
// statements of 8.
//
// There is no background goroutine and no timer. A caller queues its operation; when
// fewer than slots statements are running it leads: it takes the queue (up to max
// operations), runs it, and hands the slot on to the first caller still queued. Other
// callers sleep until their operation has run. With slots free, as on an idle server,
// every operation runs at once on its own; batches form only while the slots are busy,
// so combining adds no wait that the queue for the database would not add anyway.
type combiner[In, Out any] struct {
	slots, max int
	// conflict reports whether two operations must not share a statement (the same
	// refresh token presented twice: the second must see the first's effect).
	conflict func(a, b In) bool
	// run executes a batch and sets every call's out or err.
	run func(batch []*combinedCall[In, Out])

	mu      sync.Mutex
	running int
	pending []*combinedCall[In, Out]
}

// combinedCall is one caller's operation.
type combinedCall[In, Out any] struct {
	in  In
	out Out
	err error
	// state and wake are guarded by the combiner's mu. wake (capacity 1) tells a sleeping
	// caller to look again: its call has run, or a slot is free.
	state callState
	wake  chan struct{}
}

type callState int

const (
	callQueued callState = iota
	callTaken
	callDone
)

func newCombiner[In, Out any](slots, maxBatch int, conflict func(a, b In) bool, run func([]*combinedCall[In, Out])) *combiner[In, Out] {
	return &combiner[In, Out]{slots: max(slots, 1), max: max(maxBatch, 1), conflict: conflict, run: run}
}

// do queues in and returns its result once a batch holding it has run. When ctx ends
// while the operation is still queued, do returns ctx's error; once a batch holds it, do
// waits for that batch, so the caller learns what happened.
func (c *combiner[In, Out]) do(ctx context.Context, in In) (Out, error) {
	call := &combinedCall[In, Out]{in: in, wake: make(chan struct{}, 1)}
	cancelled := ctx.Done()
	c.mu.Lock()
	c.pending = append(c.pending, call)
	for {
		if call.state == callDone {
			c.mu.Unlock()
			return call.out, call.err
		}
		if call.state == callQueued && c.running < c.slots {
			c.lead()
			continue
		}
		c.mu.Unlock()
		select {
		case <-call.wake:
			c.mu.Lock()
		case <-cancelled:
			c.mu.Lock()
			if call.state == callQueued {
				c.removeLocked(call)
				c.mu.Unlock()
				var zero Out
				return zero, ctx.Err()
			}
			cancelled = nil // a batch holds it: wait for the result
		}
	}
}

// lead runs one batch from the queue. It is called, and returns, with mu held.
func (c *combiner[In, Out]) lead() {
	c.running++
	batch := c.takeLocked()
	c.mu.Unlock()
	panicked := true
	defer func() {
		c.mu.Lock()
		for _, call := range batch {
			if panicked && call.err == nil {
				call.err = errCombinedPanic
			}
			call.state = callDone
			notify(call.wake)
		}
		c.running--
		if len(c.pending) > 0 {
			notify(c.pending[0].wake) // the slot is free: the next caller leads
		}
		if panicked {
			c.mu.Unlock() // the panic goes on; the caller's deferred code does not hold mu
		}
	}()
	c.run(batch)
	panicked = false
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// takeLocked removes up to max queued operations, no two of which conflict, in queue
// order.
func (c *combiner[In, Out]) takeLocked() []*combinedCall[In, Out] {
	batch := make([]*combinedCall[In, Out], 0, min(len(c.pending), c.max))
	rest := c.pending[:0]
	for _, call := range c.pending {
		if len(batch) < c.max && !c.conflicts(batch, call.in) {
			call.state = callTaken
			batch = append(batch, call)
		} else {
			rest = append(rest, call)
		}
	}
	clear(c.pending[len(rest):])
	c.pending = rest
	return batch
}

func (c *combiner[In, Out]) conflicts(batch []*combinedCall[In, Out], in In) bool {
	for _, other := range batch {
		if c.conflict(other.in, in) {
			return true
		}
	}
	return false
}

func (c *combiner[In, Out]) removeLocked(call *combinedCall[In, Out]) {
	for i, p := range c.pending {
		if p == call {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return
		}
	}
}

var errCombinedPanic = errors.New("store: a combined statement panicked")

// consumed is the combined result of consuming one single-use credential (a code, a
// refresh token): the row as consumed, or nil when no usable row matched (the caller then
// finds out why), or retry when the statement was rolled back and the operation must run
// again on its own.
type consumed[T any] struct {
	row   *T
	retry bool
}

// consumeBatch runs a batch of consumptions of single-use credentials: a batch of one
// through one (pgx.ErrNoRows when nothing matched), a larger one through many, whose rows
// are given to the calls they belong to by belongs. It is not bound to any caller's
// context: once started, a statement that consumes credentials must finish and report
// to every caller.
func consumeBatch[In, T any](batch []*combinedCall[In, consumed[T]],
	one func(context.Context, In) (*T, error),
	many func(context.Context, []In) ([]*T, error),
	belongs func(In, *T) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), combinedStatementTimeout)
	defer cancel()
	if len(batch) == 1 {
		call := batch[0]
		row, err := one(ctx, call.in)
		switch {
		case err == nil:
			call.out.row = row
		case !errors.Is(err, pgx.ErrNoRows):
			call.err = err
		}
		return
	}
	ins := make([]In, len(batch))
	for i, call := range batch {
		ins[i] = call.in
	}
	rows, err := many(ctx, ins)
	for _, call := range batch {
		switch {
		case err == nil:
			for _, row := range rows {
				if belongs(call.in, row) {
					call.out.row = row
					break
				}
			}
		case rolledBack(err):
			call.out.retry = true
		default:
			call.err = err
		}
	}
}
