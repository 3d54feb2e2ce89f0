/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package clientkeys

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors of the Fetcher, for errors.Is.
var (
	// ErrForbiddenAddress: the jwks_uri's host is, or resolves to, an address the server
	// does not reach on a client's behalf (loopback, link-local, private, ...), and the
	// server does not allow that host.
	ErrForbiddenAddress = errors.New("clientkeys: address not allowed for a jwks_uri")
	// ErrRedirect: the jwks_uri redirected to another host, to http, or too often.
	ErrRedirect = errors.New("clientkeys: jwks_uri redirect refused")
	// ErrBadURI: the jwks_uri is not an absolute https URL without credentials.
	ErrBadURI = errors.New("clientkeys: jwks_uri must be an https URL")
	// ErrFetch: the jwks_uri answered with something other than a JWK Set of acceptable
	// size, or did not answer in time.
	ErrFetch = errors.New("clientkeys: fetching the jwks_uri failed")
)

// Defaults of Config.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultMaxBytes        = 64 << 10
	DefaultCacheTTL        = 5 * time.Minute
	DefaultRefetchInterval = 10 * time.Second
	// maxCacheEntries bounds the cache: one entry per jwks_uri of a registered client.
	maxCacheEntries = 10_000
	maxRedirects    = 3
	// maxAddresses bounds the addresses of one name tried in turn.
	maxAddresses = 4
)

// Config configures a Fetcher. Zero values take the defaults above.
type Config struct {
	// AllowedHosts may be reached even at an address that is otherwise refused: host
	// names (matched exactly, case-insensitively, against the jwks_uri's host) and IP
	// addresses or CIDRs (matched against the address dialled). See ParseAllowedHosts.
	AllowedHosts []string
	// Timeout bounds one fetch, from dialling to the last byte.
	Timeout time.Duration
	// MaxBytes bounds the body of a jwks_uri's answer.
	MaxBytes int64
	// CacheTTL is how long a fetched set is used before it is fetched again.
	CacheTTL time.Duration
	// RefetchInterval is the least time between two fetches of one jwks_uri: an
	// assertion naming an unknown kid refetches the set at most this often.
	RefetchInterval time.Duration
	// LookupIP resolves a host name; nil is the system resolver. Tests make a name
	// resolve to a given address with it.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// RootCAs verify the jwks_uri servers' certificates; nil is the system's roots.
	RootCAs *x509.CertPool
	// Clock is the cache's time; nil is time.Now.
	Clock func() time.Time
}

// AllowList is a parsed Config.AllowedHosts.
type AllowList struct {
	names    map[string]bool
	prefixes []netip.Prefix
}

// ParseAllowedHosts checks and parses allowed hosts: each a host name, an IP address or a
// CIDR.
func ParseAllowedHosts(hosts []string) (AllowList, error) {
	a := AllowList{names: map[string]bool{}}
	var errs []error
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if p, err := netip.ParsePrefix(h); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			ip = ip.Unmap()
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if !validHostName(h) {
			errs = append(errs, fmt.Errorf("allowed host %q is not a host name, an IP address or a CIDR", h))
			continue
		}
		a.names[strings.ToLower(h)] = true
	}
	return a, errors.Join(errs...)
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			letterOrDigit := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !letterOrDigit && c != '-' {
				return false
			}
		}
	}
	return true
}

func (a AllowList) hostAllowed(host string) bool { return a.names[strings.ToLower(host)] }

func (a AllowList) addrAllowed(ip netip.Addr) bool {
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// refusedPrefixes are ranges that are not on the public internet, beyond what netip's
// predicates name (loopback, link-local, private, unspecified, multicast).
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, often a cluster's pod range
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: would reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata (169.254.169.254)
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fd00:ec2::/32"),  // AWS metadata over IPv6 (inside fc00::/7 too)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("10.0.0.0/8"),     // private, and most clusters' Service range
	netip.MustParsePrefix("172.16.0.0/12"),  // private
	netip.MustParsePrefix("192.168.0.0/16"), // private
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("ff00::/8"),       // multicast
	netip.MustParsePrefix("255.255.255.255/32"),
}

// Refused reports whether the server refuses to reach ip for a client unless allowed:
// loopback, link-local (cloud metadata), private and unique-local, carrier-grade NAT,
// unspecified, multicast, and the reserved and translation ranges.
func Refused(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURI checks that uri is an absolute https URL with a host, without user
// information or fragment: the form of a jwks_uri. Where it leads is checked when it is
// fetched.
func CheckURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || strings.Contains(uri, "#") {
		return fmt.Errorf("%w: %q must be an absolute https URL without credentials or fragment", ErrBadURI, uri)
	}
	return nil
}

