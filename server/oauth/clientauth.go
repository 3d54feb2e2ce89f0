package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// Client authentication methods (RFC 7591 section 2).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
)

// parseClientForm is parseForm for the endpoints where the client authenticates (token,
// revocation, introspection): there a malformed client_id, client_secret or client
// assertion is a failed client authentication, invalid_client with 401 (RFC 6749 section
// 5.2).
func parseClientForm(w http.ResponseWriter, r *http.Request) (form, error) {
	f, err := parseForm(w, r, false)
	var e *Error
	if errors.As(err, &e) && (e.param == "client_id" || e.param == "client_secret" ||
		e.param == "client_assertion" || e.param == "client_assertion_type") {
		return nil, &Error{Code: CodeInvalidClient, Description: e.Description, param: e.param}
	}
	return f, err
}

// authenticateClient identifies and authenticates the client of a token, revocation or
// introspection request (RFC 6749 section 2.3 and 3.2.1). Exactly one method may be used,
// and it must be the one the client registered.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, f form) (*store.Client, error) {
	if f.has("client_assertion") || f.has("client_assertion_type") {
		return p.authenticateServiceAccount(ctx, r, f)
	}
	id, secret, basic := r.BasicAuth()
	method := AuthNone
	switch {
	case basic:
		// RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			// A failed attempt through the Authorization header is invalid_client with 401
			// (RFC 6749 section 5.2), not a malformed request.
			return nil, newError(CodeInvalidClient, "malformed Basic credentials: client_id and secret must be form-urlencoded (RFC 6749 section 2.3.1)")
		}
		// The form's credentials passed parseForm's checks; these did not.
		for _, c := range []struct{ name, value string }{{"client_id", id}, {"client_secret", secret}} {
			if reason := badText(c.value, paramLimits[c.name]); reason != "" {
				return nil, newError(CodeInvalidClient, "malformed Basic credentials: "+c.name+" "+reason)
			}
		}
		if _, ok := f["client_secret"]; ok {
			return nil, newError(CodeInvalidRequest, "use only one client authentication method")
		}
		if fid, ok := f["client_id"]; ok && fid != id {
			return nil, newError(CodeInvalidRequest, "client_id differs from the authenticated client")
		}
		method = AuthSecretBasic
	case f.get("client_secret") != "":
		id, secret = f.get("client_id"), f.get("client_secret")
		method = AuthSecretPost
	default:
		id = f.get("client_id")
	}
	if id == "" {
		return nil, &Error{Code: CodeInvalidClient, Description: "client authentication is required"}
	}
	fail := &Error{Code: CodeInvalidClient, Description: "client authentication failed"}
	client, err := p.clients.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput) {
		// Spend the time a secret comparison would, so response times do not tell
		// registered client ids from unknown ones.
		credentials.SecretMatches(secret, dummySecretHash)
		fail.cause = err
		return nil, fail
	}
	if err != nil {
		return nil, err
	}
	registered := client.TokenEndpointAuthMethod
	if registered == "" {
		registered = AuthSecretBasic
		if client.Type == store.Public {
			registered = AuthNone
		}
	}
	if method != registered {
		fail.Description = "client must authenticate with " + registered
		return nil, fail
	}
	if method == AuthNone {
		if client.Type != store.Public {
			return nil, fail
		}
		return client, nil
	}
	hashes := [][]byte{client.SecretHash}
	if len(client.PreviousSecretHash) > 0 && p.now().Before(client.PreviousSecretExpiresAt) {
		hashes = append(hashes, client.PreviousSecretHash)
	}
	if !credentials.SecretMatches(secret, hashes...) {
		return nil, fail
	}
	return client, nil
}

var dummySecretHash = credentials.HashSecret("authly-dummy-secret")
