/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// MaxGracePeriod bounds how long a rotated-out secret may keep working.
const MaxGracePeriod = 30 * 24 * time.Hour

func (a *API) listClients(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	p, e := parsePage(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rows, err := a.store.ListClients(r.Context(), fetch(p))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(rows, p, func(c *store.Client) string { return c.ID },
		func(c *store.Client) Client { return ViewClient(c, "") }))
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	c, err := a.store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failNotFound(w, r, err, "client")
		return
	}
	writeJSON(w, http.StatusOK, ViewClient(c, ""))
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req ClientRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	c := req.StoreClient()
	secret, err := a.reg.CreateClient(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "client created", c.ID)
	w.Header().Set("Location", "/admin/clients/"+url.PathEscape(c.ID))
	writeJSON(w, http.StatusCreated, ViewClient(c, secret))
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	id := r.PathValue("id")
	var req ClientRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	if req.ClientID != "" && req.ClientID != id {
		writeError(w, badRequest("client_id", "client_id %q differs from the one in the path; a client_id cannot change", truncate(req.ClientID, 128)))
		return
	}
	c := req.StoreClient()
	c.ID = id
	if err := a.reg.UpdateClient(r.Context(), c); err != nil {
		a.failNotFound(w, r, err, "client")
		return
	}
	a.audit(r, caller, "client updated", id)
	// Read back, so that the answer shows the secret state the update left alone.
	if updated, err := a.store.GetClient(r.Context(), id); err == nil {
		c = updated
	}
	writeJSON(w, http.StatusOK, ViewClient(c, ""))
}

// deleteClient removes the client; the store revokes every token it was issued.
func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	id := r.PathValue("id")
	if err := a.store.DeleteClient(r.Context(), id, a.now()); err != nil {
		a.failNotFound(w, r, err, "client")
		return
	}
	a.audit(r, caller, "client deleted", id)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	id := r.PathValue("id")
	var req SecretRequest
	if e := readJSON(w, r, &req, true); e != nil {
		writeError(w, e)
		return
	}
	if req.GracePeriodSeconds < 0 || req.GracePeriodSeconds > int64(MaxGracePeriod/time.Second) {
		writeError(w, badRequest("grace_period_seconds", "grace_period_seconds must be from 0 to %d", int64(MaxGracePeriod/time.Second)))
		return
	}
	secret, err := a.reg.RotateSecret(r.Context(), id, time.Duration(req.GracePeriodSeconds)*time.Second)
	if err != nil {
		a.failNotFound(w, r, err, "client")
		return
	}
	a.audit(r, caller, "client secret regenerated", id)
	c, err := a.store.GetClient(r.Context(), id)
	if err != nil {
		// Rotated, then deleted at once by someone else: the secret is of no use.
		a.failNotFound(w, r, err, "client")
		return
	}
	writeJSON(w, http.StatusOK, ViewClient(c, secret))
}

// failNotFound is fail with a 404 that names what was not found.
func (a *API) failNotFound(w http.ResponseWriter, r *http.Request, err error, what string) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, notFound(what))
		return
	}
	a.fail(w, r, err)
}
