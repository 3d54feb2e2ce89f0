/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/cache"
	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/keyring"
	"github.com/authly-dev/authly-operator/server/metrics"
	"github.com/authly-dev/authly-operator/server/oauth"
	"github.com/authly-dev/authly-operator/server/ratelimit"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// Server is one replica of the OAuth server.
type Server struct {
	cfg         Config
	log         *slog.Logger
	store       *store.Store
	keyring     *keyring.Keyring
	keys        *tokens.KeySet
	clients     *cache.Clients
	revocations *cache.Revocations
	federation  *federation.Issuers
	provider    *oauth.Provider
	metrics     *metrics.Metrics
	limiter     *ratelimit.Limiter
	handler     http.Handler

	// ready is false until the caches are loaded and again once shutdown begins, so that
	// a rolling update stops sending requests before the listener closes.
	ready atomic.Bool
}

// New opens the database, migrates it, loads the keys and builds the handlers.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	m := metrics.New()
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{
		MinConns: cfg.PoolMinConns, MaxConns: cfg.PoolMaxConns, ApplicationName: "authly-server",
		ObserveQuery: m.ObserveQuery,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, metrics: m}
	if err := s.init(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context) error {
	var sealer *tokens.Sealer
	var csrfKey []byte
	if s.cfg.KeyEncryptionKey == "" {
		s.log.Warn("no key encryption key configured: signing keys are stored unencrypted, and login forms " +
			"work only when posted to the replica that showed them (acceptable for development only)")
	} else {
		kek, err := tokens.ParseKEK(s.cfg.KeyEncryptionKey)
		if err != nil {
			return fmt.Errorf("key encryption key: %w", err)
		}
		if sealer, err = tokens.NewSealer(kek); err != nil {
			return err
		}
		if csrfKey, err = deriveCSRFKey(kek); err != nil {
			return err
		}
	}
	s.keyring = &keyring.Keyring{Store: s.store, Sealer: sealer}
	if err := s.keyring.Ensure(ctx); err != nil {
		return err
	}
	keys, err := s.keyring.Load(ctx)
	if err != nil {
		return err
	}
	if s.keys, err = tokens.NewKeySet(keys); err != nil {
		return err
	}
	s.clients = cache.NewClients(s.store)
	s.revocations = cache.NewRevocations(s.store, time.Now, s.cfg.AccessTokenTTL)
	s.federation = &federation.Issuers{Store: s.store, Clock: s.cfg.Clock}
	if err := s.revocations.Reload(ctx); err != nil {
		return err
	}
	s.limiter = ratelimit.New(ratelimit.Config{RateLimits: s.cfg.RateLimits}, ratelimit.Paths{
		Token: oauth.PathToken, Introspect: oauth.PathIntrospect, Revoke: oauth.PathRevoke,
		Authorize: oauth.PathAuthorize, AdminPrefix: "/admin/",
		DeviceAuthorization: oauth.PathDeviceAuthorization, Device: oauth.PathDevice,
	})
	s.metrics.RegisterPool(s.store.Pool().Stat)
	s.metrics.RegisterCaches(metrics.CacheStats{
		Clients:     s.clients.Stats,
		Revocations: s.revocations.Size,
		Gauges: map[string]metrics.GaugeFunc{
			"ratelimit_buckets": {Help: "Rate limit buckets held (per client and per source address).",
				Value: func() float64 { return float64(s.limiter.Buckets()) }},
		},
	})
	s.provider, err = oauth.New(oauth.Deps{
		Config:      s.cfg.Protocol,
		Store:       s.store,
		Clients:     s.clients,
		Keys:        s.keys,
		Verifier:    tokens.NewCachingVerifier(&tokens.Verifier{Issuer: s.cfg.Issuer, Keys: s.keys, Leeway: verifierLeeway}, 100_000),
		Revocations: s.revocations,
		Log:         s.log,
		Clock:       s.cfg.Clock,
		Hooks: oauth.Hooks{TokenOperation: s.metrics.TokenOperation, Authorization: s.metrics.Authorization,
			RefreshReuse: s.metrics.RefreshReuse, DatabaseUnavailable: s.metrics.DatabaseUnavailable,
			SignatureWait: s.metrics.SignatureWait},
		Limiter:    s.limiter,
		UserCodes:  s.limiter,
		Federation: s.federation,
		CSRFKey:    csrfKey,
	})
	if err != nil {
		return err
	}
	reg := &registry.Registry{Store: s.store, Password: s.cfg.Password}
	if err := admin.Bootstrap(ctx, reg, admin.BootstrapConfig{
		Username: s.cfg.AdminUsername, Password: s.cfg.AdminPassword, PasswordFile: s.cfg.AdminPasswordFile,
	}, s.log); err != nil {
		return err
	}
	adminAPI, err := admin.New(admin.Deps{Store: s.store, Registry: reg, Tokens: s.provider, Log: s.log, Version: s.cfg.Version,
		OnDatabaseUnavailable: s.metrics.DatabaseUnavailable})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	s.provider.Register(mux)
	adminAPI.Register(mux)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ready", s.readiness)
	mux.Handle("GET /metrics", s.metrics.Handler())
	// Requests the limiter refuses never reach the mux; it names their route for the
	// request metrics (a registered pattern, so the label stays bounded).
	s.limiter.Pattern = func(r *http.Request) string { _, p := mux.Handler(r); return p }
	s.handler = s.middleware(mux)
	return nil
}

