/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

// newReplicaPair starts two servers on one database with one issuer, as two pods of an
// AuthServer behind a Service: a is reached at the issuer URL, b at its own.
func newReplicaPair(t *testing.T, configure ...func(*server.Config)) (a, b *testEnv) {
	t.Helper()
	var cfg server.Config
	a = newTestEnv(t, append(configure, func(c *server.Config) { cfg = *c })...)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	srv, err := server.New(a.ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Start(a.ctx)
	ts.Config.Handler = srv.Handler()
	b = &testEnv{
		t: t, URL: ts.URL, srv: srv, store: srv.Store(), ctx: a.ctx, cancel: a.cancel,
		reg: &registry.Registry{Store: srv.Store(), Password: fastPasswords},
	}
	return a, b
}

func (e *testEnv) clientCredentials(clientID, secret string) tokenResult {
	e.t.Helper()
	return e.tokenRequest(clientID, secret, url.Values{"grant_type": {"client_credentials"}})
}

func TestReplicaSeesRevocationFromAnother(t *testing.T) {
	a, b := newReplicaPair(t)
	client, secret := a.m2mClient()
	rs, rsSecret := a.m2mClient()
	tok := a.clientCredentials(client.ID, secret)
	if tok.status != http.StatusOK {
		t.Fatalf("token from A: %d %s", tok.status, tok.Error)
	}
	if !b.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("B finds A's fresh token inactive")
	}
	if status := a.revoke(client.ID, secret, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("revoke on A: %d", status)
	}
	if a.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("A still finds the token it revoked active")
	}
	waitFor(t, "B to learn of the revocation", func() bool { return !b.introspect(rs.ID, rsSecret, tok.AccessToken) })
}

func TestReplicaClientCacheFollowsRotationAndDeletion(t *testing.T) {
	a, b := newReplicaPair(t)
	client, oldSecret := a.m2mClient()
	// B caches the client.
	if res := b.clientCredentials(client.ID, oldSecret); res.status != http.StatusOK {
		t.Fatalf("token from B: %d %s", res.status, res.Error)
	}
	newSecret, err := a.reg.RotateSecret(a.ctx, client.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to refuse the rotated-out secret", func() bool {
		return b.clientCredentials(client.ID, oldSecret).status == http.StatusUnauthorized
	})
	if res := b.clientCredentials(client.ID, newSecret); res.status != http.StatusOK {
		t.Fatalf("new secret on B: %d %s", res.status, res.Error)
	}
	if err := a.store.DeleteClient(a.ctx, client.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to forget the deleted client", func() bool {
		return b.clientCredentials(client.ID, newSecret).status == http.StatusUnauthorized
	})
}

func jwksKIDs(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &set); err != nil {
		t.Fatal(err)
	}
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k.KID] = true
	}
	return kids
}

func TestReplicaKeyRotationReachesOtherJWKS(t *testing.T) {
	a, b := newReplicaPair(t)
	before := jwksKIDs(t, b.URL)
	if len(before) == 0 {
		t.Fatal("B publishes no keys")
	}
	if err := a.srv.Keyring().Rotate(a.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	newKey := func(base string) bool {
		for kid := range jwksKIDs(t, base) {
			if !before[kid] {
				return true
			}
		}
		return false
	}
	waitFor(t, "A to publish the new next keys", func() bool { return newKey(a.URL) })
	waitFor(t, "B to publish the new next keys", func() bool { return newKey(b.URL) })
	// A now signs with the promoted key, which B published before: B accepts its tokens.
	client, secret := a.m2mClient()
	rs, rsSecret := a.m2mClient()
	tok := a.clientCredentials(client.ID, secret)
	if tok.status != http.StatusOK {
		t.Fatalf("token after rotation: %d", tok.status)
	}
	if !b.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("B refuses a token A signed after the rotation")
	}
}

// authlyBinary builds the authly command once per test binary.
var authlyBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "authly-replica-test-")
	if err != nil {
		return "", err
	}
	storetest.OnTeardown(func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "authly")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/authly-dev/authly-operator")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func freeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// serverProcess is one `authly server` process.
type serverProcess struct {
	cmd  *exec.Cmd
	URL  string
	logs *bytes.Buffer
	done chan error
}

