/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"errors"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// acquireHashSlot waits for one of the password-hashing slots. Each argon2id verification
// takes a core and tens of MiB for tens of milliseconds; running more of them at once than
// there are cores only adds memory churn and garbage collection, so the rest wait here.
func (p *Provider) acquireHashSlot(ctx context.Context) error {
	select {
	case p.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &Error{Code: CodeTemporarilyUnavailable, Description: "the request was cancelled while waiting to check the password"}
	}
}

func (p *Provider) releaseHashSlot() { <-p.hashSlots }

// errBadCredentials is the one answer to a failed login, whatever failed, so that it does
// not tell whether the user exists.
var errBadCredentials = newError(CodeInvalidGrant, "invalid username or password")

// checkPassword verifies a login, counting failures in the database so that every replica
// agrees on lockouts. Failures count against the user once the login names one, whichever
// of its spellings was typed, and against the typed login otherwise (store.UserLockoutKey,
// store.LoginLockoutKey). A successful login stores the password's hash anew when it was
// made with other argon2id parameters than the configured ones, in the same transaction
// that forgets the failures: raising the parameters upgrades each hash at its next login.
func (p *Provider) checkPassword(ctx context.Context, login, password string) (*store.User, error) {
	now := p.now()
	user, err := p.store.GetUserByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	key := store.LoginLockoutKey(login)
	if user != nil {
		key = store.UserLockoutKey(user.ID)
	}
	lockedUntil, err := p.store.LoginLockedUntil(ctx, key, now)
	if err != nil {
		return nil, err
	}
	if !lockedUntil.IsZero() {
		return nil, newError(CodeInvalidGrant, "too many failed logins; try again later")
	}
	ok, rehash := false, ""
	if err := p.acquireHashSlot(ctx); err != nil {
		return nil, err
	}
	if user != nil && !user.Disabled {
		ok, err = credentials.VerifyPassword(user.PasswordHash, password)
		if err != nil {
			p.log.ErrorContext(ctx, "stored password hash is unreadable", "user_id", user.ID, "error", err)
			ok = false
		}
		if ok && credentials.NeedsRehash(user.PasswordHash, p.cfg.Password) {
			if rehash, err = credentials.HashPassword(p.cfg.Password, password, p.rand); err != nil {
				// The login stands; the hash is upgraded at a later one.
				p.log.ErrorContext(ctx, "rehash password", "user_id", user.ID, "error", err)
				rehash = ""
			}
		}
	} else {
		credentials.DummyVerify(p.cfg.Password, password)
	}
	p.releaseHashSlot()
	if !ok {
		if _, err := p.store.RecordLoginFailure(ctx, key, now, p.cfg.LockoutFailures, p.cfg.LockoutWindow, p.cfg.LockoutDuration); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	rehashed, err := p.store.LoginSucceeded(ctx, key, user.ID, user.PasswordHash, rehash)
	if err != nil {
		return nil, err
	}
	if rehashed {
		p.log.InfoContext(ctx, "password hash upgraded to the configured argon2id parameters", "user_id", user.ID)
		user.PasswordHash = rehash
	}
	return user, nil
}