// deriveCSRFKey derives the key of the login forms' CSRF tokens from the key-encryption
// key. Every replica must compute the same tokens (a page one replica renders is posted to
// another) and every replica already has the KEK, so nothing new is stored or
// distributed; HKDF with its own label keeps the two uses of the KEK apart, and the CSRF
// key reveals nothing of the KEK. Without a KEK the provider draws a random key per
// process (development, one replica).
func deriveCSRFKey(kek []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, kek, nil, "authly csrf token key v1", oauth.CSRFKeyLen)
}

// middleware wraps the mux in what every request passes, outermost first: panic
// recovery, the client address from trusted proxies, security headers, request metrics
// (which read the route the mux matched), CORS, rate limits.
func (s *Server) middleware(mux http.Handler) http.Handler {
	return s.recoverPanics(
		trustProxies(s.cfg.TrustedProxies,
			securityHeaders(s.cfg.Issuer,
				s.metrics.Middleware(
					cors(s.cfg.CORSOrigins,
						s.limiter.Middleware(mux))))))
}

// Handler serves every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's database access, for the admin tooling and tests.
func (s *Server) Store() *store.Store { return s.store }

// Keyring manages the server's signing keys.
func (s *Server) Keyring() *keyring.Keyring { return s.keyring }

// Close releases the database pool.
func (s *Server) Close() { s.store.Close() }

// Start runs the background work (change notifications, purging) until ctx ends and marks
// the server ready. Run calls it; tests that serve Handler themselves call it directly.
func (s *Server) Start(ctx context.Context) {
	go s.followChanges(ctx)
	go s.purgeLoop(ctx)
	s.ready.Store(true)
}

