/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
)

// fakeStore is an in-memory Store for the grants' unit tests. It mimics what the store
// documents and its tests against Postgres prove for the methods the token endpoint
// calls: single-use codes that burn on a mismatch and revoke what they issued when
// redeemed twice, refresh rotation with family revocation on reuse and the reuse
// interval, login lockout counted per key, and for the pages the login sessions (expired
// ones are not found) and consents (granted scopes add up). GetScope knows the scopes of
// addScope. What is left (discovery's AnyClientHasGrantType) is not implemented: the
// embedded nil Store panics, so a test that reaches it fails loudly.
type fakeStore struct {
	Store

	mu       sync.Mutex
	codes    map[string]*store.AuthorizationCode // by string(hash)
	refresh  map[string]*store.RefreshToken
	users    map[string]*store.User // by ID
	failures map[string]*loginFailure
	// denied is the access token deny-list: jti to expiry.
	denied map[string]time.Time
	// devices are the device authorizations, by string(device code hash).
	devices map[string]*store.DeviceAuthorization
	// assertions are the client assertions used: client_id and jti to expiry.
	assertions map[[2]string]time.Time
	sessions   map[string]*store.Session // by string(hash)
	consents   map[[2]string][]string    // by user ID and client ID
	scopes     map[string]*store.Scope
}

type loginFailure struct {
	failures    int
	first       time.Time
	lockedUntil time.Time
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		codes: map[string]*store.AuthorizationCode{}, refresh: map[string]*store.RefreshToken{},
		users: map[string]*store.User{}, failures: map[string]*loginFailure{}, denied: map[string]time.Time{},
		devices:    map[string]*store.DeviceAuthorization{},
		assertions: map[[2]string]time.Time{},
		sessions:   map[string]*store.Session{}, consents: map[[2]string][]string{}, scopes: map[string]*store.Scope{},
	}
}

// UseClientAssertion is store.UseClientAssertion: a jti is refused while its first
// assertion has not expired.
func (s *fakeStore) UseClientAssertion(_ context.Context, clientID, jti string, expiresAt, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{clientID, jti}
	if exp, ok := s.assertions[key]; ok && exp.After(now) {
		return store.ErrAlreadyUsed
	}
	s.assertions[key] = expiresAt
	return nil
}

