/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hotpathBodies are form bodies for the differential tests of readBodyForm: good ones,
// every kind of malformed one, repeats, limits and what form.check refuses.
var hotpathBodies = []string{
	"", "grant_type=client_credentials", "grant_type=client_credentials&scope=api%3Aread+api%3Awrite",
	"a=1&&b=2&", "=x", "a", "a=", "a=1&a=2", "a=1&b=2&a=1", "a=%zz", "%zz=1", "a=1;b=2", "a=1&b=%",
	"a=1&b=2;c", "a=%00", "b=%00&a=%FF", "client_id=%01", "client_secret=" + strings.Repeat("x", 513),
	"token=" + strings.Repeat("x", 16<<10+1), "a+b=c+d&e%20f=g%2Bh", "a=%C3%A9&b=%E2%9C%93",
	strings.Repeat("a=1&", 10001), strings.Repeat("x", maxFormBytes+1), "a=1&a=%zz",
}

// TestReadBodyFormMatchesParseForm checks that the token endpoint's form parser returns
// what parseForm(w, r, false) returns, and refuses what it refuses with the same answer.
func TestReadBodyFormMatchesParseForm(t *testing.T) {
	type req struct{ method, target, ctype, body string }
	var reqs []req
	for _, b := range hotpathBodies {
		reqs = append(reqs, req{http.MethodPost, PathToken, formURLEncoded, b})
	}
	reqs = append(reqs,
		req{http.MethodPost, PathToken, formURLEncoded + "; charset=utf-8", "a=1"},
		req{http.MethodPost, PathToken, "application/json", `{"a":1}`},
		req{http.MethodPost, PathToken, "", "a=1"},
		req{http.MethodPost, PathToken, "text/plain; ===", "a=1"},
		req{http.MethodPost, PathToken + "?x=%zz", formURLEncoded, "a=1"},
		req{http.MethodPost, PathToken + "?x=1&x=2", formURLEncoded, "a=1"},
		req{http.MethodPost, PathToken + "?a=1", formURLEncoded, "a=2"},
		req{http.MethodGet, PathToken + "?a=1", "", ""},
	)
	for _, rq := range reqs {
		compareWithParseForm(t, rq.method, rq.target, rq.ctype, rq.body)
	}
}

// compareWithParseForm sends the same request to parseForm(w, r, false) and readBodyForm
// and fails t unless both return the same form or refuse it with the same answer (the
// name a "repeated" error quotes may differ: parseForm picks one in map order).
func compareWithParseForm(t *testing.T, method, target, ctype, body string) {
	t.Helper()
	mk := func() (*http.Request, *httptest.ResponseRecorder) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		return r, httptest.NewRecorder()
	}
	r1, w1 := mk()
	want, wantErr := parseForm(w1, r1, false)
	r2, w2 := mk()
	got, gotErr := readBodyForm(w2, r2)
	name := method + " " + target + " " + ctype + " " + body
	if len(name) > 80 {
		name = name[:80]
	}
	if (wantErr == nil) != (gotErr == nil) {
		t.Errorf("%q: error %v, parseForm's %v", name, gotErr, wantErr)
		return
	}
	if wantErr != nil {
		we, ge := asError(wantErr), asError(gotErr)
		if ge.Code != we.Code || ge.HTTPStatus() != we.HTTPStatus() || ge.param != we.param ||
			(ge.Description != we.Description && !strings.HasSuffix(we.Description, "is repeated")) {
			t.Errorf("%q: %+v, parseForm's %+v", name, ge, we)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%q: form differs from parseForm's (-want +got):\n%s", name, diff)
	}
}

// FuzzReadBodyForm compares readBodyForm with parseForm on arbitrary bodies, query
// strings and content types.
func FuzzReadBodyForm(f *testing.F) {
	for _, b := range hotpathBodies[:len(hotpathBodies)-2] {
		f.Add(b, "", formURLEncoded)
	}
	f.Add("a=1", "x=%zz", formURLEncoded+"; charset=utf-8")
	f.Fuzz(func(t *testing.T, body, query, ctype string) {
		u, err := url.Parse(PathToken)
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = url.PathEscape(query)
		compareWithParseForm(t, http.MethodPost, u.String(), ctype, body)
	})
}

// TestAppendedJSONMatchesEncodingJSON checks that the hand-written encodings of the token
// response and of the introspection answer are byte for byte encoding/json's.
func TestAppendedJSONMatchesEncodingJSON(t *testing.T) {
	odd := "a<b>&\"c\"\\\n\u2028é\xff"
	values := []jsonAppender{
		&tokenResponse{},
		&tokenResponse{AccessToken: "eyJ.x.y", TokenType: "Bearer", ExpiresIn: 3600, Scope: "api:read"},
		&tokenResponse{AccessToken: odd, TokenType: odd, ExpiresIn: -1, RefreshToken: odd, Scope: odd, IDToken: odd},
		&introspection{},
		&introspection{Active: true, Scope: "a b", ClientID: "c", TokenType: "Bearer", Exp: 2, Iat: 1, Sub: "s",
			Aud: []string{"c", odd}, Iss: "https://i", JTI: "j"},
		&introspection{Active: true, Username: odd, Aud: []string{}, Exp: -5},
	}
	for _, v := range values {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(v); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		writeJSON(w, http.StatusOK, v)
		if got := w.Body.String(); got != want.String() {
			t.Errorf("%#v:\n got %s\nwant %s", v, got, want.String())
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
	}
}

// TestSplitScope covers both ways splitScope drops duplicates: the linear search of short
// lists and the map of long ones, which must agree.
func TestSplitScope(t *testing.T) {
	long := strings.Repeat("a b c ", 10) + "d e f g h i j k l m n o p q r s"
	for in, want := range map[string][]string{
		"":                       {},
		"  openid  profile\t":    {"openid", "profile"},
		"a b a c b":              {"a", "b", "c"},
		long:                     strings.Fields("a b c d e f g h i j k l m n o p q r s"),
		strings.Repeat("x ", 40): {"x"},
	} {
		if got := splitScope(in); !cmp.Equal(got, want) {
			t.Errorf("splitScope(%.30q) = %q, want %q", in, got, want)
		}
	}
}
