/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/oauth"
)

// Ways to reach the server, for --via.
const (
	viaAuto        = "auto"
	viaIssuer      = "issuer"
	viaPortForward = "port-forward"
)

type tokenOptions struct {
	scopes         []string
	decode         bool
	via            string
	connectTimeout time.Duration
}

func newTokenCommand(cfg *Config) *cobra.Command {
	o := tokenOptions{}
	cmd := &cobra.Command{
		Use:   "token OAUTHCLIENT [--scope SCOPE]... [--decode]",
		Short: "Get a client_credentials access token with an OAuthClient's credentials",
		Long: `Get an access token for an OAuthClient with the client_credentials grant, using the client_id
and client_secret of the Secret the operator wrote for it, and print it.

The token endpoint is the one in that Secret (the AuthServer's issuer). When it cannot be
reached from here (the issuer is a name only the cluster resolves, say), the request goes
through a port-forward to a Ready pod of the AuthServer's Service instead, as
kubectl port-forward does; --via chooses one way.

--decode prints the token's header and claims instead, after verifying its signature
against the server's JWKS, fetched the same way as the token.`,
		Example: `  kubectl authly token billing -n team-a --scope orders:read
  kubectl authly token billing -n team-a --decode`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{viaAuto, viaIssuer, viaPortForward}, o.via) {
				return fmt.Errorf("--via %q: want auto, issuer or port-forward", o.via)
			}
			c, err := cfg.connect()
			if err != nil {
				return err
			}
			return runToken(cmd.Context(), c, args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&o.scopes, "scope", nil, "Scope to ask for (repeat, or separate with commas); none means every scope of the client")
	fl.BoolVar(&o.decode, "decode", false, "Print the token's header and claims as JSON, after verifying its signature against the server's JWKS")
	fl.StringVar(&o.via, "via", viaAuto, "How to reach the server: auto (the issuer, else a port-forward), issuer, or port-forward")
	fl.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "How long to try to connect to the issuer before port-forwarding")
	return cmd
}

// clientSecret is what the OAuthClient's Secret holds.
type clientSecret struct {
	clientID, secret, issuer, tokenURL, jwksURL string
	style                                       oauth2.AuthStyle
}

func runToken(ctx context.Context, c *clients, name string, o tokenOptions, out, errOut io.Writer) error {
	var oc authlyv1.OAuthClient
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: name}, &oc); err != nil {
		return fmt.Errorf("get OAuthClient %s: %w", name, err)
	}
	creds, err := readCredentials(ctx, c, &oc)
	if err != nil {
		return err
	}

	var tok *oauth2.Token
	var jwksURL string
	var hc *http.Client
	if o.via != viaPortForward {
		var unreachable atomic.Bool
		hc = directClient(o.connectTimeout, &unreachable)
		tok, err = requestToken(ctx, hc, creds, creds.tokenURL, o.scopes)
		jwksURL = creds.jwksURL
		if err != nil && (o.via == viaIssuer || !unreachable.Load()) {
			return err
		}
		if err != nil {
			fmt.Fprintf(errOut, "%s is not reachable from here (%v): port-forwarding to AuthServer %s\n", creds.tokenURL, err, oc.Spec.AuthServerRef.Name)
		}
	}
	if tok == nil {
		var as authlyv1.AuthServer
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: oc.Namespace, Name: oc.Spec.AuthServerRef.Name}, &as); err != nil {
			return fmt.Errorf("get AuthServer %s: %w", oc.Spec.AuthServerRef.Name, err)
		}
		fw, err := forward(ctx, c, &as, errOut)
		if err != nil {
			return err
		}
		defer fw.stop()
		base, err := podBaseURL(&as, creds.issuer)
		if err != nil {
			return err
		}
		hc = forwardedClient(fw.local)
		if tok, err = requestToken(ctx, hc, creds, base+oauth.PathToken, o.scopes); err != nil {
			return fmt.Errorf("through a port-forward to pod %s: %w", fw.pod, err)
		}
		jwksURL = base + oauth.PathJWKS
	}

	if !o.decode {
		_, err := fmt.Fprintln(out, tok.AccessToken)
		return err
	}
	doc, kid, err := verifyAndDecode(ctx, hc, jwksURL, tok.AccessToken)
	if err != nil {
		return err
	}
	fmt.Fprintf(errOut, "signature verified with key %s of %s\n", kid, jwksURL)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("print the token: %w", err)
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}

