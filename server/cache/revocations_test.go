/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeRevocations is a RevocationLoader over slices, counting loads.
type fakeRevocations struct {
	mu      sync.Mutex
	revoked []store.RevokedToken
	cutoffs []store.Cutoff
	err     error
	loads   int
	lastNow time.Time

	// When gate is set, ListRevokedTokens takes its snapshot, signals started and waits
	// for gate before answering, so that a test can act while a reload is in flight.
	started chan struct{}
	gate    chan struct{}
}

func (f *fakeRevocations) ListRevokedTokens(_ context.Context, now time.Time) ([]store.RevokedToken, error) {
	f.mu.Lock()
	f.loads++
	f.lastNow = now
	list, err := append([]store.RevokedToken(nil), f.revoked...), f.err
	started, gate := f.started, f.gate
	f.mu.Unlock()
	if gate != nil {
		started <- struct{}{}
		<-gate
	}
	if err != nil {
		return nil, err
	}
	return list, nil
}

func (f *fakeRevocations) ListCutoffs(context.Context) ([]store.Cutoff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return append([]store.Cutoff(nil), f.cutoffs...), nil
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

const maxTTL = time.Hour

func newRevocations(t *testing.T, f *fakeRevocations) (*Revocations, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	r := NewRevocations(f, clk.Now, maxTTL)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	return r, clk
}

func wantSize(t *testing.T, r *Revocations, jtis, cutoffs int) {
	t.Helper()
	if gj, gc := r.Size(); gj != jtis || gc != cutoffs {
		t.Errorf("Size() = %d jtis, %d cutoffs; want %d, %d", gj, gc, jtis, cutoffs)
	}
}

func TestRevoked(t *testing.T) {
	cut := t0.Add(-10 * time.Minute)
	f := &fakeRevocations{
		revoked: []store.RevokedToken{{JTI: "jti-1", ExpiresAt: t0.Add(time.Hour)}, {JTI: "jti-2", ExpiresAt: t0.Add(time.Minute)}},
		cutoffs: []store.Cutoff{
			{Kind: store.CutoffClient, Subject: "web", NotBefore: cut},
			{Kind: store.CutoffUser, Subject: "alice", NotBefore: cut},
		},
	}
	r, _ := newRevocations(t, f)
	if !f.lastNow.Equal(t0) {
		t.Errorf("Reload listed revoked tokens at %v, want the clock's %v", f.lastNow, t0)
	}
	wantSize(t, r, 2, 2)

	tests := []struct {
		name     string
		jti      string
		client   string
		subject  string
		issuedAt time.Time
		want     bool
	}{
		{"deny-listed jti", "jti-1", "other", "bob", t0, true},
		{"second deny-listed jti", "jti-2", "other", "", t0, true},
		{"unknown jti", "jti-3", "other", "bob", t0, false},
		{"empty jti", "", "other", "bob", t0, false},
		{"client cutoff, issued before", "jti-3", "web", "bob", cut.Add(-time.Second), true},
		{"client cutoff, issued at", "jti-3", "web", "bob", cut, true},
		{"client cutoff, issued after", "jti-3", "web", "bob", cut.Add(time.Second), false},
		{"client cutoff, issued a nanosecond after", "jti-3", "web", "bob", cut.Add(time.Nanosecond), false},
		{"user cutoff, issued before", "jti-3", "other", "alice", cut.Add(-time.Hour), true},
		{"user cutoff, issued at", "jti-3", "other", "alice", cut, true},
		{"user cutoff, issued after", "jti-3", "other", "alice", cut.Add(time.Second), false},
		{"client token without subject", "jti-3", "other", "", cut.Add(-time.Hour), false},
		{"subject named like a client", "jti-3", "other", "web", cut.Add(-time.Hour), false},
		{"client named like a user", "jti-3", "alice", "", cut.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Revoked(tt.jti, tt.client, tt.subject, tt.issuedAt); got != tt.want {
				t.Errorf("Revoked(%q, %q, %q, %v) = %v, want %v", tt.jti, tt.client, tt.subject, tt.issuedAt, got, tt.want)
			}
		})
	}
}

