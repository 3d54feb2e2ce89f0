/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package ratelimit

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/authly-dev/authly-operator/server/settings"
)

// Config sets the limits of an AuthServer; each replica enforces its share.
type Config struct {
	settings.RateLimits
	// MaxKeys bounds each set of buckets; zero is DefaultMaxKeys.
	MaxKeys int
	// Clock is time.Now unless set (tests).
	Clock func() time.Time
}

// Paths the middleware limits. They are the server's routes; the package takes them as
// configuration rather than importing the protocol package.
type Paths struct {
	Token, Introspect, Revoke string // limited per address, together
	// DeviceAuthorization (RFC 8628) is limited with the token endpoint.
	DeviceAuthorization string
	Authorize           string
	// Device, the device verification page, is limited with Authorize: it shows the
	// same login form, and each request may try one user code.
	Device      string
	AdminPrefix string // every path under it
}

// Limiter holds the buckets of one replica.
type Limiter struct {
	now         func() time.Time
	paths       Paths
	tokenClient *Keyed
	tokenIP     *Keyed
	authorize   *Keyed
	admin       *Keyed
	// userCodeMisses is one bucket for the whole replica, spent by user codes that match
	// nothing.
	userCodeMisses *rate.Limiter
	// Pattern, when set, names the route of a request the middleware refuses, stored in
	// r.Pattern so that request metrics label refusals by route although the mux never
	// saw them.
	Pattern func(r *http.Request) string
}

// New builds a Limiter from cfg; limits of zero or less are off.
func New(cfg Config, paths Paths) *Limiter {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	keyed := func(total float64, period time.Duration) *Keyed {
		return NewKeyed(Share(total, period, cfg.Replicas), cfg.MaxKeys, 0)
	}
	l := &Limiter{
		now:         now,
		paths:       paths,
		tokenClient: keyed(cfg.TokenPerClientPerSecond, time.Second),
		tokenIP:     keyed(cfg.TokenPerIPPerSecond, time.Second),
		authorize:   keyed(cfg.LoginPerIPPerMinute, time.Minute),
		admin:       keyed(cfg.AdminPerIPPerSecond, time.Second),
	}
	if misses := Share(cfg.UserCodeFailuresPerMinute, time.Minute, cfg.Replicas); misses.Enabled() {
		l.userCodeMisses = rate.NewLimiter(misses.Rate, misses.Burst)
	}
	return l
}

// AllowUserCode reports whether a user code may be looked up now: not while the user
// codes that matched nothing have spent this replica's share of
// UserCodeFailuresPerMinute, and if not, how long until they have not. (The
// verification page is limited per address too, by the middleware.)
func (l *Limiter) AllowUserCode() (ok bool, retryAfter time.Duration) {
	if l.userCodeMisses == nil {
		return true, 0
	}
	now := l.now()
	tokens := l.userCodeMisses.TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / float64(l.userCodeMisses.Limit()) * float64(time.Second))
}

// UserCodeMissed spends a token of the user-code bucket: a user code matched nothing.
func (l *Limiter) UserCodeMissed() {
	if l.userCodeMisses != nil {
		l.userCodeMisses.AllowN(l.now(), 1)
	}
}

// AllowClient takes a token from the client's token-endpoint bucket. The protocol calls it
// once the client is authenticated, so that nobody can spend another client's budget.
func (l *Limiter) AllowClient(clientID string) (ok bool, retryAfter time.Duration) {
	return l.tokenClient.Allow(clientID, l.now())
}

// Buckets is the number of buckets held, for a gauge.
func (l *Limiter) Buckets() int {
	return l.tokenClient.Len() + l.tokenIP.Len() + l.authorize.Len() + l.admin.Len()
}

// Middleware refuses requests over their source address's limit with 429. It sits in
// front of the mux and recognizes the limited endpoints by path.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := l.bucketsFor(r)
		if k == nil {
			next.ServeHTTP(w, r)
			return
		}
		ok, retry := k.Allow(addressKey(r.RemoteAddr), l.now())
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		if l.Pattern != nil {
			r.Pattern = l.Pattern(r)
		}
		WriteTooManyRequests(w, retry)
	})
}

func (l *Limiter) bucketsFor(r *http.Request) *Keyed {
	switch p := r.URL.Path; {
	case p == l.paths.Token || p == l.paths.Introspect || p == l.paths.Revoke ||
		(l.paths.DeviceAuthorization != "" && p == l.paths.DeviceAuthorization):
		return l.tokenIP
	case p == l.paths.Authorize || (l.paths.Device != "" && p == l.paths.Device):
		return l.authorize
	case l.paths.AdminPrefix != "" && strings.HasPrefix(p, l.paths.AdminPrefix):
		return l.admin
	}
	return nil
}

// RetryAfterSeconds rounds a delay up to the whole seconds of a Retry-After header, at
// least one.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// WriteTooManyRequests answers 429 with Retry-After and an RFC 6749 section 5.2 error body.
func WriteTooManyRequests(w http.ResponseWriter, retry time.Duration) {
	secs := strconv.Itoa(RetryAfterSeconds(retry))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", secs)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"rate limit exceeded; retry after ` + secs + ` s"}`))
}

// addressKey is the bucket key of a remote address ("ip:port", as http.Request.RemoteAddr
// has it): the IP, and for IPv6 its /64, since one host commonly holds a whole /64. An
// address that does not parse is its own key.
func addressKey(remoteAddr string) string {
	host := remoteAddr
	var a netip.Addr
	// With a port, "1.2.3.4:5" or "[::1]:5"; parse the likely form first, since a failed
	// parse allocates its error.
	if strings.HasPrefix(remoteAddr, "[") || strings.Count(remoteAddr, ":") == 1 {
		ap, err := netip.ParseAddrPort(remoteAddr)
		if err != nil {
			return remoteAddr
		}
		a, host = ap.Addr(), remoteAddr[:strings.LastIndexByte(remoteAddr, ':')]
	} else {
		var err error
		if a, err = netip.ParseAddr(remoteAddr); err != nil {
			return remoteAddr
		}
	}
	switch {
	case a.Is4():
		return host // no allocation for the common case
	case a.Is4In6():
		return a.Unmap().String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return remoteAddr
	}
	return p.String()
}