func (s *fakeStore) addUser(u *store.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

func (s *fakeStore) CreateAuthorizationCode(_ context.Context, c *store.AuthorizationCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[string(c.Hash)]; ok {
		return store.ErrConflict
	}
	cp := *c
	s.codes[string(c.Hash)] = &cp
	return nil
}

// RedeemAuthorizationCode checks in store.codeRedeemFailure's order: unknown, used (which
// revokes the family and access token of the first redemption), expired, mismatch (which
// burns the code).
func (s *fakeStore) RedeemAuthorizationCode(_ context.Context, r store.CodeRedemption) (*store.AuthorizationCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := r.Refresh; t != nil && (t.FamilyID == "" || len(t.Hash) == 0) {
		return nil, store.ErrInvalid
	}
	c, ok := s.codes[string(r.Hash)]
	switch {
	case !ok:
		return nil, store.ErrNotFound
	case !c.UsedAt.IsZero():
		s.revokeFamily(c.RefreshFamilyID, r.Now, c.AccessTokenJTI, c.AccessExpiresAt)
		return nil, store.ErrAlreadyUsed
	case !c.ExpiresAt.After(r.Now):
		return nil, store.ErrExpired
	case c.ClientID != r.ClientID || c.RedirectURI != r.RedirectURI || c.CodeChallenge != r.CodeChallenge:
		c.UsedAt = r.Now
		return nil, store.ErrMismatch
	}
	c.UsedAt, c.AccessTokenJTI, c.AccessExpiresAt = r.Now, r.AccessTokenJTI, r.AccessExpiresAt
	if t := r.Refresh; t != nil {
		c.RefreshFamilyID = t.FamilyID
		t.ClientID, t.UserID, t.Scopes, t.AuthTime, t.CreatedAt = c.ClientID, c.UserID, c.Scopes, c.AuthTime, r.Now
		cp := *t
		s.refresh[string(t.Hash)] = &cp
	}
	out := *c
	if u, ok := s.users[c.UserID]; ok && slices.Contains(c.Scopes, "openid") {
		cu := *u
		cu.PasswordHash = "" // the redemption does not read it
		out.User = &cu
	}
	return &out, nil
}

func (s *fakeStore) CreateRefreshToken(_ context.Context, t *store.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.FamilyID == "" || len(t.Hash) == 0 {
		return store.ErrInvalid
	}
	if _, ok := s.users[t.UserID]; t.UserID != "" && !ok {
		return store.ErrNotFound
	}
	if _, ok := s.refresh[string(t.Hash)]; ok {
		return store.ErrConflict
	}
	cp := *t
	s.refresh[string(t.Hash)] = &cp
	return nil
}

// RotateRefresh follows store.rotateLocked: unknown, another client's (mismatch while
// unused, reuse once rotated), reused (again within the reuse interval while no child
// was used, else the family is revoked), revoked, expired, wider scopes.
func (s *fakeStore) RotateRefresh(_ context.Context, r store.RefreshRotation) (store.RefreshRotated, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(r.New.Hash) == 0 {
		return store.RefreshRotated{}, store.ErrInvalid
	}
	t, ok := s.refresh[string(r.Hash)]
	switch {
	case !ok:
		return store.RefreshRotated{}, store.ErrNotFound
	case t.ClientID != r.ClientID && t.UsedAt.IsZero():
		return store.RefreshRotated{}, store.ErrMismatch
	case t.ClientID != r.ClientID:
		s.revokeFamily(t.FamilyID, r.Now, "", time.Time{})
		return store.RefreshRotated{}, store.ErrAlreadyUsed
	case !t.UsedAt.IsZero():
		if r.ReuseInterval > 0 && t.RevokedAt.IsZero() && t.ExpiresAt.After(r.Now) && r.Now.Sub(t.UsedAt) < r.ReuseInterval {
			if r.Scopes != nil && !subsetOf(r.Scopes, t.Scopes) {
				return store.RefreshRotated{}, store.ErrScopeNotAllowed
			}
			if s.rotateAgain(t, r) {
				old := *t
				return store.RefreshRotated{Old: &old, Repeated: true}, nil
			}
		}
		s.revokeFamily(t.FamilyID, r.Now, "", time.Time{})
		return store.RefreshRotated{}, store.ErrAlreadyUsed
	case !t.RevokedAt.IsZero():
		return store.RefreshRotated{}, store.ErrNotFound
	case !t.ExpiresAt.After(r.Now):
		return store.RefreshRotated{}, store.ErrExpired
	case r.Scopes != nil && !subsetOf(r.Scopes, t.Scopes):
		return store.RefreshRotated{}, store.ErrScopeNotAllowed
	}
	t.UsedAt = r.Now
	s.insertChild(t, r)
	old := *t
	return store.RefreshRotated{Old: &old}, nil
}

// rotateAgain is store.rotateAgain: when no child of t was used and one is live, the live
// children are revoked with their access tokens and r.New becomes t's only live child.
func (s *fakeStore) rotateAgain(t *store.RefreshToken, r store.RefreshRotation) bool {
	var live []*store.RefreshToken
	for _, c := range s.refresh {
		if c.FamilyID != t.FamilyID || !bytes.Equal(c.ParentHash, t.Hash) {
			continue
		}
		if !c.UsedAt.IsZero() {
			return false
		}
		if c.RevokedAt.IsZero() {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return false
	}
	for _, c := range live {
		c.RevokedAt = r.Now
		s.deny(c.AccessTokenJTI, c.AccessExpiresAt, r.Now)
	}
	s.insertChild(t, r)
	return true
}

func (s *fakeStore) insertChild(t *store.RefreshToken, r store.RefreshRotation) {
	n := r.New
	n.FamilyID, n.ParentHash, n.ClientID, n.UserID, n.AuthTime, n.CreatedAt = t.FamilyID, t.Hash, t.ClientID, t.UserID, t.AuthTime, r.Now
	n.Scopes = t.Scopes
	if r.Scopes != nil {
		n.Scopes = r.Scopes
	}
	s.refresh[string(n.Hash)] = &n
}

// revokeFamily is store.revokeFamily: the family's tokens are revoked, and their
// unexpired access tokens and jti deny-listed.
func (s *fakeStore) revokeFamily(family string, now time.Time, jti string, jtiExpiresAt time.Time) {
	for _, t := range s.refresh {
		if family == "" || t.FamilyID != family {
			continue
		}
		if t.RevokedAt.IsZero() {
			t.RevokedAt = now
		}
		s.deny(t.AccessTokenJTI, t.AccessExpiresAt, now)
	}
	s.deny(jti, jtiExpiresAt, now)
}

func (s *fakeStore) deny(jti string, expiresAt, now time.Time) {
	if jti != "" && expiresAt.After(now) && expiresAt.After(s.denied[jti]) {
		s.denied[jti] = expiresAt
	}
}

func (s *fakeStore) isDenied(jti string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.denied[jti]
	return ok
}

func (s *fakeStore) GetRefreshToken(_ context.Context, hash []byte) (*store.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[string(hash)]
	if !ok {
		return nil, store.ErrNotFound
	}
	cp := *t
	return &cp, nil
}

func (s *fakeStore) RevokeRefreshToken(_ context.Context, hash []byte, clientID string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[string(hash)]
	if !ok || t.ClientID != clientID {
		return store.ErrNotFound
	}
	s.revokeFamily(t.FamilyID, now, "", time.Time{})
	return nil
}

func (s *fakeStore) RevokeAccessToken(_ context.Context, jti string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny(jti, expiresAt, time.Time{})
	return nil
}

func (s *fakeStore) GetUser(_ context.Context, id string) (*store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	cp := *u
	return &cp, nil
}

// GetUserByLogin matches the username before the email, case-insensitively.
func (s *fakeStore) GetUserByLogin(_ context.Context, login string) (*store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if login == "" {
		return nil, store.ErrNotFound
	}
	var byEmail *store.User
	for _, u := range s.users {
		if strings.EqualFold(u.Username, login) {
			cp := *u
			return &cp, nil
		}
		if u.Email != "" && strings.EqualFold(u.Email, login) {
			byEmail = u
		}
	}
	if byEmail == nil {
		return nil, store.ErrNotFound
	}
	cp := *byEmail
	return &cp, nil
}

func (s *fakeStore) LoginLockedUntil(_ context.Context, key string, now time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.failures[strings.ToLower(key)]; ok && f.lockedUntil.After(now) {
		return f.lockedUntil, nil
	}
	return time.Time{}, nil
}

// RecordLoginFailure is store.recordLoginFailureSQL: the count starts afresh when the
// window or the lock is over; a lock in force is not extended.
func (s *fakeStore) RecordLoginFailure(_ context.Context, key string, now time.Time, maxFailures int, window, lockout time.Duration) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key = strings.ToLower(key)
	f, ok := s.failures[key]
	switch {
	case !ok:
		f = &loginFailure{failures: 1, first: now}
		s.failures[key] = f
	case (!f.lockedUntil.IsZero() && !f.lockedUntil.After(now)) || !f.first.After(now.Add(-window)):
		f.failures, f.first = 1, now
	default:
		f.failures++
	}
	switch {
	case f.lockedUntil.After(now):
	case maxFailures <= 0 || f.failures < maxFailures:
		f.lockedUntil = time.Time{}
	default:
		f.lockedUntil = now.Add(lockout)
	}
	if !f.lockedUntil.After(now) {
		return time.Time{}, nil
	}
	return f.lockedUntil, nil
}

func (s *fakeStore) LoginSucceeded(_ context.Context, key, userID, oldHash, newHash string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, strings.ToLower(key))
	u, ok := s.users[userID]
	if !ok {
		return false, store.ErrNotFound
	}
	if newHash == "" || u.PasswordHash != oldHash {
		return false, nil
	}
	u.PasswordHash = newHash
	return true, nil
}

