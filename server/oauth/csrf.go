/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// Cookies of the browser flows, by their names over plain http (development on loopback).
// Over https they carry the __Host- prefix: a browser takes such a cookie only from the
// host itself, Secure, with Path=/ and no Domain attribute, so neither a sibling subdomain
// nor a plain-http response can plant or overwrite one.
const (
	sessionCookieName = "authly_session"
	csrfCookieName    = "authly_csrf"
	hostCookiePrefix  = "__Host-"
)

// CSRFKeyLen is the length of Deps.CSRFKey.
const CSRFKeyLen = 32

// CSRF protection of the login, consent and logout forms.
//
// Each form carries a token that is an HMAC-SHA256, under the server's CSRF key, of what
// the form is for and of what this browser holds:
//
//   - The consent and logout forms need a login session, and their token is bound to it
//     (to the session id, the hash of the session cookie). A token shown to another
//     browser, the attacker's own for instance, does not match this browser's session.
//   - The login form comes before any session. Its token is bound instead to a random
//     per-browser value (the "login binding") in its own HttpOnly cookie, authly_csrf. A
//     cookie and form field chosen together by an attacker do not pass, since the token
//     is an HMAC of the cookie under a key only the server has. An attacker could still
//     plant the binding cookie of their own browser together with its genuine token; that
//     takes planting a cookie, which the __Host- prefix rules out over https, and a
//     cross-site post, which crossSitePost refuses in every current browser.
//
// Every replica must compute the same tokens, since one replica renders a page and another
// may receive its form. The server derives the key from the key-encryption key that every
// replica already has (see server.csrfKey); nothing more is stored. Without a
// key-encryption key (development only) it is random per process.
const (
	csrfLogin   = "login"
	csrfConsent = "consent"
	csrfLogout  = "logout"
)

func (p *Provider) csrfMAC(purpose string, binding []byte) string {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte("authly-csrf-v1\x00"))
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(binding)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validMAC(want, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// sessionCSRF is the token of a form bound to the login session s.
func (p *Provider) sessionCSRF(purpose string, s *store.Session) string {
	return p.csrfMAC(purpose, s.Hash)
}

// validSessionCSRF checks the token of a form bound to the login session s.
func (p *Provider) validSessionCSRF(r *http.Request, purpose string, s *store.Session) bool {
	return s != nil && validMAC(p.sessionCSRF(purpose, s), r.PostForm.Get("csrf_token"))
}

// loginCSRF returns the login form's token, bound to this browser's login binding; a
// browser without one gets a new binding cookie.
func (p *Provider) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.csrfCookie); err == nil && len(c.Value) >= 32 {
		return p.csrfMAC(csrfLogin, []byte(c.Value))
	}
	v, err := credentials.NewToken(p.rand)
	if err != nil {
		return ""
	}
	http.SetCookie(w, p.cookie(p.csrfCookie, v, 0))
	return p.csrfMAC(csrfLogin, []byte(v))
}

// validLoginCSRF checks the login form's token against this browser's login binding.
func (p *Provider) validLoginCSRF(r *http.Request) bool {
	c, err := r.Cookie(p.csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return validMAC(p.csrfMAC(csrfLogin, []byte(c.Value)), r.PostForm.Get("csrf_token"))
}

// crossSitePost reports whether a form post comes from a page of another origin, as the
// browser says: Sec-Fetch-Site (Fetch Metadata) other than same-origin, or an Origin
// header other than the issuer's. A sibling subdomain is same-site but not same-origin,
// and is refused too. "none" is a post the user started (the browser's own UI). Requests
// with neither header (older browsers, non-browser clients) pass this check; the CSRF
// token still applies. The pages' Referrer-Policy is same-origin, not no-referrer: under
// no-referrer a browser sends "Origin: null" on a same-origin form post.
func (p *Provider) crossSitePost(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	if o := r.Header.Get("Origin"); o != "" && o != p.origin {
		return true
	}
	return false
}

// issuerOrigin is the origin (RFC 6454) of the issuer URL, as a browser writes it in Origin.
func issuerOrigin(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	defaultPort := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if port := u.Port(); port != "" && port != defaultPort {
		host += ":" + port
	}
	return u.Scheme + "://" + host
}
