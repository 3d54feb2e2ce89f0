/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/authly-dev/authly-operator/server/internal/jsonenc"
)

// The token, introspection and revocation endpoints are the server's busiest after the
// static documents: what they do besides the signature or the verification is built here
// without encoding/json's reflection, url.Values and the copies net/http's ParseForm makes
// (issue 16 item 6; bench/results/REPORT.md has the figures). Answers and refusals are
// the same as the general code's.

const formURLEncoded = "application/x-www-form-urlencoded"

// maxQueryParams is net/url's default limit on the parameters of a query string
// (GODEBUG urlmaxqueryparams), which ParseForm applies to a form body too.
const maxQueryParams = 10000

// bodyBuffers hold request bodies while they are parsed; parameter values are copied out
// of them in one string.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps the buffers of unusually large bodies out of the pool.
const maxPooledBody = 16 << 10

// readBodyForm is parseForm(w, r, false) for the endpoints that read the parameters only
// from the form it returns, never from r.PostForm (which it leaves unset): the token,
// introspection and revocation endpoints. It refuses the same requests with the same
// answers: another content type, a body over maxFormBytes, a malformed body or query
// string, a repeated parameter, and what form.check refuses.
func readBodyForm(w http.ResponseWriter, r *http.Request) (form, error) {
	if r.Method != http.MethodPost {
		f := form{}
		return f, f.check()
	}
	if ct := r.Header.Get("Content-Type"); ct != formURLEncoded {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formURLEncoded {
			return nil, newError(CodeInvalidRequest, "the request body must be "+formURLEncoded)
		}
	}
	malformed := func() error { return newError(CodeInvalidRequest, "malformed form body") }
	if r.Body == nil {
		return nil, malformed()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(r.Body)
	body := buf.String()
	if buf.Cap() <= maxPooledBody {
		bodyBuffers.Put(buf)
	}
	if err != nil {
		if isMaxBytesError(err) {
			return nil, &Error{Code: CodeInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, malformed()
	}
	pairs := strings.Count(body, "&") + 1
	if pairs > maxQueryParams {
		return nil, malformed()
	}
	f := make(form, min(pairs, 16))
	bad, repeated := false, ""
	// The loop of url.ParseQuery, into the form.
	for rest := body; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(pair, ";") {
			bad = true
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			bad = true
			continue
		}
		if _, seen := f[k]; seen && repeated == "" {
			repeated = k
		}
		f[k] = v
	}
	if bad {
		return nil, malformed()
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		// ParseForm reads the query string too, and fails on a malformed one.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return nil, malformed()
		}
	}
	if repeated != "" {
		return nil, newError(CodeInvalidRequest, "parameter "+quote(repeated)+" is repeated")
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// jsonAppender is a response that appends its own JSON encoding, byte for byte what
// encoding/json writes for it.
type jsonAppender interface {
	appendJSON(dst []byte) []byte
}

// Header values of the JSON answers; a slice of length and capacity one is never written
// to (Header.Add appends into a new array).
var (
	noStore  = []string{"no-store"}
	noCache  = []string{"no-cache"}
	jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
)

// writeAppended is writeJSON for a jsonAppender: the same headers and bytes (with the
// newline json.Encoder ends with), from a pooled buffer.
func writeAppended(w http.ResponseWriter, status int, v jsonAppender) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
	w.WriteHeader(status)
	bp := jsonBufs.Get().(*[]byte)
	b := append(v.appendJSON((*bp)[:0]), '\n')
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBody {
		*bp = b
		jsonBufs.Put(bp)
	}
}

func (t *tokenResponse) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = jsonenc.StringField(b, "access_token", t.AccessToken)
	b = jsonenc.StringField(b, "token_type", t.TokenType)
	b = jsonenc.IntField(b, "expires_in", t.ExpiresIn)
	if t.RefreshToken != "" {
		b = jsonenc.StringField(b, "refresh_token", t.RefreshToken)
	}
	if t.Scope != "" {
		b = jsonenc.StringField(b, "scope", t.Scope)
	}
	if t.IDToken != "" {
		b = jsonenc.StringField(b, "id_token", t.IDToken)
	}
	return append(b, '}')
}

func (i *introspection) appendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	if i.Active {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	for _, s := range [...]struct{ name, value string }{
		{"scope", i.Scope}, {"client_id", i.ClientID}, {"username", i.Username}, {"token_type", i.TokenType},
	} {
		if s.value != "" {
			b = jsonenc.StringField(b, s.name, s.value)
		}
	}
	if i.Exp != 0 {
		b = jsonenc.IntField(b, "exp", i.Exp)
	}
	if i.Iat != 0 {
		b = jsonenc.IntField(b, "iat", i.Iat)
	}
	if i.Sub != "" {
		b = jsonenc.StringField(b, "sub", i.Sub)
	}
	if len(i.Aud) > 0 {
		b = jsonenc.Strings(jsonenc.Field(b, "aud"), i.Aud)
	}
	if i.Iss != "" {
		b = jsonenc.StringField(b, "iss", i.Iss)
	}
	if i.JTI != "" {
		b = jsonenc.StringField(b, "jti", i.JTI)
	}
	return append(b, '}')
}

// isMaxBytesError reports whether err is http.MaxBytesReader's refusal of a longer body.
func isMaxBytesError(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// activeLabel is the result label of an introspection.
func activeLabel(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}
