/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authly-dev/authly-operator/server/admin"
	"github.com/authly-dev/authly-operator/server/keyring"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/settings"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// adminEnv is what every admin subcommand works on: a database and, for keys, the key
// encryption key; or, for clients, users and scopes, the admin API of a running server.
type adminEnv struct {
	databaseURL string
	kek         string
	apiURL      string
	apiToken    string
}

// open connects to the database (keys are managed there only).
func (e *adminEnv) open(cmd *cobra.Command) (*store.Store, error) {
	if err := envFlags(cmd.Flags()); err != nil {
		return nil, err
	}
	if e.databaseURL == "" {
		return nil, fmt.Errorf("--database-url (AUTHLY_DATABASE_URL) is required")
	}
	if err := store.Migrate(cmd.Context(), e.databaseURL); err != nil {
		return nil, err
	}
	return store.Open(cmd.Context(), e.databaseURL, store.Options{MaxConns: 2, ApplicationName: "authly-admin"})
}

// backend is the admin API when --url is given, the database otherwise.
func (e *adminEnv) backend(cmd *cobra.Command) (adminBackend, error) {
	if err := envFlags(cmd.Flags()); err != nil {
		return nil, err
	}
	if e.apiURL != "" {
		if e.apiToken == "" {
			return nil, fmt.Errorf("--token (AUTHLY_ADMIN_TOKEN) is required with --url: an access token with the admin scopes")
		}
		return &apiBackend{remote: &admin.Remote{BaseURL: e.apiURL, Token: e.apiToken}}, nil
	}
	st, err := e.open(cmd)
	if err != nil {
		return nil, err
	}
	return newDatabaseBackend(st), nil
}

// run opens the backend for the length of f.
func (e *adminEnv) run(cmd *cobra.Command, f func(ctx context.Context, b adminBackend) error) error {
	b, err := e.backend(cmd)
	if err != nil {
		return err
	}
	defer b.close()
	return f(cmd.Context(), b)
}

func newAdminCommand() *cobra.Command {
	env := &adminEnv{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage clients, users, scopes and signing keys, in a database or through a server's admin API",
		Long: "Manage clients, users, scopes and signing keys. By default the commands work on the\n" +
			"database (--database-url). With --url and --token (AUTHLY_ADMIN_URL, AUTHLY_ADMIN_TOKEN)\n" +
			"the client, user and scope commands call the admin API of a running server instead;\n" +
			"prefer the environment variable for the token, which a command line shows to other users.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&env.databaseURL, "database-url", "", "Postgres URL (env AUTHLY_DATABASE_URL)")
	pf.StringVar(&env.kek, "key-encryption-key", "", "key encryption key of the server (env AUTHLY_KEY_ENCRYPTION_KEY)")
	pf.StringVar(&env.apiURL, "url", "", "use the admin API of the server at this URL, its issuer (env AUTHLY_ADMIN_URL)")
	pf.StringVar(&env.apiToken, "token", "", "access token with the admin scopes, for --url (env AUTHLY_ADMIN_TOKEN)")
	_ = pf.SetAnnotation("url", settings.EnvAnnotation, []string{"AUTHLY_ADMIN_URL"})
	_ = pf.SetAnnotation("token", settings.EnvAnnotation, []string{"AUTHLY_ADMIN_TOKEN"})
	cmd.AddCommand(newAdminClientCommand(env), newAdminUserCommand(env), newAdminScopeCommand(env), newAdminKeysCommand(env),
		newAdminFederatedIssuerCommand(env))
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newAdminClientCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage OAuth clients"}

	var req admin.ClientRequest
	var public bool
	var jwksFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print its id and secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if public {
				req.ClientType = string(store.Public)
			}
			if jwksFile != "" {
				raw, err := os.ReadFile(jwksFile)
				if err != nil {
					return fmt.Errorf("--jwks-file: %w", err)
				}
				if !json.Valid(raw) {
					return fmt.Errorf("--jwks-file %s is not JSON (a JWK Set: {\"keys\": [...]})", jwksFile)
				}
				req.JWKS = raw
			}
			if (jwksFile != "" || req.JWKSURI != "") && req.TokenEndpointAuthMethod == "" {
				req.TokenEndpointAuthMethod = registry.PrivateKeyJWT
			}
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				c, err := b.createClient(ctx, req)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), c)
			})
		},
	}
	f := create.Flags()
	f.StringVar(&req.ClientID, "client-id", "", "client id (default: generated)")
	f.StringVar(&req.ClientName, "name", "", "display name shown on the login and consent pages")
	f.StringSliceVar(&req.GrantTypes, "grant-types", []string{"authorization_code", "refresh_token"}, "grant types")
	f.StringSliceVar(&req.RedirectURIs, "redirect-uris", nil, "redirect URIs (exact match)")
	f.StringSliceVar(&req.PostLogoutRedirectURIs, "post-logout-redirect-uris", nil, "post-logout redirect URIs")
	f.StringSliceVar(&req.Scopes, "scopes", nil, "scopes the client may request")
	f.BoolVar(&public, "public", false, "a public client (no secret; PKCE)")
	f.BoolVar(&req.FirstParty, "first-party", false, "skip the consent page")
	f.StringVar(&req.TokenEndpointAuthMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, private_key_jwt (default with --jwks-file or --jwks-uri), or none (public)")
	f.StringVar(&jwksFile, "jwks-file", "", "file holding the JWK Set (public keys) a private_key_jwt client signs its assertions with")
	f.StringVar(&req.JWKSURI, "jwks-uri", "", "https URL serving the JWK Set of a private_key_jwt client")
	f.StringVar(&req.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token algorithm for this client: RS256 or ES256")
	f.StringVar(&req.FederatedIssuer, "federated-issuer", "", "authenticate with tokens of this issuer (stored with `authly admin federated-issuer set`) instead of a secret")
	f.StringVar(&req.FederatedSubject, "federated-subject", "", "the sub of those tokens, e.g. system:serviceaccount:<namespace>:<name>")
	f.StringVar(&req.ServiceAccountUID, "service-account-uid", "", "the ServiceAccount's uid the tokens must name (kubectl get sa NAME -o jsonpath='{.metadata.uid}')")

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				views, err := b.listClients(ctx)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), views)
			})
		},
	}

	del := &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and revoke its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				if err := b.deleteClient(ctx, args[0]); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "client %s deleted; its tokens are revoked\n", args[0])
				return err
			})
		},
	}

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a client a new secret; the old one works for --grace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				c, err := b.rotateSecret(ctx, args[0], grace)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), c)
			})
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the previous secret stays valid")

	cmd.AddCommand(create, list, del, rotate)
	return cmd
}

func newAdminUserCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var req admin.UserRequest
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user; the password is read from standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !passwordStdin {
				return fmt.Errorf("--password-stdin is required: passwords are never taken as arguments")
			}
			raw, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
			if err != nil {
				return fmt.Errorf("read the password from stdin: %w", err)
			}
			req.Password = strings.TrimRight(string(raw), "\r\n")
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				u, err := b.createUser(ctx, req)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), u)
			})
		},
	}
	f := create.Flags()
	f.StringVar(&req.Username, "username", "", "login name")
	f.StringVar(&req.Email, "email", "", "email address")
	f.StringVar(&req.Name, "name", "", "full name")
	f.BoolVar(&req.EmailVerified, "email-verified", false, "mark the email as verified")
	f.BoolVar(&req.Admin, "admin", false, "may receive the admin:* scopes")
	f.StringSliceVar(&req.Groups, "groups", nil, "the user's groups, comma-separated (the groups claim)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")

	var groups []string
	setGroups := &cobra.Command{
		Use:   "set-groups USER_ID",
		Short: "Replace a user's groups (--groups= with nothing removes every group); tokens already issued keep theirs until they expire",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("groups") {
				return fmt.Errorf("--groups is required (--groups= removes every group)")
			}
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				u, err := b.setUserGroups(ctx, args[0], groups)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), u)
			})
		},
	}
	setGroups.Flags().StringSliceVar(&groups, "groups", nil, "the user's new groups, comma-separated")
	cmd.AddCommand(create, setGroups)
	return cmd
}

func newAdminScopeCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "scope", Short: "Manage scopes"}
	var req admin.ScopeRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				s, err := b.createScope(ctx, req)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), s)
			})
		},
	}
	create.Flags().StringVar(&req.Name, "name", "", "scope name")
	create.Flags().StringVar(&req.Description, "description", "", "what the scope allows, shown on the consent page")
	create.Flags().BoolVar(&req.Default, "default", false, "granted when a request names no scope")
	cmd.AddCommand(create)
	return cmd
}

func newAdminKeysCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	var retain time.Duration
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the signing keys: the published next key starts signing, a new next key is published",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			kr, err := newKeyring(cmd.Context(), st, env.kek)
			if err != nil {
				return err
			}
			if err := kr.Rotate(cmd.Context(), retain); err != nil {
				return err
			}
			keys, err := st.ListSigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			out := []map[string]string{}
			for _, k := range keys {
				out = append(out, map[string]string{"kid": k.KID, "alg": k.Algorithm, "state": string(k.State)})
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	rotate.Flags().DurationVar(&retain, "retain", 24*time.Hour, "how long the retired key stays published (longer than any token it signed lives)")
	cmd.AddCommand(rotate)
	return cmd
}

func newKeyring(ctx context.Context, st *store.Store, kek string) (*keyring.Keyring, error) {
	kr := &keyring.Keyring{Store: st}
	if kek != "" {
		raw, err := tokens.ParseKEK(kek)
		if err != nil {
			return nil, err
		}
		if kr.Sealer, err = tokens.NewSealer(raw); err != nil {
			return nil, err
		}
	}
	return kr, kr.Ensure(ctx)
}