// readCredentials reads the client's Secret (status.secretName, else the spec's) and checks
// that the client may use client_credentials.
func readCredentials(ctx context.Context, c *clients, oc *authlyv1.OAuthClient) (*clientSecret, error) {
	if oc.Spec.Type == authlyv1.ClientPublic {
		return nil, fmt.Errorf("OAuthClient %s is a public client: client_credentials is for confidential clients", oc.Name)
	}
	if !slices.Contains(oc.Spec.GrantTypes, authlyv1.GrantClientCredentials) {
		return nil, fmt.Errorf("OAuthClient %s may not use client_credentials: add it to spec.grantTypes (now %v)", oc.Name, oc.Spec.GrantTypes)
	}
	name := oc.Status.SecretName
	if name == "" {
		name = oc.EffectiveSecretName()
	}
	var s corev1.Secret
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: oc.Namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("the credentials Secret of OAuthClient %s: %w", oc.Name, err)
	}
	creds := &clientSecret{
		clientID: string(s.Data["client_id"]), secret: string(s.Data["client_secret"]),
		issuer: string(s.Data["issuer"]), tokenURL: string(s.Data["token_url"]), jwksURL: string(s.Data["jwks_url"]),
		style: oauth2.AuthStyleInHeader,
	}
	if oc.EffectiveTokenEndpointAuthMethod() == authlyv1.AuthMethodClientSecretPost {
		creds.style = oauth2.AuthStyleInParams
	}
	var missing []string
	for _, k := range []struct{ key, value string }{
		{"client_id", creds.clientID}, {"client_secret", creds.secret}, {"issuer", creds.issuer}, {"token_url", creds.tokenURL}, {"jwks_url", creds.jwksURL},
	} {
		if k.value == "" {
			missing = append(missing, k.key)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("secret %s/%s has no %s (is OAuthClient %s Ready?)", s.Namespace, s.Name, strings.Join(missing, ", "), oc.Name)
	}
	return creds, nil
}

func requestToken(ctx context.Context, hc *http.Client, creds *clientSecret, tokenURL string, scopes []string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{
		ClientID: creds.clientID, ClientSecret: creds.secret, TokenURL: tokenURL,
		Scopes: scopes, AuthStyle: creds.style,
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	return tok, nil
}

// directClient reaches the issuer as any client would, and records in unreachable that a
// connection could not be made (no name, refused, timed out), as opposed to an answer that
// was an error.
func directClient(connectTimeout time.Duration, unreachable *atomic.Bool) *http.Client {
	d := &net.Dialer{Timeout: connectTimeout}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			unreachable.Store(true)
			return nil, fmt.Errorf("connect to the token endpoint: %w", err)
		}
		return conn, nil
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// forwardedClient sends every request to the port-forward's local address. The URL keeps
// the issuer's host, so that the Host header, and with TLS the server name checked against
// the certificate, are the issuer's.
func forwardedClient(local string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, local)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// podBaseURL is the server's root as a pod serves it: https when the AuthServer has
// spec.tls, else http, with the issuer's host (whatever path the issuer has is the
// business of what fronts the server; the pod serves its endpoints at the root).
func podBaseURL(as *authlyv1.AuthServer, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	scheme := "http"
	if as.Spec.TLS != nil && as.Spec.TLS.SecretName != "" {
		scheme = "https"
	}
	return scheme + "://" + u.Host, nil
}

// decodedToken is what --decode prints.
type decodedToken struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
}

// verifyAndDecode checks the token's signature against the JWKS at jwksURL and returns its
// header and claims, and the id of the key that signed it.
func verifyAndDecode(ctx context.Context, hc *http.Client, jwksURL, token string) (*decodedToken, string, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		return nil, "", fmt.Errorf("the access token is not a JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", fmt.Errorf("the access token has %d signatures, want 1", len(jws.Signatures))
	}
	kid := jws.Signatures[0].Protected.KeyID
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("JWKS request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetching the JWKS %s: %s", jwksURL, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, "", fmt.Errorf("the JWKS %s: %w", jwksURL, err)
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("the token's key %q is not in the JWKS %s", kid, jwksURL)
	}
	payload, err := jws.Verify(keys[0].Public())
	if err != nil {
		return nil, "", fmt.Errorf("the token's signature does not verify with key %q of %s: %w", kid, jwksURL, err)
	}
	doc := &decodedToken{}
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return nil, "", fmt.Errorf("token header: %w", err)
	}
	if err := json.Unmarshal(raw, &doc.Header); err != nil {
		return nil, "", fmt.Errorf("token header: %w", err)
	}
	if err := json.Unmarshal(payload, &doc.Claims); err != nil {
		return nil, "", fmt.Errorf("the token's claims are not JSON: %w", err)
	}
	return doc, kid, nil
}
