/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

func TestUserCodes(t *testing.T) {
	seen := map[rune]int{}
	for range 2000 {
		c, err := newUserCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := normalizeUserCode(c); !ok || len(c) != userCodeLen {
			t.Fatalf("drew %q, not a user code", c)
		}
		for _, r := range c {
			seen[r]++
		}
	}
	// 16,000 letters: each of the 20 about 800 times; a letter never drawn, or one
	// outside the alphabet, is a bug rather than chance.
	if len(seen) != len(userCodeAlphabet) {
		t.Errorf("drew %d distinct letters, want the alphabet's %d: %v", len(seen), len(userCodeAlphabet), seen)
	}
	for _, bad := range "0O1IAEUY" {
		if seen[bad] > 0 {
			t.Errorf("drew %q", bad)
		}
	}

	for typed, want := range map[string]string{
		"WDJB-MJHT": "WDJBMJHT", "wdjb-mjht": "WDJBMJHT", "wdjbmjht": "WDJBMJHT", " WDJB MJHT ": "WDJBMJHT",
		"W-D-J-B-M-J-H-T": "WDJBMJHT",
		"WDJB-MJH0":       "", "WDJB-MJHO": "", "WDJB-MJH1": "", "WDJB-MJHI": "", "WDJB-MJHA": "", "WDJB-MJH": "",
		"WDJB-MJHTX": "", "": "", "ŴDJB-MJHT": "", "WDJB_MJHT": "",
	} {
		got, ok := normalizeUserCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
	if got := displayUserCode("WDJBMJHT"); got != "WDJB-MJHT" {
		t.Errorf("displayUserCode = %q", got)
	}
}

type deviceAnswer struct {
	status                  int
	challenge               string
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
	Error                   string `json:"error"`
	ErrorDescription        string `json:"error_description"`
}

// deviceAuthorization posts to the device authorization endpoint: a public client names
// itself in the body, a confidential one authenticates with HTTP Basic and secret.
func (g *grantTest) deviceAuthorization(client, secret string, form url.Values) deviceAnswer {
	g.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	c := unitGrantClients()[client]
	if c != nil && c.Type == store.Public {
		form.Set("client_id", client)
	}
	r := httptest.NewRequest(http.MethodPost, PathDeviceAuthorization, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c == nil || c.Type == store.Confidential {
		r.Header.Set("Authorization", basic(client, secret))
	}
	w := httptest.NewRecorder()
	g.mux.ServeHTTP(w, r)
	a := deviceAnswer{status: w.Code, challenge: w.Header().Get("WWW-Authenticate")}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		g.t.Fatalf("device authorization answer %d %q: %v", w.Code, w.Body.String(), err)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		g.t.Errorf("Cache-Control %q, want no-store", cc)
	}
	return a
}

func TestDeviceAuthorizationEndpoint(t *testing.T) {
	tests := []struct {
		name, client, secret string
		form                 url.Values
		wantStatus           int
		wantErr, wantDesc    string
	}{
		{name: "public client", client: "device-cli", form: url.Values{"scope": {"openid orders:read"}}, wantStatus: 200},
		{name: "public client, no scope", client: "device-cli", wantStatus: 200},
		{name: "confidential client with Basic", client: "device-tv", secret: grantSecret, wantStatus: 200},
		{name: "confidential client, wrong secret", client: "device-tv", secret: "wrong", wantStatus: 401,
			wantErr: CodeInvalidClient, wantDesc: "client authentication failed"},
		{name: "unknown client", client: "nobody", secret: "x", wantStatus: 401, wantErr: CodeInvalidClient},
		{name: "no client", wantStatus: 401, wantErr: CodeInvalidClient, wantDesc: "client authentication is required"},
		{name: "client without the grant", client: "spa", wantStatus: 400, wantErr: CodeUnauthorizedClient, wantDesc: "device_code grant"},
		{name: "scope not the client's", client: "device-cli", form: url.Values{"scope": {"orders:write"}}, wantStatus: 400,
			wantErr: CodeInvalidScope, wantDesc: "not allowed for this client"},
		{name: "empty scope", client: "device-cli", form: url.Values{"scope": {" "}}, wantStatus: 400, wantErr: CodeInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrantTest(t, Config{})
			var a deviceAnswer
			if tt.client == "" {
				r := httptest.NewRequest(http.MethodPost, PathDeviceAuthorization, strings.NewReader("scope=openid"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				g.mux.ServeHTTP(w, r)
				a.status, a.challenge = w.Code, w.Header().Get("WWW-Authenticate")
				if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
					t.Fatal(err)
				}
			} else {
				a = g.deviceAuthorization(tt.client, tt.secret, tt.form)
			}
			if a.status != tt.wantStatus || a.Error != tt.wantErr || !strings.Contains(a.ErrorDescription, tt.wantDesc) {
				t.Fatalf("status %d %s: %q; want %d %s: %q", a.status, a.Error, a.ErrorDescription, tt.wantStatus, tt.wantErr, tt.wantDesc)
			}
			if tt.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(a.challenge, "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", a.challenge)
			}
			if tt.wantErr != "" {
				return
			}
			code, ok := normalizeUserCode(a.UserCode)
			if !ok || a.UserCode != displayUserCode(code) {
				t.Errorf("user code %q, want XXXX-XXXX of the alphabet", a.UserCode)
			}
			if a.VerificationURI != fuzzIssuer+PathDevice || a.VerificationURIComplete != a.VerificationURI+"?user_code="+a.UserCode {
				t.Errorf("verification URIs %q and %q", a.VerificationURI, a.VerificationURIComplete)
			}
			if a.ExpiresIn != 600 || a.Interval != 5 || len(a.DeviceCode) < 43 {
				t.Errorf("expires_in %d, interval %d, device code %q", a.ExpiresIn, a.Interval, a.DeviceCode)
			}
			// Stored by hashes only, pending, with the scopes asked for (all the client's
			// when none were).
			d := g.store.device(credentials.HashToken(a.DeviceCode))
			if d == nil || d.State != store.DevicePending || d.ClientID != tt.client || d.Interval != 5*time.Second ||
				string(d.UserCodeHash) != string(g.p.userCodeHash(code)) {
				t.Fatalf("stored %+v", d)
			}
			want := strings.Join(unitGrantClients()[tt.client].Scopes, " ")
			if s := tt.form.Get("scope"); s != "" {
				want = s
			}
			if got := strings.Join(d.Scopes, " "); got != want {
				t.Errorf("stored scopes %q, want %q", got, want)
			}
		})
	}
}

