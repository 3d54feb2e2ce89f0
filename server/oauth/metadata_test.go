/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// grantClients answers AnyHasGrantType from fields the test sets, counting the calls.
type grantClients struct {
	memClients
	inUse bool
	err   error
	calls int
}

func (g *grantClients) AnyHasGrantType(_ context.Context, grantType string) (bool, error) {
	g.calls++
	return g.inUse && grantType == GrantPassword, g.err
}

// When the grant types in use cannot be read, discovery keeps answering with the last
// answer and does not ask again for a while.
func TestDiscoveryPasswordGrantWhenUnreadable(t *testing.T) {
	key, err := tokens.GenerateKey(tokens.ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	key.State = tokens.StateActive
	keys, err := tokens.NewKeySet([]*tokens.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	now := fuzzNow
	clients := &grantClients{memClients: memClients{}}
	p, err := New(Deps{
		Config: Config{Issuer: fuzzIssuer}, Store: &store.Store{}, Clients: clients, Keys: keys,
		Revocations: noRevocations{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	advertised := func() bool {
		t.Helper()
		w := httptest.NewRecorder()
		p.serveOIDCMetadata(w, httptest.NewRequest(http.MethodGet, PathOIDCMetadata, nil))
		var md metadata
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &md) != nil {
			t.Fatalf("discovery: status %d: %s", w.Code, w.Body)
		}
		return slices.Contains(md.GrantTypesSupported, GrantPassword)
	}
	steps := []struct {
		name      string
		inUse     bool
		err       error
		advance   time.Duration
		want      bool
		wantCalls int
	}{
		{"no client has it", false, nil, 0, false, 1},
		{"a client has it", true, nil, 0, true, 2},
		{"unreadable: the last answer", false, errors.New("database down"), 0, true, 3},
		{"no new attempt for a while", false, nil, grantTypeRetry - time.Nanosecond, true, 3},
		{"then asked again", false, nil, time.Nanosecond, false, 4},
	}
	for _, st := range steps {
		clients.inUse, clients.err = st.inUse, st.err
		now = now.Add(st.advance)
		if got := advertised(); got != st.want || clients.calls != st.wantCalls {
			t.Fatalf("%s: advertised %v after %d reads, want %v after %d", st.name, got, clients.calls, st.want, st.wantCalls)
		}
	}
}
