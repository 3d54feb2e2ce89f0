package oauth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBytes bounds every form body the endpoints read. OAuth requests are small; a
// larger body is refused before it is parsed.
const maxFormBytes = 64 << 10

// form holds a request's parameters with each name at most once (RFC 6749 section 3.1:
// "Request and response parameters MUST NOT be included more than once").
type form map[string]string

func (f form) get(name string) string { return f[name] }

// parseForm reads application/x-www-form-urlencoded parameters of a POST body (and, with
// query, of the URL). It refuses other content types, oversized bodies and repeated
// parameters with invalid_request.
func parseForm(w http.ResponseWriter, r *http.Request, query bool) (form, error) {
	values := url.Values{}
	if query {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, newError(ErrInvalidRequest, "malformed query string")
		}
		values = q
	}
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, newError(ErrInvalidRequest, "the request body must be application/x-www-form-urlencoded")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, &Error{Code: ErrInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
			}
			return nil, newError(ErrInvalidRequest, "malformed form body")
		}
		for k, vs := range r.PostForm {
			values[k] = append(values[k], vs...)
		}
	}
	f := make(form, len(values))
	for k, vs := range values {
		if len(vs) > 1 {
			return nil, newError(ErrInvalidRequest, "parameter "+k+" is repeated")
		}
		f[k] = vs[0]
	}
	return f, nil
}

// splitScope splits a space-delimited scope parameter (RFC 6749 section 3.3), dropping
// duplicates while keeping order.
func splitScope(s string) []string {
	fields := strings.Fields(s)
	out := fields[:0]
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// validScopeToken reports whether s is a scope-token of RFC 6749 section 3.3.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
