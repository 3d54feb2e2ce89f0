/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// status reports the version, the schema, what is registered and whether the database
// answers. It answers 200 also when the database does not, saying so: it is a report, not
// a probe (GET /ready is the probe).
func (a *API) status(w http.ResponseWriter, r *http.Request, _ *tokens.VerifiedAccess) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	now := a.now()
	st := Status{
		Version: a.version, ExpectedSchemaVersion: store.SchemaVersion(), Database: "unavailable",
		StartedAt: a.started.UTC(), UptimeSeconds: int64(now.Sub(a.started) / time.Second),
	}
	if v, err := a.store.SchemaVersion(ctx); err == nil {
		st.SchemaVersion = v
		if c, err := a.store.Count(ctx); err == nil {
			st.Database = "ok"
			st.Counts = &Counts{Clients: c.Clients, Users: c.Users, Scopes: c.Scopes}
		}
	}
	if st.Database != "ok" {
		a.log.WarnContext(r.Context(), "admin status: database unavailable")
	}
	writeJSON(w, http.StatusOK, st)
}