// Fetcher fetches and caches the JWK Sets of jwks_uris. It is safe for concurrent use.
type Fetcher struct {
	cfg    Config
	allow  AllowList
	client *http.Client

	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	// mu is held while the set is fetched, so that concurrent requests of one jwks_uri
	// wait for one fetch.
	mu          sync.Mutex
	set         *Set
	fetchedAt   time.Time // of set
	attemptedAt time.Time // of the last fetch, successful or not
	err         error     // of the last fetch
}

// New builds a Fetcher. It fails when an allowed host is malformed.
func New(cfg Config) (*Fetcher, error) {
	allow, err := ParseAllowedHosts(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = DefaultRefetchInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.LookupIP == nil {
		cfg.LookupIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	f := &Fetcher{cfg: cfg, allow: allow, cache: map[string]*entry{}}
	f.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			// No proxy: the address dialled must be the jwks_uri's own, which is checked.
			Proxy:                 nil,
			DialContext:           f.dialContext,
			TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
			MaxIdleConns:          10,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: checkRedirect,
	}
	return f, nil
}

// checkRedirect follows a redirect only to https on the same host, a few times.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRedirect, maxRedirects)
	}
	if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		return fmt.Errorf("%w: from host %s to %s://%s", ErrRedirect, via[0].URL.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// checkAddr refuses an address the server does not reach for a client, unless the host
// or the address is allowed.
func (f *Fetcher) checkAddr(ip netip.Addr, hostAllowed bool) error {
	ip = ip.Unmap()
	if hostAllowed || f.allow.addrAllowed(ip) || !Refused(ip) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
}

// control runs on each socket before it connects, with the address actually dialled:
// whatever resolved the name, a refused address is never connected to.
func (f *Fetcher) control(hostAllowed bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot read the address dialled %q", ErrForbiddenAddress, address)
		}
		return f.checkAddr(ap.Addr(), hostAllowed)
	}
}

// dialContext resolves the host itself and dials its addresses in turn, refusing before
// any connection is attempted those the server does not reach; the dialer's Control
// checks the address of the socket again.
func (f *Fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	port, err := net.LookupPort(network, portText)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q: %w", ErrFetch, portText, err)
	}
	hostAllowed := f.allow.hostAllowed(host)
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = f.cfg.LookupIP(ctx, host); err != nil {
		return nil, fmt.Errorf("%w: resolving %s: %w", ErrFetch, host, err)
	}
	if len(addrs) > maxAddresses {
		addrs = addrs[:maxAddresses]
	}
	errs := []error{fmt.Errorf("%w: %s has no address", ErrFetch, host)}
	d := net.Dialer{Timeout: f.cfg.Timeout, Control: f.control(hostAllowed)}
	for _, ip := range addrs {
		if err := f.checkAddr(ip, hostAllowed); err != nil {
			errs = append(errs, fmt.Errorf("%s resolves to %s: %w", host, ip.Unmap(), err))
			continue
		}
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs[1:]...)
}

// Keys returns the JWK Set at uri for a signature by the key kid. A set fetched less
// than CacheTTL ago that has the kid (or any set, for an empty kid) is served from
// memory; otherwise the set is fetched again, at most once per RefetchInterval, so that
// a client's key rotation is seen at its first assertion with the new kid, and assertions
// naming unknown kids do not turn into a stream of requests.
func (f *Fetcher) Keys(ctx context.Context, uri, kid string) (*Set, error) {
	e := f.entry(uri)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.cfg.Clock()
	fresh := e.set != nil && now.Sub(e.fetchedAt) < f.cfg.CacheTTL
	if fresh && (kid == "" || e.set.HasKID(kid)) {
		return e.set, nil
	}
	if !e.attemptedAt.IsZero() && now.Sub(e.attemptedAt) < f.cfg.RefetchInterval {
		if fresh {
			return e.set, nil
		}
		return nil, fmt.Errorf("%w (fetched less than %s ago)", e.err, f.cfg.RefetchInterval)
	}
	e.attemptedAt = now
	set, err := f.fetch(ctx, uri)
	if err != nil {
		e.err = err
		if fresh {
			return e.set, nil
		}
		return nil, err
	}
	e.set, e.fetchedAt, e.err = set, now, nil
	return set, nil
}

func (f *Fetcher) entry(uri string) *entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cache[uri]
	if !ok {
		if len(f.cache) >= maxCacheEntries {
			for k := range f.cache { // drop one at random
				delete(f.cache, k)
				break
			}
		}
		e = &entry{}
		f.cache[uri] = e
	}
	return e
}

// fetch GETs the set at uri once.
func (f *Fetcher) fetch(ctx context.Context, uri string) (*Set, error) {
	if err := CheckURI(uri); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadURI, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %d", ErrFetch, uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrFetch, uri, err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %s answered more than %d bytes", ErrFetch, uri, f.cfg.MaxBytes)
	}
	set, err := Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFetch, uri, err)
	}
	return set, nil
}
