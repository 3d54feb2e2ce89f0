/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeviceState is where a device authorization request is in its life (RFC 8628).
type DeviceState string

// Device authorization states: pending until the user decides on the verification page,
// then approved or denied; approved becomes redeemed when the device gets its tokens.
const (
	DevicePending  DeviceState = "pending"
	DeviceApproved DeviceState = "approved"
	DeviceDenied   DeviceState = "denied"
	DeviceRedeemed DeviceState = "redeemed"
)

// DeviceAuthorization is a device authorization request, kept by the hashes of its device
// code and of its user code.
type DeviceAuthorization struct {
	DeviceCodeHash []byte
	UserCodeHash   []byte
	ClientID       string
	// Scopes are the requested scopes until the user approves, then the approved ones.
	Scopes []string
	State  DeviceState
	// UserID and AuthTime are set by the user's decision.
	UserID   string
	AuthTime time.Time
	// Interval is the polling interval the device must keep (whole seconds, at least 1).
	Interval     time.Duration
	LastPolledAt time.Time
	ExpiresAt    time.Time
	CreatedAt    time.Time
	DecidedAt    time.Time
	RedeemedAt   time.Time
}

// DeviceCodeRetention is how long a device authorization is kept after it expired, so
// that a late poll is answered expired_token rather than as an unknown code.
const DeviceCodeRetention = time.Hour

const deviceColumns = `device_code_hash, user_code_hash, client_id, scopes, state, coalesce(user_id::text, ''),
	auth_time, interval_seconds, last_polled_at, expires_at, created_at, decided_at, redeemed_at`

func scanDevice(row pgx.Row) (*DeviceAuthorization, error) {
	d := &DeviceAuthorization{}
	var interval int32
	err := row.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.ClientID, &d.Scopes, (*string)(&d.State), &d.UserID,
		scanTime{&d.AuthTime}, &interval, scanTime{&d.LastPolledAt}, &d.ExpiresAt, &d.CreatedAt,
		scanTime{&d.DecidedAt}, scanTime{&d.RedeemedAt})
	d.Interval = time.Duration(interval) * time.Second
	return d, err
}

// intervalSeconds is d in whole seconds, at least one.
func intervalSeconds(d time.Duration) int32 {
	return int32(max(1, (d+time.Second-1)/time.Second))
}

// CreateDeviceAuthorization stores a new pending request. ErrConflict when its device
// code or user code hash is taken (the caller draws new codes), ErrNotFound when the
// client does not exist. CreatedAt defaults to the database's clock.
func (s *Store) CreateDeviceAuthorization(ctx context.Context, d *DeviceAuthorization) error {
	defer s.done("device_create", s.start())
	err := s.pool.QueryRow(ctx, `INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scopes,
		interval_seconds, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))
		RETURNING created_at`,
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID, nonNil(d.Scopes), intervalSeconds(d.Interval), d.ExpiresAt,
		optTime(d.CreatedAt)).Scan(&d.CreatedAt)
	if err != nil {
		return wrap("device_create", err)
	}
	d.State = DevicePending
	return nil
}

// PendingDeviceAuthorization returns the request with that user code hash while it waits
// for the user's decision at now; ErrNotFound when there is none (unknown, expired or
// decided).
func (s *Store) PendingDeviceAuthorization(ctx context.Context, userCodeHash []byte, now time.Time) (*DeviceAuthorization, error) {
	defer s.done("device_get_pending", s.start())
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceColumns+` FROM device_codes
		WHERE user_code_hash = $1 AND state = 'pending' AND expires_at > $2`, userCodeHash, now))
	if err != nil {
		return nil, wrap("device_get_pending", err)
	}
	return d, nil
}

// DeviceDecision is the user's answer on the verification page.
type DeviceDecision struct {
	UserCodeHash []byte
	Approve      bool
	UserID       string
	// Scopes replace the requested ones when approving (the user's admin scopes may be
	// fewer, say); ignored when denying.
	Scopes   []string
	AuthTime time.Time
	Now      time.Time
}

