/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// FederatedIssuer is a federated issuer as the API shows it: a token issuer (a Kubernetes
// cluster's ServiceAccount issuer) whose JWTs clients with a federated_subject present
// instead of a secret, and its keys.
type FederatedIssuer struct {
	Issuer string          `json:"issuer"`
	JWKS   json.RawMessage `json:"jwks"`
	// RefreshRequestedAt is set when a server met a token whose kid the keys lack: the
	// issuer rotated its key, and the keys need to be stored again.
	RefreshRequestedAt *time.Time `json:"refresh_requested_at,omitempty"`
	FetchedAt          time.Time  `json:"fetched_at"`
	ManagedBy          string     `json:"managed_by,omitempty"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// FederatedIssuerRequest is the body of POST /admin/federated-issuers, which stores (or
// replaces) the issuer's keys. Without the operator, store them again when the issuer
// rotates its key (for a cluster: `kubectl get --raw /openid/v1/jwks`).
type FederatedIssuerRequest struct {
	Issuer string          `json:"issuer"`
	JWKS   json.RawMessage `json:"jwks"`
}

// ViewFederatedIssuer is the API's document of a stored issuer.
func ViewFederatedIssuer(fi *store.FederatedIssuer) FederatedIssuer {
	v := FederatedIssuer{Issuer: fi.Issuer, JWKS: fi.JWKS, FetchedAt: fi.FetchedAt, ManagedBy: fi.ManagedBy, UpdatedAt: fi.UpdatedAt}
	if !fi.RefreshRequestedAt.IsZero() {
		t := fi.RefreshRequestedAt
		v.RefreshRequestedAt = &t
	}
	return v
}

// Validate refuses an issuer that is not an https URL and a JWKS without a usable signing
// key, naming the field.
func (req *FederatedIssuerRequest) Validate() *Error {
	u, err := url.Parse(req.Issuer)
	if req.Issuer == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || len(req.Issuer) > 2048 {
		return badRequest("issuer", "issuer must be an https URL, the iss of the issuer's tokens")
	}
	if _, err := federation.ParseJWKS(req.JWKS); err != nil {
		return badRequest("jwks", "jwks must be a JSON Web Key Set with at least one public RSA or EC signing key with a kid")
	}
	return nil
}

func (a *API) listFederatedIssuers(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	rows, err := a.store.ListFederatedIssuers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]FederatedIssuer, len(rows))
	for i, fi := range rows {
		views[i] = ViewFederatedIssuer(fi)
	}
	writeJSON(w, http.StatusOK, List[FederatedIssuer]{Items: views})
}

func (a *API) putFederatedIssuer(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	var req FederatedIssuerRequest
	if e := readJSON(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	if e := req.Validate(); e != nil {
		writeError(w, e)
		return
	}
	fi := &store.FederatedIssuer{Issuer: req.Issuer, JWKS: req.JWKS, FetchedAt: time.Now()}
	if err := a.store.UpsertFederatedIssuer(r.Context(), fi); err != nil {
		a.fail(w, r, err)
		return
	}
	a.audit(r, caller, "federated issuer stored", fi.Issuer)
	if stored, err := a.store.GetFederatedIssuer(r.Context(), fi.Issuer); err == nil {
		fi = stored
	}
	writeJSON(w, http.StatusOK, ViewFederatedIssuer(fi))
}

func (a *API) deleteFederatedIssuer(w http.ResponseWriter, r *http.Request, caller *tokens.VerifiedAccess) {
	issuer := r.PathValue("issuer")
	if err := a.store.DeleteFederatedIssuer(r.Context(), issuer); err != nil {
		a.failNotFound(w, r, err, "federated issuer")
		return
	}
	a.audit(r, caller, "federated issuer deleted", issuer)
	w.WriteHeader(http.StatusNoContent)
}

// SetFederatedIssuer stores an issuer's keys.
func (c *Remote) SetFederatedIssuer(ctx context.Context, req FederatedIssuerRequest) (FederatedIssuer, error) {
	var out FederatedIssuer
	return out, c.Do(ctx, http.MethodPost, "/admin/federated-issuers", req, &out)
}
