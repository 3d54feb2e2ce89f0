/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Remote calls the admin API of a running server, as `authly admin --url` does.
type Remote struct {
	// BaseURL is where the server is reached, normally its issuer.
	BaseURL string
	// Token is an access token with the admin scopes the calls need.
	Token string
	// HTTP is the client to use; nil means one with a 30 second timeout.
	HTTP *http.Client
}

// Do sends a request with a JSON body (unless in is nil) and decodes a JSON answer into
// out (unless nil). An answer of 400 or more is returned as an *Error with its Status.
func (c *Remote) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &Error{}
		if json.Unmarshal(raw, e) != nil || e.Code == "" {
			e = &Error{Code: http.StatusText(resp.StatusCode), Description: strings.TrimSpace(truncate(string(raw), 200))}
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("admin API %s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}

// CreateClient registers a client; the answer holds its secret, shown this once.
func (c *Remote) CreateClient(ctx context.Context, req ClientRequest) (Client, error) {
	var out Client
	return out, c.Do(ctx, http.MethodPost, "/admin/clients", req, &out)
}

// ListClients returns one page of clients; pass the answer's Next as after for the next.
func (c *Remote) ListClients(ctx context.Context, limit int, after string) (List[Client], error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		q.Set("after", after)
	}
	var out List[Client]
	return out, c.Do(ctx, http.MethodGet, "/admin/clients?"+q.Encode(), nil, &out)
}

// DeleteClient removes a client and revokes its tokens.
func (c *Remote) DeleteClient(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/admin/clients/"+url.PathEscape(id), nil, nil)
}

// RotateSecret gives a client a new secret; the old one keeps working for grace.
func (c *Remote) RotateSecret(ctx context.Context, id string, grace time.Duration) (Client, error) {
	var out Client
	return out, c.Do(ctx, http.MethodPost, "/admin/clients/"+url.PathEscape(id)+"/secret",
		SecretRequest{GracePeriodSeconds: int64(grace / time.Second)}, &out)
}

// CreateUser creates a user with req.Password.
func (c *Remote) CreateUser(ctx context.Context, req UserRequest) (User, error) {
	var out User
	return out, c.Do(ctx, http.MethodPost, "/admin/users", req, &out)
}

// SetUserGroups replaces the groups of the user with that id.
func (c *Remote) SetUserGroups(ctx context.Context, id string, groups []string) (User, error) {
	var out User
	return out, c.Do(ctx, http.MethodPut, "/admin/users/"+url.PathEscape(id)+"/groups", GroupsRequest{Groups: nonNil(groups)}, &out)
}

// CreateScope creates a scope.
func (c *Remote) CreateScope(ctx context.Context, req ScopeRequest) (Scope, error) {
	var out Scope
	return out, c.Do(ctx, http.MethodPost, "/admin/scopes", req, &out)
}
