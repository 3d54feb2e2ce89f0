/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// Endpoint paths, as a relying party configures them.
const (
	pathAuthorize  = "/api/v1/oauth/authorize"
	pathToken      = "/api/v1/oauth/token"
	pathRevoke     = "/api/v1/oauth/revoke"
	pathIntrospect = "/api/v1/oauth/introspect"
	pathUserinfo   = "/oidc/userinfo"
	pathLogout     = "/oidc/logout"
	pathDeviceAuth = "/api/v1/oauth/device_authorization"
	pathDevice     = "/device"
)

const (
	alicePassword = "correct horse battery"
	webRedirect   = "https://app.example.com/callback"
)

// responseKind is how an endpoint answers a bad request.
type responseKind int

const (
	// jsonError: an RFC 6749 section 5.2 JSON error body.
	jsonError responseKind = iota
	// errorPage: an HTML page, never a redirect (the client or redirect URI is not trusted).
	errorPage
	// errorRedirect: the user agent is sent back to the client with error, state and iss.
	errorRedirect
	// methodNotAllowed: the router refuses the method.
	methodNotAllowed
	// success: the RFC says the request succeeds (RFC 7009 unknown tokens, RFC 7662
	// inactive tokens); check looks further.
	success
)

// outcome is the exact answer a bad request must get.
type outcome struct {
	kind   responseKind
	status int
	code   string
	// redirect is the client's redirect URI an errorRedirect goes to.
	redirect string
	// state is the state an errorRedirect must carry back ("" when the request had none).
	state string
	// issuer is the iss an errorRedirect must carry (RFC 9207).
	issuer string
	// challenge is a substring the WWW-Authenticate header must contain.
	challenge string
	// description is a substring the error description must contain, when the code alone
	// does not tell which check refused the request.
	description string
	check       func(t *testing.T, resp *http.Response, body string)
}

func jsonErr(status int, code string) outcome {
	return outcome{kind: jsonError, status: status, code: code}
}

func errPage(status int, code string) outcome {
	return outcome{kind: errorPage, status: status, code: code}
}

func redirectErr(redirectURI, code, state string) outcome {
	return outcome{kind: errorRedirect, status: http.StatusFound, code: code, redirect: redirectURI, state: state}
}

func (o outcome) withStatus(status int) outcome    { o.status = status; return o }
func (o outcome) withChallenge(c string) outcome   { o.challenge = c; return o }
func (o outcome) withDescription(d string) outcome { o.description = d; return o }
func (o outcome) withIssuer(iss string) outcome    { o.issuer = iss; return o }

func notAllowed() outcome {
	return outcome{kind: methodNotAllowed, status: http.StatusMethodNotAllowed}
}

func succeeds(check func(*testing.T, *http.Response, string)) outcome {
	return outcome{kind: success, status: http.StatusOK, check: check}
}

// badFixture holds the clients, user and HTTP clients that the bad requests use.
type badFixture struct {
	e    *testEnv
	user *store.User

	web, other, postClient, m2m, pub, legacy, noCode *store.Client
	webSecret, otherSecret, postSecret, m2mSecret    string
	legacySecret                                     string

	// plain sends one request and never follows redirects or keeps cookies.
	plain *http.Client
	// session is alice's logged-in user agent, used to obtain codes.
	session *http.Client
}

// generousLimits lifts the rate limits: these tests send many requests from one address,
// and what they check is the protocol's answer, not the limiter's.
func generousLimits(c *server.Config) {
	c.LoginPerIPPerMinute = 1e6
	c.TokenPerIPPerSecond = 1e6
	c.TokenPerClientPerSecond = 1e6
	c.AdminPerIPPerSecond = 1e6
}

func newBadFixture(t *testing.T) *badFixture {
	e := newTestEnv(t, generousLimits)
	f := &badFixture{e: e, user: e.user("alice", alicePassword)}
	f.web, f.webSecret = e.webClient(func(c *store.Client) {
		c.Name, c.FirstParty = "web", true
		c.Scopes = []string{"openid", "profile", "email", "orders:read"}
	})
	f.other, f.otherSecret = e.webClient(func(c *store.Client) {
		c.Name, c.FirstParty = "other", true
		c.RedirectURIs = []string{"https://other.example.com/cb", "https://other.example.com/cb2"}
		c.PostLogoutRedirectURIs = []string{"https://other.example.com/bye"}
	})
	f.postClient, f.postSecret = e.client(store.Client{
		Name: "post", Type: store.Confidential, TokenEndpointAuthMethod: "client_secret_post",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"},
	})
	f.m2m, f.m2mSecret = e.client(store.Client{
		Name: "m2m", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"orders:read", "openid"},
	})
	f.pub, _ = e.client(store.Client{
		Name: "spa", Type: store.Public, FirstParty: true,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"http://127.0.0.1:9/callback"},
		Scopes:       []string{"openid", "orders:read"},
	})
	f.legacy, f.legacySecret = e.webClient(func(c *store.Client) {
		c.Name = "legacy"
		c.GrantTypes = append(c.GrantTypes, "password")
	})
	// Registered redirect URIs, but not allowed to use the authorization_code grant.
	f.noCode, _ = e.client(store.Client{
		Name: "no-code", Type: store.Confidential, GrantTypes: []string{"client_credentials"},
		RedirectURIs: []string{"https://nocode.example.com/cb"}, Scopes: []string{"orders:read"},
	})
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.plain = &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect}
	jar, _ := cookiejar.New(nil)
	f.session = &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect, Jar: jar}
	return f
}

// reqOpt adjusts a request before it is sent.
type reqOpt func(*http.Request)