func startServerProcess(t *testing.T, bin, databaseURL, issuer, listen string) *serverProcess {
	t.Helper()
	p := &serverProcess{URL: "http://" + listen, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "server", "--log-format", "text")
	p.cmd.Env = append(os.Environ(),
		"AUTHLY_DATABASE_URL="+databaseURL, "AUTHLY_ISSUER="+issuer, "AUTHLY_LISTEN="+listen,
		"AUTHLY_ARGON2_MEMORY=1024", "AUTHLY_ARGON2_ITERATIONS=1", "AUTHLY_SHUTDOWN_GRACE=2s",
		"AUTHLY_POOL_MAX_CONNS=5",
	)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			if err := <-p.done; err != nil && t.Failed() {
				t.Logf("%s killed: %v", p.URL, err)
			}
		}
		if t.Failed() {
			t.Logf("logs of %s:\n%s", p.URL, p.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/ready")
		if err == nil {
			_ = readBody(t, resp)
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("server %s exited before it was ready: %v\n%s", p.URL, err, p.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s not ready in time:\n%s", p.URL, p.logs.String())
		}
	}
}

// stop sends SIGTERM and expects a clean exit.
func (p *serverProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("server %s exited with %v", p.URL, err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("server %s did not stop on SIGTERM", p.URL)
	}
}

// TestReplicaProcessesShareRevocations runs two `authly server` processes on one database
// and checks that a token revoked on one fails introspection on the other.
func TestReplicaProcessesShareRevocations(t *testing.T) {
	bin, err := authlyBinary()
	if err != nil {
		t.Fatal(err)
	}
	dbURL := storetest.URL(t)
	addrA, addrB := freeAddress(t), freeAddress(t)
	issuer := "http://" + addrA
	procA := startServerProcess(t, bin, dbURL, issuer, addrA)
	procB := startServerProcess(t, bin, dbURL, issuer, addrB)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := &registry.Registry{Store: st, Password: fastPasswords}
	a := &testEnv{t: t, URL: procA.URL, store: st, reg: reg, ctx: ctx}
	b := &testEnv{t: t, URL: procB.URL, store: st, reg: reg, ctx: ctx}

	client, secret := a.m2mClient()
	rs, rsSecret := a.m2mClient()
	tok := a.clientCredentials(client.ID, secret)
	if tok.status != http.StatusOK {
		t.Fatalf("token from process A: %d %s", tok.status, tok.Error)
	}
	if !b.introspect(rs.ID, rsSecret, tok.AccessToken) {
		t.Fatal("process B finds A's fresh token inactive")
	}
	if status := a.revoke(client.ID, secret, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("revoke on A: %d", status)
	}
	waitFor(t, "process B to learn of the revocation", func() bool { return !b.introspect(rs.ID, rsSecret, tok.AccessToken) })

	// Both expose their metrics; B counted the introspections it answered.
	resp, err := http.Get(procB.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); !strings.Contains(body, `authly_token_operations_total{grant_type="none",operation="introspect",result="inactive"}`) {
		t.Error("process B's metrics lack the inactive introspection")
	}
	procA.stop(t)
	procB.stop(t)
}

// raceReplicas sends n copies of one form at once to path, copy i to replicas[i %
// len(replicas)], each on its own connection, and returns the status and OAuth error code
// of every answer. It must be called from the test's goroutine.
func raceReplicas(t *testing.T, replicas []*testEnv, n int, path string, form func(i int) (clientID, secret string, values url.Values)) []tokenResult {
	t.Helper()
	out := make([]tokenResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		e := replicas[i%len(replicas)]
		clientID, secret, values := form(i)
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.URL+path, strings.NewReader(values.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
		wg.Go(func() {
			// A transport of its own: every request on its own connection, all at once.
			hc := &http.Client{Transport: &http.Transport{}}
			defer hc.CloseIdleConnections()
			<-start
			resp, err := hc.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				errs[i] = err
				return
			}
			out[i].status = resp.StatusCode
			if len(body) > 0 {
				errs[i] = json.Unmarshal(body, &out[i])
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// oneWinner checks that exactly one answer succeeded and every other one is 400
// invalid_grant.
func oneWinner(t *testing.T, what string, results []tokenResult) tokenResult {
	t.Helper()
	var winners []tokenResult
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			winners = append(winners, r)
		case r.status != http.StatusBadRequest || r.Error != "invalid_grant":
			t.Errorf("%s: a loser got %d %s (%s), want 400 invalid_grant", what, r.status, r.Error, r.ErrorDescription)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%s: %d of %d presentations won, want exactly 1", what, len(winners), len(results))
	}
	return winners[0]
}

// raceWays is how many presentations of one credential race across the replicas.
const raceWays = 40

// One refresh token presented at once on two replicas: one rotation wins, the other
// presentations are reuse (invalid_grant), on whichever replica they land.
func TestReplicasRaceOneRefreshTokenOneWinner(t *testing.T) {
	a, b := newReplicaPair(t)
	client, secret := a.webClient()
	u := a.user("rhea", "correct horse battery")
	now := time.Now()
	rt, err := credentials.NewOrderedToken(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateRefreshToken(a.ctx, &store.RefreshToken{
		Hash: credentials.StorageKey(rt), FamilyID: "race-family", ClientID: client.ID, UserID: u.ID,
		Scopes: []string{"orders:read", "offline_access"}, AuthTime: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	results := raceReplicas(t, []*testEnv{a, b}, raceWays, "/api/v1/oauth/token", func(int) (string, string, url.Values) {
		return client.ID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	})
	if w := oneWinner(t, "refresh", results); w.RefreshToken == "" || w.RefreshToken == rt {
		t.Errorf("the winner got refresh token %q, want a new one", w.RefreshToken)
	}
}

// One authorization code redeemed at once on two replicas: exactly one exchange wins.
func TestReplicasRaceOneCodeOneWinner(t *testing.T) {
	a, b := newReplicaPair(t)
	client, secret := a.webClient()
	u := a.user("cora", "correct horse battery")
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	code := randomString(t) + randomString(t)
	now := time.Now()
	if err := a.store.CreateAuthorizationCode(a.ctx, &store.AuthorizationCode{
		Hash: credentials.HashToken(code), ClientID: client.ID, UserID: u.ID, RedirectURI: client.RedirectURIs[0],
		Scopes: []string{"orders:read"}, CodeChallenge: credentials.S256Challenge(verifier), AuthTime: now, ExpiresAt: now.Add(time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	results := raceReplicas(t, []*testEnv{a, b}, raceWays, "/api/v1/oauth/token", func(int) (string, string, url.Values) {
		return client.ID, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier}}
	})
	oneWinner(t, "code", results)
}

// An access token and a refresh token revoked many times at once on two replicas: every
// revocation answers 200 (RFC 7009), and afterwards both replicas refuse both tokens.
func TestReplicasRaceRevocation(t *testing.T) {
	a, b := newReplicaPair(t)
	m2m, m2mSecret := a.m2mClient()
	rs, rsSecret := a.m2mClient()
	web, webSecret := a.webClient()
	u := a.user("vera", "correct horse battery")
	tok := a.clientCredentials(m2m.ID, m2mSecret)
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.Error)
	}
	for _, e := range []*testEnv{a, b} {
		if !e.introspect(rs.ID, rsSecret, tok.AccessToken) {
			t.Fatal("a replica finds a fresh token inactive")
		}
	}
	now := time.Now()
	rt, err := credentials.NewOrderedToken(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateRefreshToken(a.ctx, &store.RefreshToken{
		Hash: credentials.StorageKey(rt), FamilyID: "revoked-family", ClientID: web.ID, UserID: u.ID,
		Scopes: []string{"orders:read", "offline_access"}, AuthTime: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	results := raceReplicas(t, []*testEnv{a, b}, raceWays, "/api/v1/oauth/revoke", func(i int) (string, string, url.Values) {
		if i%4 < 2 {
			return m2m.ID, m2mSecret, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
		}
		return web.ID, webSecret, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}
	})
	for i, r := range results {
		if r.status != http.StatusOK {
			t.Errorf("revocation %d: %d %s, want 200", i, r.status, r.Error)
		}
	}
	for name, e := range map[string]*testEnv{"A": a, "B": b} {
		waitFor(t, "replica "+name+" to refuse the revoked access token", func() bool { return !e.introspect(rs.ID, rsSecret, tok.AccessToken) })
		if res := e.tokenRequest(web.ID, webSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); res.Error != "invalid_grant" {
			t.Errorf("replica %s rotates the revoked refresh token: %d %s", name, res.status, res.Error)
		}
	}
}