func (s *fakeStore) CreateDeviceAuthorization(_ context.Context, d *store.DeviceAuthorization) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.devices {
		if bytes.Equal(o.DeviceCodeHash, d.DeviceCodeHash) || bytes.Equal(o.UserCodeHash, d.UserCodeHash) {
			return store.ErrConflict
		}
	}
	d.State = store.DevicePending
	cp := *d
	cp.Interval = max(time.Second, d.Interval.Round(time.Second))
	s.devices[string(d.DeviceCodeHash)] = &cp
	return nil
}

func (s *fakeStore) PendingDeviceAuthorization(_ context.Context, userCodeHash []byte, now time.Time) (*store.DeviceAuthorization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if bytes.Equal(d.UserCodeHash, userCodeHash) && d.State == store.DevicePending && d.ExpiresAt.After(now) {
			cp := *d
			return &cp, nil
		}
	}
	return nil, store.ErrNotFound
}

func (s *fakeStore) DecideDeviceAuthorization(_ context.Context, dd store.DeviceDecision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if !bytes.Equal(d.UserCodeHash, dd.UserCodeHash) || d.State != store.DevicePending || !d.ExpiresAt.After(dd.Now) {
			continue
		}
		d.State, d.UserID, d.AuthTime, d.DecidedAt = store.DeviceDenied, dd.UserID, dd.AuthTime, dd.Now
		if dd.Approve {
			d.State, d.Scopes = store.DeviceApproved, slices.Clone(dd.Scopes)
		}
		return nil
	}
	return store.ErrNotFound
}

