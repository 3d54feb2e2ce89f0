package oauth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFormBytes bounds every form body the endpoints read. OAuth requests are small; a
// larger body is refused before it is parsed.
const maxFormBytes = 64 << 10

// form holds a request's parameters with each name at most once (RFC 6749 section 3.1:
// "Request and response parameters MUST NOT be included more than once").
type form map[string]string

func (f form) get(name string) string { return f[name] }

func (f form) has(name string) bool { _, ok := f[name]; return ok }

// parseForm reads application/x-www-form-urlencoded parameters of a POST body (and, with
// query, of the URL). It refuses other content types, oversized bodies and repeated
// parameters with invalid_request.
func parseForm(w http.ResponseWriter, r *http.Request, query bool) (form, error) {
	values := url.Values{}
	if query {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, newError(CodeInvalidRequest, "malformed query string")
		}
		values = q
	}
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, newError(CodeInvalidRequest, "the request body must be application/x-www-form-urlencoded")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, &Error{Code: CodeInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
			}
			return nil, newError(CodeInvalidRequest, "malformed form body")
		}
		for k, vs := range r.PostForm {
			values[k] = append(values[k], vs...)
		}
	}
	f := make(form, len(values))
	for k, vs := range values {
		if len(vs) > 1 {
			return nil, newError(CodeInvalidRequest, "parameter "+quote(k)+" is repeated")
		}
		f[k] = vs[0]
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// Length limits of parameter values, in bytes. Values the server issued (codes, refresh
// tokens) and identifiers are short; JWTs (access tokens, ID token hints) are the longest
// values a client sends.
const (
	maxIdentifierLen = 512
	maxParamLen      = 8 << 10
	maxJWTLen        = 16 << 10
)

var paramLimits = map[string]int{
	"client_id": maxIdentifierLen, "client_secret": maxIdentifierLen, "username": maxIdentifierLen,
	"login_hint": maxIdentifierLen, "grant_type": maxIdentifierLen, "response_type": maxIdentifierLen,
	"response_mode": maxIdentifierLen, "token_type_hint": maxIdentifierLen,
	"code_verifier": maxIdentifierLen, "code_challenge": maxIdentifierLen, "code_challenge_method": maxIdentifierLen,
	"prompt": maxIdentifierLen, "max_age": maxIdentifierLen,
	"action": maxIdentifierLen, "consent": maxIdentifierLen, "csrf_token": maxIdentifierLen,
	// Any token may be sent where another was expected (an access token as refresh
	// token): that is invalid_grant, so these take the longest.
	"code": maxJWTLen, "refresh_token": maxJWTLen, "token": maxJWTLen, "access_token": maxJWTLen,
	"id_token_hint": maxJWTLen, "request": maxJWTLen, "client_assertion": maxJWTLen,
}

// credentialParams are checked first: a malformed one is a failed client authentication
// where the client authenticates (see parseClientForm).
var credentialParams = []string{"client_id", "client_secret"}

// check refuses, before any handler reads them, parameters that are not valid UTF-8, hold
// a control character other than tab (NUL first of all, which Postgres refuses in text;
// RFC 6749 Appendix A allows none in any parameter), or are longer than their limit, and
// parameter names of the same kind. Every endpoint's parameters pass here, so no such
// value reaches the store, a page or a log.
func (f form) check() error {
	for _, name := range credentialParams {
		if v, ok := f[name]; ok {
			if reason := badText(v, paramLimits[name]); reason != "" {
				return &Error{Code: CodeInvalidRequest, Description: name + " " + reason, param: name}
			}
		}
	}
	if !f.anyBad() {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names) // report the first bad parameter in a stable order
	for _, name := range names {
		if reason := badText(name, maxIdentifierLen); reason != "" {
			return newError(CodeInvalidRequest, "a parameter name "+reason)
		}
		if reason := badText(f[name], f.limit(name)); reason != "" {
			label := name
			if label == "" {
				label = "a parameter without a name"
			}
			return &Error{Code: CodeInvalidRequest, Description: label + " " + reason, param: name}
		}
	}
	return nil
}

// anyBad reports whether check refuses a parameter name or value; it allocates nothing,
// so that good requests pay only the scan.
func (f form) anyBad() bool {
	for name, v := range f {
		if badText(name, maxIdentifierLen) != "" || badText(v, f.limit(name)) != "" {
			return true
		}
	}
	return false
}

// limit is the length limit of a parameter's value.
func (form) limit(name string) int {
	if n, ok := paramLimits[name]; ok {
		return n
	}
	return maxParamLen
}

// badText says what is wrong with s as a parameter of at most limit bytes, or "".
func badText(s string, limit int) string {
	if len(s) > limit {
		return "is longer than " + strconv.Itoa(limit) + " bytes"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "contains a control character"
		}
	}
	return ""
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