func devicePoll(deviceCode string) url.Values {
	return url.Values{"grant_type": {GrantDeviceCode}, "device_code": {deviceCode}}
}

// TestGrantDeviceCode polls one request through its life, and others to their ends.
func TestGrantDeviceCode(t *testing.T) {
	g := newGrantTest(t, Config{})
	start := g.now
	a := g.deviceAuthorization("device-cli", "", url.Values{"scope": {"openid profile orders:read admin:clients:read"}})
	code, _ := normalizeUserCode(a.UserCode)
	poll := func(after time.Duration, client, deviceCode string, wantErr, wantDesc string) tokenAnswer {
		t.Helper()
		g.now = start.Add(after)
		ans := g.token(client, devicePoll(deviceCode))
		ans.check(t, wantErr, wantDesc)
		if wantErr != "" && wantErr != CodeInvalidClient && ans.status != http.StatusBadRequest {
			t.Errorf("%s with status %d, want 400", wantErr, ans.status)
		}
		return ans
	}
	poll(0, "device-cli", a.DeviceCode, CodeAuthorizationPending, "not yet approved")
	poll(5*time.Second, "device-cli", a.DeviceCode, CodeAuthorizationPending, "")
	// A fifth of the interval early is allowed; more is too fast, and the interval grows.
	poll(9*time.Second, "device-cli", a.DeviceCode, CodeAuthorizationPending, "")
	poll(12*time.Second, "device-cli", a.DeviceCode, CodeSlowDown, "5 s longer")
	if d := g.store.device(credentials.HashToken(a.DeviceCode)); d.Interval != 10*time.Second {
		t.Fatalf("interval %s after slow_down, want 10s", d.Interval)
	}
	poll(20*time.Second, "device-cli", a.DeviceCode, CodeSlowDown, "")
	poll(35*time.Second, "device-cli", a.DeviceCode, CodeAuthorizationPending, "")
	poll(36*time.Second, "device-tv", a.DeviceCode, CodeInvalidGrant, "another client")
	poll(37*time.Second, "device-cli", "no-such-device-code", CodeInvalidGrant, "unknown device code")

	// alice, no admin, approves: the admin scope is not hers to grant.
	g.now = start.Add(40 * time.Second)
	err := g.store.DecideDeviceAuthorization(t.Context(), store.DeviceDecision{UserCodeHash: g.p.userCodeHash(code), Approve: true,
		UserID: aliceID, Scopes: []string{"openid", "profile", "orders:read"}, AuthTime: g.now, Now: g.now})
	if err != nil {
		t.Fatal(err)
	}
	// Approved: tokens at once, even before the interval is over.
	tok := poll(41*time.Second, "device-cli", a.DeviceCode, "", "")
	at := g.access(tok)
	if at.Subject != aliceID || at.ClientID != "device-cli" || tok.Scope != "openid profile orders:read" {
		t.Errorf("access token sub %q client %q, scope %q", at.Subject, at.ClientID, tok.Scope)
	}
	if tok.RefreshToken == "" || tok.IDToken == "" {
		t.Errorf("refresh token %q, ID token %q: want both (refresh_token grant, openid)", tok.RefreshToken, tok.IDToken)
	}
	if rt, err := g.store.GetRefreshToken(t.Context(), credentials.StorageKey(tok.RefreshToken)); err != nil || rt.UserID != aliceID {
		t.Errorf("refresh token stored as %+v, %v", rt, err)
	}
	// Redeemed once.
	poll(60*time.Second, "device-cli", a.DeviceCode, CodeInvalidGrant, "already used")

	// Denied.
	g.now = start
	denied := g.deviceAuthorization("device-tv", grantSecret, nil)
	deniedCode, _ := normalizeUserCode(denied.UserCode)
	if err := g.store.DecideDeviceAuthorization(t.Context(), store.DeviceDecision{UserCodeHash: g.p.userCodeHash(deniedCode),
		UserID: aliceID, Now: start}); err != nil {
		t.Fatal(err)
	}
	poll(time.Second, "device-tv", denied.DeviceCode, CodeAccessDenied, "denied")

	// Expired, pending or approved alike; then the client has no refresh token grant.
	g.now = start
	expired := g.deviceAuthorization("device-tv", grantSecret, nil)
	poll(10*time.Minute, "device-tv", expired.DeviceCode, CodeExpiredToken, "expired")

	poll(0, "device-cli", "", CodeInvalidRequest, "device_code is required")
	poll(0, "web", a.DeviceCode, CodeUnauthorizedClient, "device_code grant")
}