func TestRevocationsEmpty(t *testing.T) {
	r := NewRevocations(&fakeRevocations{}, nil, maxTTL)
	if r.Revoked("jti", "web", "alice", time.Time{}) {
		t.Error("an empty set revokes a token")
	}
	wantSize(t, r, 0, 0)
}

func TestRevocationsReload(t *testing.T) {
	ctx := context.Background()
	f := &fakeRevocations{
		revoked: []store.RevokedToken{{JTI: "old", ExpiresAt: t0.Add(time.Hour)}},
		cutoffs: []store.Cutoff{{Kind: store.CutoffClient, Subject: "web", NotBefore: t0}},
	}
	r, _ := newRevocations(t, f)

	// A failed reload keeps what was there.
	f.err = errors.New("database down")
	if err := r.Reload(ctx); !errors.Is(err, f.err) {
		t.Fatalf("Reload = %v, want %v", err, f.err)
	}
	if !r.Revoked("old", "x", "", t0) || !r.Revoked("", "web", "", t0) {
		t.Error("a failed Reload dropped the state")
	}

	// A successful one replaces the cutoffs entirely. Deny-listed ids stay until their
	// token expires (a revocation is never undone), even when the database no longer lists
	// them; expired ones go.
	f.err = nil
	f.revoked = []store.RevokedToken{{JTI: "new", ExpiresAt: t0.Add(time.Hour)}}
	f.cutoffs = []store.Cutoff{{Kind: store.CutoffUser, Subject: "alice", NotBefore: t0}}
	r.Deny("expired", t0.Add(-time.Second))
	r.Deny("at-now", t0)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Revoked("", "web", "", t0) {
		t.Error("Reload kept a cutoff the database no longer has")
	}
	if r.Revoked("expired", "x", "", t0) {
		t.Error("Reload kept an expired jti")
	}
	for _, jti := range []string{"new", "old", "at-now"} {
		if !r.Revoked(jti, "x", "", t0) {
			t.Errorf("%s not revoked after Reload", jti)
		}
	}
	if !r.Revoked("", "x", "alice", t0) {
		t.Error("Reload did not take in the new cutoff")
	}
	wantSize(t, r, 3, 1)
}

func TestRevocationsApply(t *testing.T) {
	tests := []struct {
		name       string
		change     store.Change
		wantLoads  int // Reload calls after the initial one
		wantJTI    bool
		wantCutoff bool
	}{
		{"revoked", store.Change{Kind: store.ChangeRevoked, Key: "jti-9"}, 0, true, false},
		{"cutoff", store.Change{Kind: store.ChangeCutoff, Key: "user:alice"}, 1, false, true},
		{"reset", store.Change{Kind: store.ChangeReset}, 1, false, true},
		{"client change is not ours", store.Change{Kind: store.ChangeClient, Key: "web"}, 0, false, false},
		{"key change is not ours", store.Change{Kind: store.ChangeKey, Key: "kid"}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRevocations{}
			r, clk := newRevocations(t, f)
			// The database gains a cutoff that only a reload can bring in.
			f.cutoffs = []store.Cutoff{{Kind: store.CutoffUser, Subject: "alice", NotBefore: t0}}
			if err := r.Apply(context.Background(), tt.change); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := f.loads - 1; got != tt.wantLoads {
				t.Errorf("Apply reloaded %d times, want %d", got, tt.wantLoads)
			}
			if got := r.Revoked("jti-9", "web", "", t0); got != tt.wantJTI {
				t.Errorf("jti-9 revoked = %v, want %v", got, tt.wantJTI)
			}
			if got := r.Revoked("", "web", "alice", t0); got != tt.wantCutoff {
				t.Errorf("alice's token revoked = %v, want %v", got, tt.wantCutoff)
			}
			if !tt.wantJTI {
				return
			}
			// A jti learnt from a notification is kept for the longest token lifetime.
			clk.Set(t0.Add(maxTTL))
			r.Prune()
			if !r.Revoked("jti-9", "web", "", t0) {
				t.Error("jti-9 pruned at exactly now+maxTokenTTL")
			}
			clk.Set(t0.Add(maxTTL + time.Second))
			r.Prune()
			if r.Revoked("jti-9", "web", "", t0) {
				t.Error("jti-9 kept after now+maxTokenTTL")
			}
		})
	}
}

