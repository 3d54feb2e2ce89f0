package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/authly-dev/authly-operator/server/store"
)

// This file routes jwt-bearer client assertions to the ServiceAccount check until this
// branch joins the client-assertion dispatcher of private_key_jwt (issue 15 part 1),
// which reads the same form parameters: there, verifyClientAssertion gets a case
// AuthServiceAccountJWT calling verifyServiceAccountAssertion, and this file goes.

// jwtBearerAssertionType is the client_assertion_type of a JWT client assertion
// (RFC 7523 section 2.2).
const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateServiceAccount authenticates a client that sent a client assertion: it must
// name itself in client_id (the token's sub is the ServiceAccount, not the client) and be
// registered with a ServiceAccount. Every refusal is invalid_client; only a database that
// cannot be reached is another error.
func (p *Provider) authenticateServiceAccount(ctx context.Context, r *http.Request, f form) (*store.Client, error) {
	if _, _, basic := r.BasicAuth(); basic || f.has("client_secret") {
		return nil, newError(CodeInvalidRequest, "use only one client authentication method")
	}
	if f.get("client_assertion_type") != jwtBearerAssertionType {
		return nil, newError(CodeInvalidClient, "client_assertion_type must be "+jwtBearerAssertionType)
	}
	raw := f.get("client_assertion")
	if raw == "" {
		return nil, newError(CodeInvalidClient, "client_assertion is required with client_assertion_type")
	}
	id := f.get("client_id")
	if id == "" {
		return nil, newError(CodeInvalidClient, "client_id is required with a ServiceAccount token")
	}
	client, err := p.clients.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput) {
		return nil, wrapError(CodeInvalidClient, "client authentication failed", err)
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	if client.TokenEndpointAuthMethod != AuthServiceAccountJWT {
		registered := client.TokenEndpointAuthMethod
		if registered == "" {
			registered = AuthSecretBasic
		}
		return nil, newError(CodeInvalidClient, "client must authenticate with "+registered)
	}
	if err := p.verifyServiceAccountAssertion(ctx, client, raw); err != nil {
		return nil, err
	}
	return client, nil
}
