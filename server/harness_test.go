/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testEnv is a running server on a fresh database, reached over real HTTP.
type testEnv struct {
	t      testing.TB
	URL    string
	ts     *httptest.Server
	srv    *server.Server
	store  *store.Store
	reg    *registry.Registry
	ctx    context.Context
	cancel context.CancelFunc
	// logs holds what the server logged at warning level and above.
	logs *syncBuffer
}

// fastPasswords keeps argon2id cheap in tests; the parameters are still real argon2id.
var fastPasswords = credentials.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func newTestEnv(t testing.TB, configure ...func(*server.Config)) *testEnv {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	return startTestEnv(t, ts, configure...)
}

// newTLSTestEnv is newTestEnv served over https (the issuer is https://127.0.0.1:port);
// its browsers are made with e.newTLSBrowser.
func newTLSTestEnv(t testing.TB, configure ...func(*server.Config)) *testEnv {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return startTestEnv(t, ts, configure...)
}

func startTestEnv(t testing.TB, ts *httptest.Server, configure ...func(*server.Config)) *testEnv {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = storetest.URL(t)
	cfg.Issuer = ts.URL
	cfg.Password = fastPasswords
	cfg.PoolMaxConns = 30
	for _, f := range configure {
		f(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &syncBuffer{}
	var out io.Writer = logs
	level := slog.LevelWarn
	if testing.Verbose() {
		out, level = io.MultiWriter(logs, testWriter{t}), slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Start(ctx)
	ts.Config.Handler = srv.Handler()
	return &testEnv{
		t: t, URL: ts.URL, ts: ts, srv: srv, store: srv.Store(), ctx: ctx, cancel: cancel, logs: logs,
		reg: &registry.Registry{Store: srv.Store(), Password: fastPasswords},
	}
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// client registers a client and returns it with its secret.
func (e *testEnv) client(c store.Client) (*store.Client, string) {
	e.t.Helper()
	secret, err := e.reg.CreateClient(e.ctx, &c)
	if err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	return &c, secret
}

// webClient is a confidential authorization-code client with refresh tokens.
func (e *testEnv) webClient(mutate ...func(*store.Client)) (*store.Client, string) {
	c := store.Client{
		Name: "Web app", Type: store.Confidential,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example.com/callback"},
		Scopes:       []string{"openid", "profile", "email", "offline_access", "orders:read", "orders:write"},
	}
	for _, m := range mutate {
		m(&c)
	}
	return e.client(c)
}

func (e *testEnv) user(username, password string) *store.User {
	e.t.Helper()
	u := &store.User{Username: username, Email: username + "@example.com", EmailVerified: true, Name: "Test " + username, GivenName: "Test", FamilyName: username}
	if err := e.reg.CreateUser(e.ctx, u, password); err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// browser is a cookie-keeping HTTP client that does not follow redirects, like a user
// agent whose every step the test inspects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// newTLSBrowser is newBrowser for an environment served over https.
func (e *testEnv) newTLSBrowser(t *testing.T) *browser {
	b := newBrowser(t)
	b.c.Transport = e.ts.Client().Transport
	return b
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readBody(b.t, resp)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readBody(b.t, resp)
}

// postWith posts a form with extra request headers (Origin, Sec-Fetch-Site).
func (b *browser) postWith(u string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readBody(b.t, resp)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formOf collects the hidden fields of a rendered page, as a browser would submit them.
func formOf(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// login signs in on a login page and returns the response to the form post.
func (b *browser) login(e *testEnv, page, username, password string) (*http.Response, string) {
	b.t.Helper()
	if !strings.Contains(page, `name="password"`) {
		b.t.Fatalf("expected the login page, got:\n%s", page)
	}
	f := formOf(page)
	f.Set("username", username)
	f.Set("password", password)
	f.Set("action", "login")
	return b.post(e.URL+"/api/v1/oauth/authorize", f)
}

// consent answers a consent page.
func (b *browser) consent(e *testEnv, page, answer string) (*http.Response, string) {
	b.t.Helper()
	if !strings.Contains(page, `name="consent"`) {
		b.t.Fatalf("expected the consent page, got:\n%s", page)
	}
	f := formOf(page)
	f.Set("consent", answer)
	return b.post(e.URL+"/api/v1/oauth/authorize", f)
}

// redirectParams checks a redirect and returns its query.
func redirectParams(t testing.TB, resp *http.Response, wantPrefix string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect to %s", resp.StatusCode, wantPrefix)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, wantPrefix) {
		t.Fatalf("redirect to %q, want %s...", loc, wantPrefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func randomString(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