func TestRevocationsApplyReloadError(t *testing.T) {
	f := &fakeRevocations{}
	r, _ := newRevocations(t, f)
	f.err = errors.New("database down")
	if err := r.Apply(context.Background(), store.Change{Kind: store.ChangeCutoff, Key: "client:web"}); !errors.Is(err, f.err) {
		t.Errorf("Apply(cutoff) = %v, want the reload's error", err)
	}
	// A revoked change needs no database.
	if err := r.Apply(context.Background(), store.Change{Kind: store.ChangeRevoked, Key: "j"}); err != nil {
		t.Errorf("Apply(revoked) = %v", err)
	}
}

func TestRevocationsDenyAndPrune(t *testing.T) {
	f := &fakeRevocations{
		revoked: []store.RevokedToken{{JTI: "loaded", ExpiresAt: t0.Add(30 * time.Minute)}},
		cutoffs: []store.Cutoff{{Kind: store.CutoffClient, Subject: "web", NotBefore: t0}},
	}
	r, clk := newRevocations(t, f)
	r.Deny("soon", t0.Add(time.Minute))
	r.Deny("late", t0.Add(2*time.Hour))
	r.Deny("expired", t0.Add(-time.Second))
	wantSize(t, r, 4, 1)
	for _, jti := range []string{"loaded", "soon", "late", "expired"} {
		if !r.Revoked(jti, "other", "", t0) {
			t.Errorf("%s not revoked right after Deny/Reload", jti)
		}
	}

	steps := []struct {
		at   time.Time
		kept []string
		gone []string
	}{
		{t0, []string{"loaded", "soon", "late"}, []string{"expired"}},
		{t0.Add(time.Minute), []string{"loaded", "soon", "late"}, []string{"expired"}},
		{t0.Add(time.Minute + time.Nanosecond), []string{"loaded", "late"}, []string{"soon"}},
		{t0.Add(31 * time.Minute), []string{"late"}, []string{"loaded"}},
		{t0.Add(3 * time.Hour), nil, []string{"late"}},
	}
	for _, s := range steps {
		clk.Set(s.at)
		r.Prune()
		for _, jti := range s.kept {
			if !r.Revoked(jti, "other", "", t0) {
				t.Errorf("at %v: %s pruned too early", s.at, jti)
			}
		}
		for _, jti := range s.gone {
			if r.Revoked(jti, "other", "", t0) {
				t.Errorf("at %v: %s not pruned", s.at, jti)
			}
		}
		if got, _ := r.Size(); got != len(s.kept) {
			t.Errorf("at %v: %d jtis held, want %d", s.at, got, len(s.kept))
		}
	}
	// Prune leaves the cutoffs alone.
	wantSize(t, r, 0, 1)
	if !r.Revoked("", "web", "", t0) {
		t.Error("Prune dropped a cutoff")
	}
}

// TestRevocationsConcurrent is for -race.
func TestRevocationsConcurrent(t *testing.T) {
	f := &fakeRevocations{cutoffs: []store.Cutoff{{Kind: store.CutoffClient, Subject: "web", NotBefore: t0}}}
	r, clk := newRevocations(t, f)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				switch g {
				case 0:
					r.Deny("d", t0.Add(time.Hour))
				case 1:
					_ = r.Apply(context.Background(), store.Change{Kind: store.ChangeRevoked, Key: "a"})
				case 2:
					if i%10 == 0 {
						_ = r.Apply(context.Background(), store.Change{Kind: store.ChangeCutoff})
					}
					r.Prune()
					clk.Set(t0.Add(time.Duration(i) * time.Second))
				default:
					if !r.Revoked("", "web", "", t0) {
						t.Error("client cutoff lost during concurrent use")
						return
					}
					r.Size()
				}
			}
		})
	}
	wg.Wait()
}