// basicAuth authenticates as RFC 6749 section 2.3.1 says: each part form-urlencoded, then
// HTTP Basic.
func basicAuth(id, secret string) reqOpt {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

func header(name, value string) reqOpt {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func contentType(ct string) reqOpt { return header("Content-Type", ct) }

func bearer(token string) reqOpt { return header("Authorization", "Bearer "+token) }

// request builds a request; a body is sent as a form unless an option says otherwise.
func (f *badFixture) request(t *testing.T, method, path, body string, opts ...reqOpt) *http.Request {
	t.Helper()
	var r *http.Request
	var err error
	if body == "" {
		r, err = http.NewRequestWithContext(f.e.ctx, method, f.e.URL+path, nil)
	} else {
		r, err = http.NewRequestWithContext(f.e.ctx, method, f.e.URL+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// post returns a request builder for a form POST.
func (f *badFixture) post(path string, form url.Values, opts ...reqOpt) func(*testing.T) *http.Request {
	return f.postRaw(path, form.Encode(), opts...)
}

// postRaw posts body as it is (repeated parameters, JSON, malformed encodings).
func (f *badFixture) postRaw(path, body string, opts ...reqOpt) func(*testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return f.request(t, http.MethodPost, path, body, opts...) }
}

// call builds a request without a body; rawQuery is appended as it is.
func (f *badFixture) call(method, path, rawQuery string, opts ...reqOpt) func(*testing.T) *http.Request {
	if rawQuery != "" {
		path += "?" + rawQuery
	}
	return func(t *testing.T) *http.Request { return f.request(t, method, path, "", opts...) }
}

func (f *badFixture) send(t *testing.T, c *http.Client, r *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
	}
	return resp, readBody(t, resp)
}

// authzParams is a valid authorization request for c; mutate spoils it.
func authzParams(c *store.Client, challenge string, mutate ...func(url.Values)) url.Values {
	v := url.Values{
		"client_id":             {c.ID},
		"redirect_uri":          {c.RedirectURIs[0]},
		"response_type":         {"code"},
		"scope":                 {"openid"},
		"state":                 {"st-1"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	for _, m := range mutate {
		m(v)
	}
	return v
}

func set(name, value string) func(url.Values) { return func(v url.Values) { v.Set(name, value) } }
func del(name string) func(url.Values)        { return func(v url.Values) { v.Del(name) } }

// code runs an authorization for client as alice (logging in on the first call) and
// returns the authorization code the client receives.
func (f *badFixture) code(t *testing.T, client *store.Client, verifier string, mutate ...func(url.Values)) string {
	t.Helper()
	q := authzParams(client, oauth2.S256ChallengeFromVerifier(verifier), mutate...)
	resp, page := f.send(t, f.session, f.request(t, http.MethodGet, pathAuthorize+"?"+q.Encode(), ""))
	if resp.StatusCode == http.StatusOK {
		if !strings.Contains(page, `name="password"`) {
			t.Fatalf("expected the login page, got:\n%s", page)
		}
		form := formOf(page)
		form.Set("username", "alice")
		form.Set("password", alicePassword)
		form.Set("action", "login")
		resp, _ = f.send(t, f.session, f.request(t, http.MethodPost, pathAuthorize, form.Encode()))
	}
	params := redirectParams(t, resp, client.RedirectURIs[0])
	if params.Get("code") == "" {
		t.Fatalf("authorization returned no code: %v", params)
	}
	return params.Get("code")
}

// tokens redeems a fresh code of client and returns the token response.
func (f *badFixture) tokens(t *testing.T, client *store.Client, secret string, scope string) tokenResult {
	t.Helper()
	v := oauth2.GenerateVerifier()
	code := f.code(t, client, v, set("scope", scope))
	resp, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken,
		codeForm(code, client.RedirectURIs[0], v).Encode(), basicAuth(client.ID, secret)))
	var res tokenResult
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || res.AccessToken == "" {
		t.Fatalf("code exchange: %d %s", resp.StatusCode, body)
	}
	return res
}

func codeForm(code, redirectURI, verifier string) url.Values {
	return url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	}
}

// assert checks that the response is exactly the outcome, and never a server error.
func (o outcome) assert(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode >= 500 {
		t.Fatalf("server error %d: %s", resp.StatusCode, body)
	}
	if resp.StatusCode != o.status {
		t.Fatalf("status %d, want %d; body: %s", resp.StatusCode, o.status, body)
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode == http.StatusUnauthorized && challenge == "" {
		t.Errorf("401 without WWW-Authenticate (RFC 9110 section 11.6.1)")
	}
	if o.challenge != "" && !strings.Contains(challenge, o.challenge) {
		t.Errorf("WWW-Authenticate %q, want it to contain %q", challenge, o.challenge)
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch o.kind {
	case jsonError:
		if mediaType != "application/json" {
			t.Errorf("Content-Type %q, want application/json", resp.Header.Get("Content-Type"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store (RFC 6749 section 5.1)", cc)
		}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("error body is not JSON: %v: %s", err, body)
		}
		if e.Error != o.code {
			t.Errorf("error %q (%s), want %q", e.Error, e.Description, o.code)
		}
		if e.Description == "" {
			t.Error("no error_description")
		}
		if !strings.Contains(e.Description, o.description) {
			t.Errorf("error_description %q, want it to contain %q", e.Description, o.description)
		}
	case errorPage:
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("error page redirects to %q; a bad client or redirect URI must never be redirected to", loc)
		}
		if mediaType != "text/html" {
			t.Errorf("Content-Type %q, want an HTML error page", resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(body, "Error code: "+o.code) {
			t.Errorf("error page does not show error code %q:\n%s", o.code, body)
		}
		if !strings.Contains(body, o.description) {
			t.Errorf("error page does not say %q:\n%s", o.description, body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("error page without CSP or X-Frame-Options: %v", resp.Header)
		}
	case errorRedirect:
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != o.redirect {
			t.Fatalf("redirect to %q, want %q", resp.Header.Get("Location"), o.redirect)
		}
		q := loc.Query()
		for _, k := range []string{"error", "iss"} {
			if len(q[k]) != 1 {
				t.Errorf("redirect query %v: want exactly one %s", q, k)
			}
		}
		if q.Get("error") != o.code || q.Get("state") != o.state || q.Has("state") != (o.state != "") {
			t.Errorf("redirect error %q state %q, want %q and %q", q.Get("error"), q.Get("state"), o.code, o.state)
		}
		if q.Get("iss") != o.issuer {
			t.Errorf("redirect iss %q, want the issuer %q (RFC 9207)", q.Get("iss"), o.issuer)
		}
		if q.Has("code") {
			t.Errorf("error redirect carries a code: %v", q)
		}
		if !strings.Contains(q.Get("error_description"), o.description) {
			t.Errorf("error_description %q, want it to contain %q", q.Get("error_description"), o.description)
		}
	case methodNotAllowed:
		if resp.Header.Get("Allow") == "" {
			t.Error("405 without an Allow header")
		}
	}
	if o.check != nil {
		o.check(t, resp, body)
	}
}

type badRequest struct {
	name string
	req  func(t *testing.T) *http.Request
	want outcome
}

// TestBadRequests sends malformed, unauthenticated and replayed requests to every endpoint
// and checks each answer against the RFC that governs it: RFC 6749 section 4.1.2.1 and 5.2,
// RFC 6750 section 3.1, RFC 7009, RFC 7662, RFC 7636 and RFC 9207. None may be a 5xx.
func TestBadRequests(t *testing.T) {
	f := newBadFixture(t)
	e := f.e
	web, other, pub := f.web, f.other, f.pub
	cli := e.cliClient()
	devicePoll := func(code string) url.Values {
		return url.Values{"grant_type": {deviceGrant}, "device_code": {code}, "client_id": {cli.ID}}
	}
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	webAuth := basicAuth(web.ID, f.webSecret)
	m2mAuth := basicAuth(f.m2m.ID, f.m2mSecret)
	ccForm := url.Values{"grant_type": {"client_credentials"}}
	huge := strings.Repeat("a", 70<<10)
	jsonBody := `{"grant_type":"client_credentials","client_id":"` + f.m2m.ID + `"}`

	// The issuer is only known once the server runs; redirect outcomes compare against it.
	issuer := e.URL
	authorizeGet := func(q url.Values, extra ...string) func(*testing.T) *http.Request {
		raw := q.Encode()
		for _, x := range extra {
			raw += "&" + x
		}
		return f.call(http.MethodGet, pathAuthorize, raw)
	}
	webAuthz := func(mutate ...func(url.Values)) url.Values { return authzParams(web, challenge, mutate...) }
	webRedirectErr := func(code string) outcome { return redirectErr(webRedirect, code, "st-1") }

	// A user access token without openid, for userinfo.
	m2mToken := func(t *testing.T, scope string) string {
		t.Helper()
		resp, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken,
			url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode(), m2mAuth))
		var res tokenResult
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("client_credentials: %d %s", resp.StatusCode, body)
		}
		return res.AccessToken
	}
	// A CSRF cookie of the right form that the request's csrf_token does not match.
	csrfCookie := header("Cookie", "authly_csrf="+strings.Repeat("c", 43))

	cases := []badRequest{
		// ---- Token endpoint: transport and form (RFC 6749 section 3.2) ----
		{name: "token/GET", req: f.call(http.MethodGet, pathToken, "grant_type=client_credentials", m2mAuth), want: notAllowed()},
		{name: "token/PUT", req: f.call(http.MethodPut, pathToken, "", m2mAuth), want: notAllowed()},
		{name: "token/no grant_type", req: f.post(pathToken, url.Values{"scope": {"orders:read"}}, m2mAuth),
			want: jsonErr(400, "invalid_request").withDescription("grant_type")},
		{name: "token/grant_type only in the query string", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken+"?grant_type=client_credentials", "scope=orders:read", m2mAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("grant_type")},
		{name: "token/grant_type twice", req: f.postRaw(pathToken, "grant_type=client_credentials&grant_type=client_credentials", m2mAuth),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "token/grant_type twice with different values", req: f.postRaw(pathToken, "grant_type=client_credentials&grant_type=password", m2mAuth),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "token/scope twice", req: f.postRaw(pathToken, "grant_type=client_credentials&scope=orders:read&scope=openid", m2mAuth),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "token/unknown grant_type", req: f.post(pathToken, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:saml2-bearer"}}, m2mAuth),
			want: jsonErr(400, "unsupported_grant_type")},
		{name: "token/implicit grant_type", req: f.post(pathToken, url.Values{"grant_type": {"implicit"}}, m2mAuth),
			want: jsonErr(400, "unsupported_grant_type")},
		{name: "token/JSON body", req: f.postRaw(pathToken, jsonBody, m2mAuth, contentType("application/json")),
			want: jsonErr(400, "invalid_request").withDescription("x-www-form-urlencoded")},
		{name: "token/form body labelled JSON", req: f.post(pathToken, ccForm, m2mAuth, contentType("application/json")),
			want: jsonErr(400, "invalid_request").withDescription("x-www-form-urlencoded")},
		{name: "token/form body labelled text/plain", req: f.post(pathToken, ccForm, m2mAuth, contentType("text/plain")),
			want: jsonErr(400, "invalid_request")},
		{name: "token/multipart form", req: f.postRaw(pathToken,
			"--XX\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--XX--\r\n",
			m2mAuth, contentType("multipart/form-data; boundary=XX")),
			want: jsonErr(400, "invalid_request")},
		{name: "token/no content type", req: f.post(pathToken, ccForm, m2mAuth, header("Content-Type", "")),
			want: jsonErr(400, "invalid_request")},
		{name: "token/malformed content type", req: f.post(pathToken, ccForm, m2mAuth, contentType("application/x-www-form-urlencoded; ;;=")),
			want: jsonErr(400, "invalid_request")},
		{name: "token/malformed percent-encoding", req: f.postRaw(pathToken, "grant_type=client%zzcredentials", m2mAuth),
			want: jsonErr(400, "invalid_request")},
		{name: "token/body over 64 KiB", req: f.postRaw(pathToken, "grant_type=client_credentials&pad="+huge, m2mAuth),
			want: jsonErr(413, "invalid_request")},

		// ---- Token endpoint: client authentication (RFC 6749 section 2.3, 3.2.1) ----
		{name: "client/no authentication", req: f.post(pathToken, ccForm),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/unknown client with Basic", req: f.post(pathToken, ccForm, basicAuth("no-such-client", "secret")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/unknown client in the body", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {"no-such-client"}, "client_secret": {"x"}}),
			want: jsonErr(401, "invalid_client")},
		{name: "client/wrong secret with Basic", req: f.post(pathToken, ccForm, basicAuth(f.m2m.ID, f.m2mSecret+"x")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/empty secret with Basic", req: f.post(pathToken, ccForm, basicAuth(f.m2m.ID, "")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/other client's secret", req: f.post(pathToken, ccForm, basicAuth(f.m2m.ID, f.postSecret)),
			want: jsonErr(401, "invalid_client")},
		{name: "client/wrong secret in the body", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {f.postClient.ID}, "client_secret": {"wrong"}}),
			want: jsonErr(401, "invalid_client")},
		{name: "client/secret in both Basic and body", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_secret": {f.m2mSecret}}, m2mAuth),
			want: jsonErr(400, "invalid_request").withDescription("one client authentication method")},
		{name: "client/client_id in the body differs from Basic", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {f.postClient.ID}}, m2mAuth),
			want: jsonErr(400, "invalid_request")},
		{name: "client/client_id twice", req: f.postRaw(pathToken, "grant_type=client_credentials&client_id="+f.postClient.ID+"&client_id="+f.postClient.ID+"&client_secret="+url.QueryEscape(f.postSecret)),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "client/client_secret twice", req: f.postRaw(pathToken, "grant_type=client_credentials&client_id="+f.postClient.ID+"&client_secret="+url.QueryEscape(f.postSecret)+"&client_secret="+url.QueryEscape(f.postSecret)),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "client/malformed Basic encoding", req: f.post(pathToken, ccForm, func(r *http.Request) { r.SetBasicAuth("%zz", "secret") }),
			want: jsonErr(401, "invalid_client").withChallenge("Basic").withDescription("form-urlencoded")},
		{name: "client/Basic header not base64", req: f.post(pathToken, ccForm, header("Authorization", "Basic !!!")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/Authorization header not Basic", req: f.post(pathToken, ccForm, bearer("abc")),
			want: jsonErr(401, "invalid_client")},
		{name: "client/confidential client without secret", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {f.m2m.ID}}),
			want: jsonErr(401, "invalid_client").withDescription("client_secret_basic")},
		{name: "client/public client presenting a secret in the body", req: f.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {pub.ID}, "client_secret": {"guess"}}),
			want: jsonErr(401, "invalid_client").withDescription("none")},
		{name: "client/public client presenting Basic", req: f.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, basicAuth(pub.ID, "guess")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "client/basic client using client_secret_post", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {f.m2m.ID}, "client_secret": {f.m2mSecret}}),
			want: jsonErr(401, "invalid_client").withDescription("client_secret_basic")},
		{name: "client/post client using Basic", req: f.post(pathToken, ccForm, basicAuth(f.postClient.ID, f.postSecret)),
			want: jsonErr(401, "invalid_client").withDescription("client_secret_post")},

		// ---- Token endpoint: grants the client may not use ----
		{name: "grant/client_credentials for a code client", req: f.post(pathToken, ccForm, webAuth),
			want: jsonErr(400, "unauthorized_client")},
		{name: "grant/password not enabled", req: f.post(pathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, webAuth),
			want: jsonErr(400, "unauthorized_client")},
		{name: "grant/authorization_code for a client_credentials client", req: f.post(pathToken, codeForm("x", "https://nocode.example.com/cb", verifier), m2mAuth),
			want: jsonErr(400, "unauthorized_client")},
		{name: "grant/client_credentials scope not allowed", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:write"}}, m2mAuth),
			want: jsonErr(400, "invalid_scope")},
		{name: "grant/client_credentials with openid", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, m2mAuth),
			want: jsonErr(400, "invalid_scope")},
		{name: "grant/client_credentials with an empty scope", req: f.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {" "}}, m2mAuth),
			want: jsonErr(400, "invalid_scope")},
		{name: "grant/password without password", req: f.post(pathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}}, basicAuth(f.legacy.ID, f.legacySecret)),
			want: jsonErr(400, "invalid_request").withDescription("password")},
		{name: "grant/password with a wrong password", req: f.post(pathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"not her password"}}, basicAuth(f.legacy.ID, f.legacySecret)),
			want: jsonErr(400, "invalid_grant")},

		// ---- authorization_code grant (RFC 6749 section 4.1.3, RFC 7636 section 4.5) ----
		{name: "code/missing code", req: f.post(pathToken, url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, webAuth),
			want: jsonErr(400, "invalid_request").withDescription("code")},
		{name: "code/missing code_verifier", req: func(t *testing.T) *http.Request {
			form := codeForm(f.code(t, web, verifier), webRedirect, "")
			form.Del("code_verifier")
			return f.request(t, http.MethodPost, pathToken, form.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("code_verifier")},
		{name: "code/code twice", req: func(t *testing.T) *http.Request {
			code := f.code(t, web, verifier)
			return f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode()+"&code="+code, webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "code/verifier too short", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, verifier[:42]).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("code_verifier")},
		{name: "code/verifier too long", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, strings.Repeat("a", 129)).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("code_verifier")},
		{name: "code/verifier with characters outside the unreserved set", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, strings.Repeat("a", 42)+"/=").Encode(), webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("code_verifier")},
		{name: "code/verifier with a space", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, strings.Repeat("a", 40)+" bc").Encode(), webAuth)
		}, want: jsonErr(400, "invalid_request").withDescription("code_verifier")},
		{name: "code/unknown code", req: f.post(pathToken, codeForm("never-issued", webRedirect, verifier), webAuth),
			want: jsonErr(400, "invalid_grant").withDescription("unknown")},
		{name: "code/wrong verifier", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, oauth2.GenerateVerifier()).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/challenge sent as the verifier", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect, challenge).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/missing redirect_uri that the authorization request had", req: func(t *testing.T) *http.Request {
			form := codeForm(f.code(t, web, verifier), webRedirect, verifier)
			form.Del("redirect_uri")
			return f.request(t, http.MethodPost, pathToken, form.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant").withDescription("redirect_uri")},
		{name: "code/wrong redirect_uri", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, codeForm(f.code(t, web, verifier), webRedirect+"/x", verifier).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/redirect_uri of another registered URI", req: func(t *testing.T) *http.Request {
			code := f.code(t, other, verifier)
			return f.request(t, http.MethodPost, pathToken, codeForm(code, other.RedirectURIs[1], verifier).Encode(), basicAuth(other.ID, f.otherSecret))
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/foreign code", req: func(t *testing.T) *http.Request {
			code := f.code(t, web, verifier)
			return f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode(), basicAuth(other.ID, f.otherSecret))
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/foreign code at its own redirect_uri", req: func(t *testing.T) *http.Request {
			code := f.code(t, web, verifier)
			return f.request(t, http.MethodPost, pathToken, codeForm(code, other.RedirectURIs[0], verifier).Encode(), basicAuth(other.ID, f.otherSecret))
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/reused code", req: func(t *testing.T) *http.Request {
			code := f.code(t, web, verifier)
			first, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode(), webAuth))
			if first.StatusCode != http.StatusOK {
				t.Fatalf("first redemption: %d %s", first.StatusCode, body)
			}
			return f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant").withDescription("already used")},
		{name: "code/retried after a wrong verifier", req: func(t *testing.T) *http.Request {
			code := f.code(t, web, verifier)
			bad, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, oauth2.GenerateVerifier()).Encode(), webAuth))
			if bad.StatusCode != http.StatusBadRequest {
				t.Fatalf("wrong verifier: %d %s", bad.StatusCode, body)
			}
			// The failed attempt burned the code: the right verifier is too late.
			return f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant")},
		{name: "code/expired code", req: func(t *testing.T) *http.Request {
			code := randomString(t) + randomString(t)
			now := time.Now()
			err := e.store.CreateAuthorizationCode(e.ctx, &store.AuthorizationCode{
				Hash: credentials.HashToken(code), ClientID: web.ID, UserID: f.user.ID,
				RedirectURI: webRedirect, Scopes: []string{"openid"}, CodeChallenge: challenge,
				AuthTime: now.Add(-10 * time.Minute), ExpiresAt: now.Add(-time.Minute), CreatedAt: now.Add(-6 * time.Minute),
			})
			if err != nil {
				t.Fatal(err)
			}
			return f.request(t, http.MethodPost, pathToken, codeForm(code, webRedirect, verifier).Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant").withDescription("expired")},
		{name: "code/public client with another client's code", req: func(t *testing.T) *http.Request {
			form := codeForm(f.code(t, web, verifier), pub.RedirectURIs[0], verifier)
			form.Set("client_id", pub.ID)
			return f.request(t, http.MethodPost, pathToken, form.Encode())
		}, want: jsonErr(400, "invalid_grant")},

		// ---- refresh_token grant (RFC 6749 section 6, OAuth 2.1 section 4.3) ----
		{name: "refresh/missing refresh_token", req: f.post(pathToken, url.Values{"grant_type": {"refresh_token"}}, webAuth),
			want: jsonErr(400, "invalid_request").withDescription("refresh_token")},
		{name: "refresh/unknown refresh token", req: f.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"never-issued"}}, webAuth),
			want: jsonErr(400, "invalid_grant")},
		{name: "refresh/access token as refresh token", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			return f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.AccessToken}}.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant")},
		{name: "refresh/reused refresh token", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			first, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken, form.Encode(), webAuth))
			if first.StatusCode != http.StatusOK {
				t.Fatalf("first refresh: %d %s", first.StatusCode, body)
			}
			return f.request(t, http.MethodPost, pathToken, form.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant").withDescription("already used")},
		{name: "refresh/foreign refresh token", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			return f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode(), basicAuth(other.ID, f.otherSecret))
		}, want: jsonErr(400, "invalid_grant")},
		{name: "refresh/expired refresh token", req: func(t *testing.T) *http.Request {
			value := randomString(t) + randomString(t)
			now := time.Now()
			err := e.store.CreateRefreshToken(e.ctx, &store.RefreshToken{
				Hash: credentials.HashToken(value), FamilyID: randomString(t), ClientID: web.ID, UserID: f.user.ID,
				Scopes: []string{"openid"}, AuthTime: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour), CreatedAt: now.Add(-24 * time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			return f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {value}}.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_grant").withDescription("expired")},
		{name: "refresh/widening the scope", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			return f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid orders:read"}}.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_scope")},
		{name: "refresh/empty scope", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			return f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {""}}.Encode(), webAuth)
		}, want: jsonErr(400, "invalid_scope")},

		// ---- Authorization endpoint: untrusted client or redirect URI -> error page ----
		{name: "authorize/no client_id", req: authorizeGet(webAuthz(del("client_id"))), want: errPage(400, "invalid_request")},
		{name: "authorize/unknown client", req: authorizeGet(webAuthz(set("client_id", "no-such-client"))), want: errPage(400, "invalid_client")},
		{name: "authorize/unregistered redirect_uri", req: authorizeGet(webAuthz(set("redirect_uri", "https://evil.example.net/callback"))),
			want: errPage(400, "invalid_request").withDescription("redirect_uri")},
		{name: "authorize/redirect_uri with a path suffix", req: authorizeGet(webAuthz(set("redirect_uri", webRedirect+"/evil"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri prefix", req: authorizeGet(webAuthz(set("redirect_uri", "https://app.example.com/call"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri with a trailing slash", req: authorizeGet(webAuthz(set("redirect_uri", webRedirect+"/"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri with a query", req: authorizeGet(webAuthz(set("redirect_uri", webRedirect+"?next=https://evil.example.net"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri with a fragment", req: authorizeGet(webAuthz(set("redirect_uri", webRedirect+"#x"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri on a host suffix", req: authorizeGet(webAuthz(set("redirect_uri", "https://app.example.com.evil.example.net/callback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri with userinfo", req: authorizeGet(webAuthz(set("redirect_uri", "https://app.example.com@evil.example.net/callback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri with an explicit port", req: authorizeGet(webAuthz(set("redirect_uri", "https://app.example.com:443/callback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri in upper case", req: authorizeGet(webAuthz(set("redirect_uri", "https://APP.example.com/callback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri over http", req: authorizeGet(webAuthz(set("redirect_uri", "http://app.example.com/callback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri percent-encoded differently", req: authorizeGet(webAuthz(set("redirect_uri", "https://app.example.com/%63allback"))), want: errPage(400, "invalid_request")},
		{name: "authorize/redirect_uri of another client", req: authorizeGet(webAuthz(set("redirect_uri", other.RedirectURIs[0]))), want: errPage(400, "invalid_request")},
		{name: "authorize/no redirect_uri with several registered", req: authorizeGet(authzParams(other, challenge, del("redirect_uri"))),
			want: errPage(400, "invalid_request").withDescription("redirect_uri is required")},
		{name: "authorize/client_id twice", req: authorizeGet(webAuthz(), "client_id="+other.ID), want: errPage(400, "invalid_request").withDescription("repeated")},
		{name: "authorize/redirect_uri twice", req: authorizeGet(webAuthz(), "redirect_uri="+url.QueryEscape(webRedirect)), want: errPage(400, "invalid_request").withDescription("repeated")},
		{name: "authorize/state twice", req: authorizeGet(webAuthz(), "state=again"), want: errPage(400, "invalid_request").withDescription("repeated")},
		{name: "authorize/malformed query", req: f.call(http.MethodGet, pathAuthorize, "client_id="+web.ID+"&state=%zz"), want: errPage(400, "invalid_request")},

		// ---- Authorization endpoint: errors the client is told about (RFC 6749 4.1.2.1) ----
		{name: "authorize/response_type=token", req: authorizeGet(webAuthz(set("response_type", "token"))), want: webRedirectErr("unsupported_response_type")},
		{name: "authorize/response_type=code id_token", req: authorizeGet(webAuthz(set("response_type", "code id_token"))), want: webRedirectErr("unsupported_response_type")},
		{name: "authorize/no response_type", req: authorizeGet(webAuthz(del("response_type"))), want: webRedirectErr("invalid_request")},
		{name: "authorize/response_type twice", req: authorizeGet(webAuthz(), "response_type=code"), want: errPage(400, "invalid_request")},
		{name: "authorize/response_mode=fragment", req: authorizeGet(webAuthz(set("response_mode", "fragment"))), want: webRedirectErr("invalid_request")},
		{name: "authorize/missing code_challenge", req: authorizeGet(webAuthz(del("code_challenge"), del("code_challenge_method"))),
			want: webRedirectErr("invalid_request").withDescription("code_challenge")},
		{name: "authorize/plain PKCE", req: authorizeGet(webAuthz(set("code_challenge", verifier), set("code_challenge_method", "plain"))),
			want: webRedirectErr("invalid_request").withDescription("S256")},
		{name: "authorize/PKCE without code_challenge_method (plain by default)", req: authorizeGet(webAuthz(del("code_challenge_method"))),
			want: webRedirectErr("invalid_request").withDescription("S256")},
		{name: "authorize/code_challenge_method in lower case", req: authorizeGet(webAuthz(set("code_challenge_method", "s256"))),
			want: webRedirectErr("invalid_request").withDescription("S256")},
		{name: "authorize/code_challenge too short", req: authorizeGet(webAuthz(set("code_challenge", challenge[:42]))), want: webRedirectErr("invalid_request")},
		{name: "authorize/code_challenge not base64url", req: authorizeGet(webAuthz(set("code_challenge", strings.Repeat("+", 43)))), want: webRedirectErr("invalid_request")},
		{name: "authorize/scope not allowed", req: authorizeGet(webAuthz(set("scope", "openid orders:write"))), want: webRedirectErr("invalid_scope")},
		{name: "authorize/scope unknown", req: authorizeGet(webAuthz(set("scope", "openid admin:everything"))), want: webRedirectErr("invalid_scope")},
		{name: "authorize/empty scope", req: authorizeGet(webAuthz(set("scope", ""))), want: webRedirectErr("invalid_scope")},
		{name: "authorize/prompt=none with login", req: authorizeGet(webAuthz(set("prompt", "none login"))),
			want: webRedirectErr("invalid_request").withDescription("prompt=none")},
		{name: "authorize/unknown prompt", req: authorizeGet(webAuthz(set("prompt", "create"))), want: webRedirectErr("invalid_request")},
		{name: "authorize/negative max_age", req: authorizeGet(webAuthz(set("max_age", "-1"))), want: webRedirectErr("invalid_request")},
		{name: "authorize/max_age not a number", req: authorizeGet(webAuthz(set("max_age", "1h"))), want: webRedirectErr("invalid_request")},
		{name: "authorize/request object", req: authorizeGet(webAuthz(set("request", "eyJhbGciOiJub25lIn0.e30."))), want: webRedirectErr("request_not_supported")},
		{name: "authorize/client without the authorization_code grant", req: authorizeGet(authzParams(f.noCode, challenge, set("scope", "orders:read"))),
			want: redirectErr("https://nocode.example.com/cb", "unauthorized_client", "st-1")},
		{name: "authorize/prompt=none without a session", req: authorizeGet(webAuthz(set("prompt", "none"))), want: webRedirectErr("login_required")},
		{name: "authorize/error without state", req: authorizeGet(webAuthz(del("state"), set("response_type", "token"))),
			want: redirectErr(webRedirect, "unsupported_response_type", "")},
		{name: "authorize/PUT", req: f.call(http.MethodPut, pathAuthorize, webAuthz().Encode()), want: notAllowed()},
		{name: "authorize/DELETE", req: f.call(http.MethodDelete, pathAuthorize, ""), want: notAllowed()},

		// ---- Authorization endpoint, POST (the login and consent forms) ----
		{name: "authorize POST/JSON body", req: f.postRaw(pathAuthorize, `{"client_id":"`+web.ID+`"}`, contentType("application/json")),
			want: errPage(400, "invalid_request")},
		{name: "authorize POST/body over 64 KiB", req: f.post(pathAuthorize, webAuthz(set("nonce", huge))), want: errPage(413, "invalid_request")},
		{name: "authorize POST/unknown client", req: f.post(pathAuthorize, webAuthz(set("client_id", "no-such-client"))), want: errPage(400, "invalid_client")},
		{name: "authorize POST/unregistered redirect_uri", req: f.post(pathAuthorize, webAuthz(set("redirect_uri", "https://evil.example.net/cb"))), want: errPage(400, "invalid_request")},
		{name: "authorize POST/redirect_uri twice", req: f.postRaw(pathAuthorize, webAuthz().Encode()+"&redirect_uri="+url.QueryEscape(webRedirect)), want: errPage(400, "invalid_request")},
		{name: "authorize POST/plain PKCE", req: f.post(pathAuthorize, webAuthz(set("code_challenge", verifier), set("code_challenge_method", "plain"))),
			want: webRedirectErr("invalid_request").withStatus(http.StatusSeeOther)},
		{name: "authorize POST/response_type=token", req: f.post(pathAuthorize, webAuthz(set("response_type", "token"))),
			want: webRedirectErr("unsupported_response_type").withStatus(http.StatusSeeOther)},
		{name: "authorize POST/login without CSRF token", req: f.post(pathAuthorize, webAuthz(set("action", "login"), set("username", "alice"), set("password", alicePassword))),
			want: errPage(403, "access_denied")},
		{name: "authorize POST/login with a CSRF token not matching the cookie", req: f.post(pathAuthorize,
			webAuthz(set("action", "login"), set("username", "alice"), set("password", alicePassword), set("csrf_token", strings.Repeat("d", 43))), csrfCookie),
			want: errPage(403, "access_denied")},
		{name: "authorize POST/consent without CSRF token", req: f.post(pathAuthorize, webAuthz(set("action", "consent"), set("consent", "approve"))),
			want: errPage(403, "access_denied")},

		// ---- Device authorization grant (RFC 8628) ----
		{name: "device_authorization/GET", req: f.call(http.MethodGet, pathDeviceAuth, "client_id="+cli.ID), want: notAllowed()},
		{name: "device_authorization/JSON body", req: f.postRaw(pathDeviceAuth, `{"client_id":"`+cli.ID+`"}`, contentType("application/json")),
			want: jsonErr(400, "invalid_request").withDescription("x-www-form-urlencoded")},
		{name: "device_authorization/no client", req: f.post(pathDeviceAuth, url.Values{"scope": {"openid"}}),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "device_authorization/unknown client", req: f.post(pathDeviceAuth, url.Values{"client_id": {"no-such-client"}}),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "device_authorization/wrong secret", req: f.post(pathDeviceAuth, url.Values{"scope": {"openid"}}, basicAuth(web.ID, "not-the-secret")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "device_authorization/client without the grant", req: f.post(pathDeviceAuth, url.Values{"scope": {"openid"}}, webAuth),
			want: jsonErr(400, "unauthorized_client")},
		{name: "device_authorization/scope not allowed", req: f.post(pathDeviceAuth, url.Values{"client_id": {cli.ID}, "scope": {"orders:write"}}),
			want: jsonErr(400, "invalid_scope")},
		{name: "device_authorization/client_id twice", req: f.postRaw(pathDeviceAuth, "client_id="+cli.ID+"&client_id="+cli.ID),
			want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "device_code/missing device_code", req: f.post(pathToken, url.Values{"grant_type": {deviceGrant}, "client_id": {cli.ID}}),
			want: jsonErr(400, "invalid_request").withDescription("device_code")},
		{name: "device_code/unknown device_code", req: f.post(pathToken, devicePoll("no-such-device-code")),
			want: jsonErr(400, "invalid_grant")},
		{name: "device_code/an authorization code as device_code", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodPost, pathToken, devicePoll(f.code(t, web, verifier)).Encode())
		}, want: jsonErr(400, "invalid_grant")},
		{name: "device_code/client without the grant", req: f.post(pathToken, url.Values{"grant_type": {deviceGrant}, "device_code": {"x"}}, webAuth),
			want: jsonErr(400, "unauthorized_client")},
		{name: "device page/PUT", req: f.call(http.MethodPut, pathDevice, ""), want: notAllowed()},
		{name: "device page/JSON body", req: f.postRaw(pathDevice, `{"user_code":"WDJB-MJHT"}`, contentType("application/json")),
			want: errPage(400, "invalid_request")},
		{name: "device page/user_code twice", req: f.call(http.MethodGet, pathDevice, "user_code=WDJB-MJHT&user_code=BCDF-GHJK"),
			want: errPage(400, "invalid_request")},
		{name: "device page/unknown action", req: f.post(pathDevice, url.Values{"action": {"approve-all"}, "user_code": {"WDJB-MJHT"}}),
			want: errPage(400, "invalid_request")},
		{name: "device page/code without CSRF token", req: f.post(pathDevice, url.Values{"action": {"code"}, "user_code": {"WDJB-MJHT"}}),
			want: errPage(403, "access_denied")},
		{name: "device page/login with a CSRF token not matching the cookie", req: f.post(pathDevice,
			url.Values{"action": {"login"}, "user_code": {"WDJB-MJHT"}, "username": {"alice"}, "password": {alicePassword}, "csrf_token": {strings.Repeat("d", 43)}}, csrfCookie),
			want: errPage(403, "access_denied")},
		{name: "device page/consent without a session", req: f.post(pathDevice,
			url.Values{"action": {"consent"}, "consent": {"approve"}, "user_code": {"WDJB-MJHT"}, "csrf_token": {strings.Repeat("d", 43)}}),
			want: errPage(403, "access_denied")},
		{name: "device page/cross-site post", req: f.post(pathDevice, url.Values{"action": {"code"}, "user_code": {"WDJB-MJHT"}}, header("Sec-Fetch-Site", "cross-site")),
			want: errPage(403, "access_denied")},

		// ---- Revocation (RFC 7009) ----
		{name: "revoke/GET", req: f.call(http.MethodGet, pathRevoke, "token=x", webAuth), want: notAllowed()},
		{name: "revoke/no client authentication", req: f.post(pathRevoke, url.Values{"token": {"x"}}), want: jsonErr(401, "invalid_client")},
		{name: "revoke/wrong secret", req: f.post(pathRevoke, url.Values{"token": {"x"}}, basicAuth(web.ID, "wrong")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "revoke/secret in both Basic and body", req: f.post(pathRevoke, url.Values{"token": {"x"}, "client_secret": {f.webSecret}}, webAuth),
			want: jsonErr(400, "invalid_request")},
		{name: "revoke/missing token", req: f.post(pathRevoke, url.Values{"token_type_hint": {"refresh_token"}}, webAuth),
			want: jsonErr(400, "invalid_request").withDescription("token is required")},
		{name: "revoke/token twice", req: f.postRaw(pathRevoke, "token=a&token=b", webAuth), want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "revoke/JSON body", req: f.postRaw(pathRevoke, `{"token":"x"}`, webAuth, contentType("application/json")), want: jsonErr(400, "invalid_request")},
		{name: "revoke/body over 64 KiB", req: f.post(pathRevoke, url.Values{"token": {huge}}, webAuth), want: jsonErr(413, "invalid_request")},
		{name: "revoke/unknown token is 200", req: f.post(pathRevoke, url.Values{"token": {"never-issued"}}, webAuth), want: succeeds(nil)},
		{name: "revoke/garbage JWT is 200", req: f.post(pathRevoke, url.Values{"token": {"a.b.c"}, "token_type_hint": {"access_token"}}, webAuth), want: succeeds(nil)},
		{name: "revoke/unknown token_type_hint is ignored", req: f.post(pathRevoke, url.Values{"token": {"never-issued"}, "token_type_hint": {"id_token"}}, webAuth), want: succeeds(nil)},

		// ---- Introspection (RFC 7662) ----
		{name: "introspect/GET", req: f.call(http.MethodGet, pathIntrospect, "token=x", m2mAuth), want: notAllowed()},
		{name: "introspect/no client authentication", req: f.post(pathIntrospect, url.Values{"token": {"x"}}), want: jsonErr(401, "invalid_client")},
		{name: "introspect/wrong secret", req: f.post(pathIntrospect, url.Values{"token": {"x"}}, basicAuth(f.m2m.ID, "wrong")),
			want: jsonErr(401, "invalid_client").withChallenge("Basic")},
		{name: "introspect/public client", req: f.post(pathIntrospect, url.Values{"token": {"x"}, "client_id": {pub.ID}}), want: jsonErr(400, "unauthorized_client")},
		{name: "introspect/missing token", req: f.post(pathIntrospect, url.Values{"token_type_hint": {"access_token"}}, m2mAuth), want: jsonErr(400, "invalid_request").withDescription("token is required")},
		{name: "introspect/token twice", req: f.postRaw(pathIntrospect, "token=a&token=b", m2mAuth), want: jsonErr(400, "invalid_request").withDescription("repeated")},
		{name: "introspect/JSON body", req: f.postRaw(pathIntrospect, `{"token":"x"}`, m2mAuth, contentType("application/json")), want: jsonErr(400, "invalid_request")},
		{name: "introspect/body over 64 KiB", req: f.post(pathIntrospect, url.Values{"token": {huge}}, m2mAuth), want: jsonErr(413, "invalid_request")},
		{name: "introspect/garbage token is inactive", req: f.post(pathIntrospect, url.Values{"token": {"garbage"}}, m2mAuth), want: succeeds(assertInactive)},
		{name: "introspect/forged JWT is inactive", req: f.post(pathIntrospect,
			url.Values{"token": {"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhbGljZSJ9."}}, m2mAuth), want: succeeds(assertInactive)},
		{name: "introspect/another client's refresh token is inactive", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			return f.request(t, http.MethodPost, pathIntrospect, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode(), m2mAuth)
		}, want: succeeds(assertInactive)},
		{name: "introspect/used refresh token is inactive", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid")
			resp, body := f.send(t, f.plain, f.request(t, http.MethodPost, pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode(), webAuth))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("refresh: %d %s", resp.StatusCode, body)
			}
			return f.request(t, http.MethodPost, pathIntrospect, url.Values{"token": {tok.RefreshToken}}.Encode(), webAuth)
		}, want: succeeds(assertInactive)},

		// ---- UserInfo (OIDC Core 5.3, RFC 6750) ----
		{name: "userinfo/no token", req: f.call(http.MethodGet, pathUserinfo, ""),
			want: jsonErr(401, "invalid_token").withChallenge(`Bearer realm="authly"`).withDescription("access token is required")},
		{name: "userinfo/no token, POST", req: f.post(pathUserinfo, url.Values{}), want: jsonErr(401, "invalid_token").withChallenge("Bearer")},
		{name: "userinfo/token in the query string is not accepted", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodGet, pathUserinfo+"?access_token="+url.QueryEscape(f.tokens(t, web, f.webSecret, "openid").AccessToken), "")
		}, want: jsonErr(401, "invalid_token").withChallenge("Bearer")},
		{name: "userinfo/garbage token", req: f.call(http.MethodGet, pathUserinfo, "", bearer("garbage")),
			want: jsonErr(401, "invalid_token").withChallenge(`error="invalid_token"`)},
		{name: "userinfo/forged JWT", req: f.call(http.MethodGet, pathUserinfo, "", bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")),
			want: jsonErr(401, "invalid_token").withChallenge(`error="invalid_token"`)},
		{name: "userinfo/tampered token", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid").AccessToken
			return f.request(t, http.MethodGet, pathUserinfo, "", bearer(tok[:len(tok)-4]+"AAAA"))
		}, want: jsonErr(401, "invalid_token").withChallenge(`error="invalid_token"`)},
		{name: "userinfo/token without openid", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodGet, pathUserinfo, "", bearer(m2mToken(t, "orders:read")))
		}, want: jsonErr(403, "insufficient_scope").withChallenge(`error="insufficient_scope"`)},
		{name: "userinfo/user token without openid", req: func(t *testing.T) *http.Request {
			return f.request(t, http.MethodGet, pathUserinfo, "", bearer(f.tokens(t, web, f.webSecret, "orders:read").AccessToken))
		}, want: jsonErr(403, "insufficient_scope").withChallenge(`error="insufficient_scope"`)},
		{name: "userinfo/Basic instead of Bearer", req: f.call(http.MethodGet, pathUserinfo, "", m2mAuth),
			want: jsonErr(400, "invalid_request").withChallenge(`error="invalid_request"`)},
		{name: "userinfo/Bearer without a token", req: f.call(http.MethodGet, pathUserinfo, "", header("Authorization", "Bearer ")),
			want: jsonErr(400, "invalid_request").withChallenge(`error="invalid_request"`)},
		{name: "userinfo/token in the header and the body", req: func(t *testing.T) *http.Request {
			tok := f.tokens(t, web, f.webSecret, "openid").AccessToken
			return f.request(t, http.MethodPost, pathUserinfo, url.Values{"access_token": {tok}}.Encode(), bearer(tok))
		}, want: jsonErr(400, "invalid_request").withChallenge(`error="invalid_request"`)},
		{name: "userinfo/access_token twice in the body", req: f.postRaw(pathUserinfo, "access_token=a&access_token=b"),
			want: jsonErr(400, "invalid_request").withChallenge(`error="invalid_request"`)},
		{name: "userinfo/body over 64 KiB", req: f.post(pathUserinfo, url.Values{"access_token": {huge}}), want: jsonErr(413, "invalid_request")},
		{name: "userinfo/DELETE", req: f.call(http.MethodDelete, pathUserinfo, "", bearer("x")), want: notAllowed()},

		// ---- Logout (OIDC RP-Initiated Logout) ----
		{name: "logout/unregistered post_logout_redirect_uri", req: f.call(http.MethodGet, pathLogout,
			url.Values{"client_id": {other.ID}, "post_logout_redirect_uri": {"https://evil.example.net/bye"}}.Encode()),
			want: errPage(400, "invalid_request").withDescription("not registered")},
		{name: "logout/post_logout_redirect_uri prefix", req: f.call(http.MethodGet, pathLogout,
			url.Values{"client_id": {other.ID}, "post_logout_redirect_uri": {"https://other.example.com/bye/x"}}.Encode()),
			want: errPage(400, "invalid_request")},
		{name: "logout/redirect_uri is not a post_logout_redirect_uri", req: f.call(http.MethodGet, pathLogout,
			url.Values{"client_id": {other.ID}, "post_logout_redirect_uri": {other.RedirectURIs[0]}}.Encode()),
			want: errPage(400, "invalid_request")},
		{name: "logout/post_logout_redirect_uri without client", req: f.call(http.MethodGet, pathLogout,
			url.Values{"post_logout_redirect_uri": {"https://other.example.com/bye"}}.Encode()),
			want: errPage(400, "invalid_request").withDescription("client_id or id_token_hint")},
		{name: "logout/unknown client", req: f.call(http.MethodGet, pathLogout,
			url.Values{"client_id": {"no-such-client"}, "post_logout_redirect_uri": {"https://other.example.com/bye"}}.Encode()),
			want: errPage(400, "invalid_request")},
		{name: "logout/forged id_token_hint", req: f.call(http.MethodGet, pathLogout,
			url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0."}, "post_logout_redirect_uri": {"https://other.example.com/bye"}}.Encode()),
			want: errPage(400, "invalid_request")},
		{name: "logout/parameter twice", req: f.call(http.MethodGet, pathLogout, "client_id="+other.ID+"&client_id="+web.ID), want: errPage(400, "invalid_request")},
		{name: "logout/malformed query", req: f.call(http.MethodGet, pathLogout, "state=%zz"), want: errPage(400, "invalid_request")},
		{name: "logout/DELETE", req: f.call(http.MethodDelete, pathLogout, ""), want: notAllowed()},

		// ---- Discovery and JWKS take GET only ----
		{name: "discovery/POST openid-configuration", req: f.post("/.well-known/openid-configuration", url.Values{}), want: notAllowed()},
		{name: "discovery/POST oauth-authorization-server", req: f.post("/.well-known/oauth-authorization-server", url.Values{}), want: notAllowed()},
		{name: "discovery/DELETE jwks.json", req: f.call(http.MethodDelete, "/.well-known/jwks.json", ""), want: notAllowed()},
		{name: "discovery/PUT jwks.json", req: f.call(http.MethodPut, "/.well-known/jwks.json", ""), want: notAllowed()},
	}

	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.send(t, f.plain, tc.req(t))
			want := tc.want
			if want.kind == errorRedirect {
				want = want.withIssuer(issuer)
			}
			want.assert(t, resp, body)
		})
	}
}

// assertInactive checks an RFC 7662 answer for a token that must not be active: 200 and
// exactly {"active": false}, telling nothing about the token.
func assertInactive(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("introspection answer is not JSON: %s", body)
	}
	if len(got) != 1 || got["active"] != false {
		t.Errorf("introspection answered %s, want exactly {\"active\":false}", body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}