// PollDeviceAuthorization redeems an approved request once; otherwise it answers as
// store.DevicePollOutcome decides and records the poll of a pending request, raising its
// interval on slow_down.
func (s *fakeStore) PollDeviceAuthorization(_ context.Context, p store.DevicePoll) (*store.DeviceAuthorization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := p.Refresh; t != nil && (t.FamilyID == "" || len(t.Hash) == 0) {
		return nil, store.ErrInvalid
	}
	d, ok := s.devices[string(p.DeviceCodeHash)]
	if !ok {
		return nil, store.ErrNotFound
	}
	if d.ClientID == p.ClientID && d.State == store.DeviceApproved && d.ExpiresAt.After(p.Now) {
		d.State, d.RedeemedAt, d.LastPolledAt = store.DeviceRedeemed, p.Now, p.Now
		if t := p.Refresh; t != nil {
			t.ClientID, t.UserID, t.Scopes, t.AuthTime, t.CreatedAt = d.ClientID, d.UserID, d.Scopes, d.AuthTime, p.Now
			cp := *t
			s.refresh[string(t.Hash)] = &cp
		}
		cp := *d
		return &cp, nil
	}
	err := store.DevicePollOutcome(d, p)
	if d.State == store.DevicePending && (errors.Is(err, store.ErrSlowDown) || errors.Is(err, store.ErrAuthorizationPending)) {
		d.LastPolledAt = p.Now
		if errors.Is(err, store.ErrSlowDown) {
			d.Interval += store.DeviceSlowDownStep
		}
	}
	return nil, err
}

// device returns a copy of the device authorization with that device code hash.
func (s *fakeStore) device(hash []byte) *store.DeviceAuthorization {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[string(hash)]
	if !ok {
		return nil
	}
	cp := *d
	return &cp
}

func subsetOf(sub, of []string) bool {
	for _, s := range sub {
		if !slices.Contains(of, s) {
			return false
		}
	}
	return true
}

func (s *fakeStore) addScope(sc *store.Scope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes[sc.Name] = sc
}

func (s *fakeStore) GetScope(_ context.Context, name string) (*store.Scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	cp := *sc
	return &cp, nil
}

// CreateSession refuses a session of an unknown user (ErrNotFound) or a hash that exists
// (ErrConflict), as the table's keys do.
func (s *fakeStore) CreateSession(_ context.Context, se *store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[se.UserID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.sessions[string(se.Hash)]; ok {
		return store.ErrConflict
	}
	cp := *se
	s.sessions[string(se.Hash)] = &cp
	return nil
}

// GetSession does not find a session that has expired at now.
func (s *fakeStore) GetSession(_ context.Context, hash []byte, now time.Time) (*store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[string(hash)]
	if !ok || !se.ExpiresAt.After(now) {
		return nil, store.ErrNotFound
	}
	cp := *se
	return &cp, nil
}

func (s *fakeStore) DeleteSession(_ context.Context, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[string(hash)]; !ok {
		return store.ErrNotFound
	}
	delete(s.sessions, string(hash))
	return nil
}

// sessionCount is the number of sessions stored, expired or not.
func (s *fakeStore) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// GrantConsent adds scopes to what the user granted the client before, kept sorted and
// without duplicates.
func (s *fakeStore) GrantConsent(_ context.Context, userID, clientID string, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		return store.ErrNotFound
	}
	key := [2]string{userID, clientID}
	merged := append(slices.Clone(s.consents[key]), scopes...)
	slices.Sort(merged)
	s.consents[key] = slices.Compact(merged)
	return nil
}

func (s *fakeStore) ConsentedScopes(_ context.Context, userID, clientID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.consents[[2]string{userID, clientID}]), nil
}
