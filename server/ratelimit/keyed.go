/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package ratelimit limits requests with token buckets (golang.org/x/time/rate), one per
// key (a client id, a source address), in memory that stays bounded however many keys
// arrive.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is one bucket's refill rate and size.
type Limit struct {
	Rate  rate.Limit // tokens per second
	Burst int
}

// Share is the limit one replica enforces when the whole AuthServer may serve total
// requests per period: total/replicas per period, with a burst of that share (at least
// one) so that a quiet client may spend a period's worth at once. A total of zero or less
// disables the limit (Enabled reports false).
func Share(total float64, period time.Duration, replicas int) Limit {
	if total <= 0 || period <= 0 {
		return Limit{}
	}
	if replicas < 1 {
		replicas = 1
	}
	share := total / float64(replicas)
	return Limit{
		Rate:  rate.Limit(share / period.Seconds()),
		Burst: max(1, int(math.Floor(share))),
	}
}

// Enabled reports whether the limit limits anything.
func (l Limit) Enabled() bool { return l.Rate > 0 && l.Burst > 0 }

// refillTime is how long an empty bucket takes to fill: a bucket unused that long is full,
// the same as a new one, and may be dropped.
func (l Limit) refillTime() time.Duration {
	return time.Duration(float64(l.Burst) / float64(l.Rate) * float64(time.Second))
}

// Default bounds of a Keyed.
const (
	DefaultMaxKeys       = 100_000
	DefaultSweepInterval = time.Minute
)

// Keyed is a set of token buckets, one per key. It holds at most MaxKeys buckets: idle
// ones (full again, so dropping them changes nothing) are swept every SweepInterval and
// when the set is full; if a flood of distinct keys leaves none idle, the least recently
// used of a few sampled buckets makes room.
type Keyed struct {
	limit         Limit
	maxKeys       int
	sweepInterval time.Duration
	idleAfter     time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewKeyed returns an empty set of buckets of limit; maxKeys and sweepInterval of zero take
// the defaults.
func NewKeyed(limit Limit, maxKeys int, sweepInterval time.Duration) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if sweepInterval <= 0 {
		sweepInterval = DefaultSweepInterval
	}
	k := &Keyed{limit: limit, maxKeys: maxKeys, sweepInterval: sweepInterval, buckets: make(map[string]*bucket)}
	if limit.Enabled() {
		k.idleAfter = limit.refillTime()
	}
	return k
}

// Allow takes a token from key's bucket at now. When the bucket is empty it reports false
// and how long until a token is there: the reservation's delay, which is what Retry-After
// tells the caller.
func (k *Keyed) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if !k.limit.Enabled() {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.lastSweep) >= k.sweepInterval {
		k.sweep(now)
	}
	b, found := k.buckets[key]
	if !found {
		if len(k.buckets) >= k.maxKeys {
			k.makeRoom(now)
		}
		b = &bucket{lim: rate.NewLimiter(k.limit.Rate, k.limit.Burst)}
		k.buckets[string([]byte(key))] = b // a copy: key may be a slice of a larger string
	}
	b.last = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	// Refused: a reservation says when the token will be there; cancelling it gives the
	// token back, so that a refused request costs the caller nothing.
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, k.idleAfter
	}
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return false, d
}

// sweep drops the idle buckets. Called with mu held.
func (k *Keyed) sweep(now time.Time) {
	k.lastSweep = now
	for key, b := range k.buckets {
		if now.Sub(b.last) >= k.idleAfter {
			delete(k.buckets, key)
		}
	}
}

// evictSample is how many buckets makeRoom compares when none is idle.
const evictSample = 8

// makeRoom frees at least one slot. Called with mu held, when the set is full. A full
// sweep runs at most once a second, so that a flood of new keys does not make every
// request scan the map.
func (k *Keyed) makeRoom(now time.Time) {
	if now.Sub(k.lastSweep) >= time.Second {
		k.sweep(now)
		if len(k.buckets) < k.maxKeys {
			return
		}
	}
	// Map iteration starts at a random place: these are random buckets.
	var oldestKey string
	var oldest time.Time
	n := 0
	for key, b := range k.buckets {
		if n == 0 || b.last.Before(oldest) {
			oldestKey, oldest = key, b.last
		}
		n++
		if n == evictSample {
			break
		}
	}
	delete(k.buckets, oldestKey)
}

// Len is the number of buckets held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}
