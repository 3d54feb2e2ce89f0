/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/authly-dev/authly-operator/server/store"
)

// Page sizes of the list endpoints.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// parsePage reads ?limit= and ?after=. The cursor is opaque to callers: the key of the
// last item of the previous page, base64url-encoded.
func parsePage(r *http.Request) (store.Page, *Error) {
	q := r.URL.Query()
	p := store.Page{Limit: DefaultPageSize}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, badRequest("limit", "limit must be an integer from 1 to %d", MaxPageSize)
		}
		p.Limit = n
	}
	if s := q.Get("after"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 || badText(string(b), maxIdentifierLen, true) != "" {
			return p, badRequest("after", "after must be the next cursor of a previous page")
		}
		p.After = string(b)
	}
	return p, nil
}

// fetch asks the store for one item more than the page holds, to know whether another
// page follows without an extra query.
func fetch(p store.Page) store.Page { return store.Page{Limit: p.Limit + 1, After: p.After} }

// pageOf builds the answer from what fetch returned.
func pageOf[S, T any](rows []S, p store.Page, key func(S) string, view func(S) T) List[T] {
	out := List[T]{Items: make([]T, 0, min(len(rows), p.Limit))}
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(key(rows[len(rows)-1])))
	}
	for _, row := range rows {
		out.Items = append(out.Items, view(row))
	}
	return out
}