// Run serves on cfg.Listen until ctx ends, then shuts down gracefully: readiness fails
// first, in-flight requests finish, and the listener closes.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	s.Start(bg)
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           closeWhenDraining(&draining, s.handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info("serving", "address", ln.Addr().String(), "issuer", s.cfg.Issuer)
	if s.cfg.DebugListen != "" {
		debug := &http.Server{Addr: s.cfg.DebugListen, Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := debug.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("debug listener", "error", err)
			}
		}()
		defer func() { _ = debug.Close() }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	draining.Store(true)
	s.log.Info("shutting down: readiness now fails; draining")
	// Give the endpoints controller time to see the failing readiness before the
	// listener closes, so that no new request is routed to a closed port.
	drain := min(s.cfg.ShutdownGrace/4, 5*time.Second)
	time.Sleep(drain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// readiness: the database answers, the schema is the one this binary expects, the keys
// are loaded, and the server is not shutting down.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	problem := ""
	switch {
	case !s.ready.Load():
		problem = "not serving (starting or shutting down)"
	case s.keys == nil:
		problem = "signing keys not loaded"
	default:
		v, err := s.store.SchemaVersion(ctx)
		if err != nil {
			problem = "database unreachable"
		} else if v != store.SchemaVersion() {
			problem = fmt.Sprintf("database schema version %d, want %d", v, store.SchemaVersion())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if problem != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, `{"status":"unavailable","reason":%q}`, problem)
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}`))
}

// closeWhenDraining answers Connection: close once draining is set, so that a client with
// a keep-alive connection to a replica that is shutting down closes it after its response
// and opens the next one through the Service, to a replica that stays. Shutdown then finds
// no busy connection to close under a request. (http.Server.SetKeepAlivesEnabled(false)
// would also close the idle connections at once, racing a client about to reuse one: seen
// as a connection reset on a real node.)
func closeWhenDraining(draining *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 instead of a dropped
// connection. Handlers are written never to panic; this is the last line.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"server_error","error_description":"internal error"}`))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// followChanges applies the store's change notifications to the caches until ctx ends.
func (s *Server) followChanges(ctx context.Context) {
	err := s.store.Listen(ctx, func(ch store.Change) {
		switch ch.Kind {
		case store.ChangeClient:
			s.clients.Invalidate(ch.Key)
		case store.ChangeFederatedIssuer:
			s.federation.Invalidate(ch.Key)
		case store.ChangeReset:
			s.clients.Reset()
			s.federation.Reset()
			s.reloadKeys(ctx)
		case store.ChangeKey:
			s.reloadKeys(ctx)
		}
		if err := s.revocations.Apply(ctx, ch); err != nil {
			s.log.Error("apply revocation change", "kind", ch.Kind, "error", err)
		}
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("change notifications stopped", "error", err)
	}
}

func (s *Server) reloadKeys(ctx context.Context) {
	keys, err := s.keyring.Load(ctx)
	if err == nil {
		err = s.keys.Replace(keys)
	}
	if err != nil {
		s.log.Error("reload signing keys", "error", err)
	}
}

// purgeLoop deletes expired codes, tokens, deny-list entries, sessions and signing keys
// in small batches, so that tables do not grow without bound.
func (s *Server) purgeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.purge(ctx, time.Now())
	}
}

// purge is one pass of the purge loop at now.
func (s *Server) purge(ctx context.Context, now time.Time) {
	n, err := s.store.PurgeExpired(ctx, now, 1000)
	if err != nil && ctx.Err() == nil {
		s.log.Error("purge expired rows", "error", err)
	} else if n > 0 {
		s.log.Debug("purged expired rows", "rows", n)
	}
	// Retired keys go once no token they signed can still be valid. The deletion notifies
	// every replica, which reloads its keys.
	keys, err := s.store.DeleteExpiredKeys(ctx, now, s.longestTokenLifetime())
	if err != nil && ctx.Err() == nil {
		s.log.Error("delete expired signing keys", "error", err)
	} else if keys > 0 {
		s.log.Info("deleted retired signing keys", "keys", keys)
	}
	s.revocations.Prune()
}

// verifierLeeway is how far past its expiry the server still accepts a token (clock skew).
const verifierLeeway = 30 * time.Second

// longestTokenLifetime is how long after signing a token of this server can still be
// accepted: the longer of the access and ID token lifetimes, plus the verifier's leeway.
// Refresh tokens and codes are not signed. An expired ID token is still read as a logout's
// id_token_hint, to name the client and user; once its key is gone such a hint is refused
// as not verifiably this server's.
func (s *Server) longestTokenLifetime() time.Duration {
	return max(s.cfg.AccessTokenTTL, s.cfg.IDTokenTTL) + verifierLeeway
}

// pprofMux serves the runtime profiles of net/http/pprof.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
