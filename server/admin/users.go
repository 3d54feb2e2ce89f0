/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"net/http"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	p, e := parsePage(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rows, err := a.store.ListUsers(r.Context(), fetch(p))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(rows, p, func(u *store.User) string { return u.Username }, ViewUser))
}

// user loads the user of the path, answering 404 itself when there is none.
func (a *API) user(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, err := a.store.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failNotFound(w, r, err, "user")
		return nil, false
	}
	return u, true
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	if u, ok := a.user(w, r); ok {
		writeJSON(w, http.StatusOK, ViewUser(u))
	}
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req UserRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	u := req.StoreUser("")
	if err := a.reg.CreateUser(r.Context(), u, req.Password); err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "user created", u.ID)
	w.Header().Set("Location", "/admin/users/"+u.ID)
	writeJSON(w, http.StatusCreated, ViewUser(u))
}

// updateUser replaces the profile. Disabling a user also signs them out everywhere, so
// that what they hold stops working now rather than when it expires.
func (a *API) updateUser(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req UserRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	if req.Password != "" {
		writeError(w, badRequest("password", "a password is not changed by PUT; use POST /admin/users/{id}/password"))
		return
	}
	old, ok := a.user(w, r)
	if !ok {
		return
	}
	u := req.StoreUser(old.ID)
	if err := a.reg.UpdateUser(r.Context(), u); err != nil {
		a.failNotFound(w, r, err, "user")
		return
	}
	a.audit(r, caller, "user updated", u.ID)
	if u.Disabled && !old.Disabled {
		if _, err := a.reg.EndUserSessions(r.Context(), u.ID); err != nil {
			a.fail(w, r, err)
			return
		}
		a.audit(r, caller, "user signed out (disabled)", u.ID)
	}
	u.CreatedAt = old.CreatedAt
	writeJSON(w, http.StatusOK, ViewUser(u))
}

// setGroups replaces the user's groups. Tokens already issued keep the groups they carry
// until they expire (ID tokens are not revocable); the next token issued has the new list.
func (a *API) setGroups(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req GroupsRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	updated, err := a.reg.SetUserGroups(r.Context(), u.ID, req.Groups)
	if err != nil {
		a.failNotFound(w, r, err, "user")
		return
	}
	a.audit(r, caller, "user groups set", u.ID)
	u.Groups, u.UpdatedAt = req.Groups, updated
	writeJSON(w, http.StatusOK, ViewUser(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	id := r.PathValue("id")
	if err := a.store.DeleteUser(r.Context(), id, a.now()); err != nil {
		a.failNotFound(w, r, err, "user")
		return
	}
	a.audit(r, caller, "user deleted", id)
	w.WriteHeader(http.StatusNoContent)
}

// resetPassword sets a new password, ends the user's sessions and revokes their tokens,
// and lifts a lockout so that the new password works at once.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req PasswordRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	if err := a.reg.ResetPassword(r.Context(), u.ID, req.Password); err != nil {
		a.failNotFound(w, r, err, "user")
		return
	}
	// Failed logins of a user count against the user, whichever login was typed.
	if err := a.store.ClearLoginFailures(r.Context(), store.UserLockoutKey(u.ID)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "user password reset", u.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	rows, err := a.store.ListUserSessions(r.Context(), u.ID, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := List[Session]{Items: make([]Session, 0, len(rows))}
	for _, s := range rows {
		out.Items = append(out.Items, ViewSession(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// endSessions signs the user out everywhere: sessions end and their tokens are revoked.
func (a *API) endSessions(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	u, ok := a.user(w, r)
	if !ok {
		return
	}
	n, err := a.reg.EndUserSessions(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "user signed out", u.ID)
	writeJSON(w, http.StatusOK, EndedSessions{SessionsEnded: n, TokensRevoked: true})
}
