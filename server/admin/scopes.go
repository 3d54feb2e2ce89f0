/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"net/http"
	"net/url"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// listScopes answers every scope in one page: scopes are few (tens), so the store does
// not page them.
func (a *API) listScopes(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	rows, err := a.store.ListScopes(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := List[Scope]{Items: make([]Scope, 0, len(rows))}
	for _, s := range rows {
		out.Items = append(out.Items, ViewScope(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getScope(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	s, err := a.store.GetScope(r.Context(), r.PathValue("name"))
	if err != nil {
		a.failNotFound(w, r, err, "scope")
		return
	}
	writeJSON(w, http.StatusOK, ViewScope(s))
}

func (a *API) createScope(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req ScopeRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	s := &store.Scope{Name: req.Name, Description: req.Description, Default: req.Default}
	if err := a.reg.CreateScope(r.Context(), s); err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "scope created", s.Name)
	w.Header().Set("Location", "/admin/scopes/"+url.PathEscape(s.Name))
	writeJSON(w, http.StatusCreated, ViewScope(s))
}

func (a *API) updateScope(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	name := r.PathValue("name")
	var req ScopeRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	if req.Name != "" && req.Name != name {
		writeError(w, badRequest("name", "name %q differs from the one in the path; a scope cannot be renamed", truncate(req.Name, 200)))
		return
	}
	s := &store.Scope{Name: name, Description: req.Description, Default: req.Default}
	if err := a.reg.UpdateScope(r.Context(), s); err != nil {
		a.failNotFound(w, r, err, "scope")
		return
	}
	a.audit(r, caller, "scope updated", name)
	writeJSON(w, http.StatusOK, ViewScope(s))
}

func (a *API) deleteScope(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	name := r.PathValue("name")
	if err := a.store.DeleteScope(r.Context(), name); err != nil {
		a.failNotFound(w, r, err, "scope")
		return
	}
	a.audit(r, caller, "scope deleted", name)
	w.WriteHeader(http.StatusNoContent)
}