// DecideDeviceAuthorization records the user's decision on a pending, unexpired request.
// ErrNotFound when there is none (it expired or was decided meanwhile).
func (s *Store) DecideDeviceAuthorization(ctx context.Context, d DeviceDecision) error {
	defer s.done("device_decide", s.start())
	if !validUUID(d.UserID) {
		return ErrNotFound
	}
	state := DeviceDenied
	if d.Approve {
		state = DeviceApproved
	}
	tag, err := s.pool.Exec(ctx, `UPDATE device_codes
		SET state = $2, user_id = $3, scopes = CASE WHEN $2 = 'approved' THEN $4 ELSE scopes END,
			auth_time = $5, decided_at = $6
		WHERE user_code_hash = $1 AND state = 'pending' AND expires_at > $6`,
		d.UserCodeHash, string(state), d.UserID, nonNil(d.Scopes), optTime(d.AuthTime), d.Now)
	if err != nil {
		return wrap("device_decide", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DevicePoll is one token request of the device_code grant.
type DevicePoll struct {
	// DeviceCodeHash is the SHA-256 of the device code the client presented.
	DeviceCodeHash []byte
	ClientID       string
	Now            time.Time
	// Leeway is how much sooner than its interval a poll may come without being too fast
	// (timers and networks jitter).
	Leeway time.Duration
	// Refresh, when set, is inserted with the redemption, in the same statement. The
	// caller sets Hash, FamilyID, ExpiresAt, AccessTokenJTI and AccessExpiresAt; the store
	// sets ClientID, UserID, Scopes and AuthTime from the request and CreatedAt to Now.
	Refresh *RefreshToken
}

// Errors of PollDeviceAuthorization besides ErrNotFound and ErrExpired, each an RFC 8628
// section 3.5 answer.
var (
	// ErrAuthorizationPending: the user has not decided yet.
	ErrAuthorizationPending = errors.New("store: authorization pending")
	// ErrSlowDown: still pending, and the device polled before its interval was over; the
	// interval was raised by 5 seconds.
	ErrSlowDown = errors.New("store: polling too fast")
	// ErrDenied: the user denied the request.
	ErrDenied = errors.New("store: denied")
)

// DeviceSlowDownStep is what RFC 8628 section 3.5 adds to the interval at each slow_down.
const DeviceSlowDownStep = 5 * time.Second

// The whole success path is this statement: of concurrent polls of an approved request,
// the row lock lets exactly one see state = 'approved'. The refresh token is inserted from
// its result, so a poll that redeems nothing inserts nothing.
const redeemDeviceSQL = `WITH dev AS (
	UPDATE device_codes SET state = 'redeemed', redeemed_at = $3, last_polled_at = $3
	WHERE device_code_hash = $1 AND client_id = $2 AND state = 'approved' AND expires_at > $3
	RETURNING client_id, user_id, scopes, auth_time
), refresh AS (
	INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scopes, auth_time,
		access_jti, access_expires_at, expires_at, created_at)
	SELECT $4, $5, client_id, user_id, scopes, auth_time, $6, $7, $8, $3
	FROM dev WHERE $4::bytea IS NOT NULL
	RETURNING token_hash
)
SELECT user_id::text, scopes, auth_time FROM dev`

// PollDeviceAuthorization answers a device's poll. When the user approved, it redeems the
// request (once) and, when p.Refresh is set, stores the refresh token issued with it, and
// returns the request as redeemed. Otherwise it returns, in this order: ErrNotFound (no
// such device code, another client's, or redeemed before), ErrDenied, ErrExpired,
// ErrSlowDown (the interval is raised by 5 seconds) or ErrAuthorizationPending. Every
// poll of a pending request is recorded as its last.
func (s *Store) PollDeviceAuthorization(ctx context.Context, p DevicePoll) (*DeviceAuthorization, error) {
	defer s.done("device_poll", s.start())
	if t := p.Refresh; t != nil && (t.FamilyID == "" || len(t.Hash) == 0) {
		return nil, fmt.Errorf("%w: refresh token without hash or family", ErrInvalid)
	}
	var refreshHash []byte
	var family, jti string
	var accessExp, exp any
	if t := p.Refresh; t != nil {
		refreshHash, family, jti, accessExp, exp = t.Hash, t.FamilyID, t.AccessTokenJTI, optTime(t.AccessExpiresAt), t.ExpiresAt
	}
	d := &DeviceAuthorization{DeviceCodeHash: p.DeviceCodeHash, ClientID: p.ClientID, State: DeviceRedeemed, RedeemedAt: p.Now}
	err := s.pool.QueryRow(ctx, redeemDeviceSQL, p.DeviceCodeHash, p.ClientID, p.Now, refreshHash, family, jti,
		accessExp, exp).Scan(&d.UserID, &d.Scopes, scanTime{&d.AuthTime})
	switch {
	case err == nil:
		if t := p.Refresh; t != nil {
			t.ClientID, t.UserID, t.Scopes, t.AuthTime, t.CreatedAt = d.ClientID, d.UserID, d.Scopes, d.AuthTime, p.Now
		}
		return d, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, wrap("device_poll", err)
	}
	return nil, s.devicePollFailure(ctx, p)
}

// devicePollFailure finds out, under a row lock, why a poll redeemed nothing, and records
// the poll of a pending request.
func (s *Store) devicePollFailure(ctx context.Context, p DevicePoll) error {
	var reason error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDevice(tx.QueryRow(ctx, `SELECT `+deviceColumns+` FROM device_codes
			WHERE device_code_hash = $1 FOR UPDATE`, p.DeviceCodeHash))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			reason = ErrNotFound
			return nil
		case err != nil:
			return err
		}
		reason = d.pollOutcome(p)
		if d.State != DevicePending || errors.Is(reason, ErrExpired) || errors.Is(reason, ErrNotFound) {
			return nil
		}
		step := 0
		if errors.Is(reason, ErrSlowDown) {
			step = int(DeviceSlowDownStep / time.Second)
		}
		_, err = tx.Exec(ctx, `UPDATE device_codes SET last_polled_at = $2, interval_seconds = interval_seconds + $3
			WHERE device_code_hash = $1`, p.DeviceCodeHash, p.Now, step)
		return err
	})
	if err != nil {
		return wrap("device_poll", err)
	}
	return reason
}

// pollOutcome is the answer to poll p of a request that p did not redeem; shared with the
// tests' fake, so both decide alike.
func (d *DeviceAuthorization) pollOutcome(p DevicePoll) error {
	switch {
	case d.ClientID != p.ClientID || d.State == DeviceRedeemed:
		return ErrNotFound
	case d.State == DeviceDenied:
		return ErrDenied
	case !d.ExpiresAt.After(p.Now):
		return ErrExpired
	case d.State == DevicePending && !d.LastPolledAt.IsZero() && p.Now.Before(d.LastPolledAt.Add(d.Interval-p.Leeway)):
		return ErrSlowDown
	}
	// Pending, or approved since the redemption statement ran: the next poll redeems it.
	return ErrAuthorizationPending
}

// DevicePollOutcome is the answer PollDeviceAuthorization gives to poll p of d when p
// redeems nothing: for fakes of the store, which must decide as it does.
func DevicePollOutcome(d *DeviceAuthorization, p DevicePoll) error { return d.pollOutcome(p) }
