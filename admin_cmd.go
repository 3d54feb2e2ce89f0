package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authly-dev/authly-operator/server/keyring"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/tokens"
)

func init() {
	subcommands = append(subcommands, newAdminCommand)
}

// adminEnv is what every admin subcommand works on: a database and, for keys, the key
// encryption key.
type adminEnv struct {
	databaseURL string
	kek         string
}

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

func newAdminCommand() *cobra.Command {
	env := &adminEnv{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage clients, users, scopes and signing keys in a database, without Kubernetes",
	}
	cmd.PersistentFlags().StringVar(&env.databaseURL, "database-url", "", "Postgres URL (env AUTHLY_DATABASE_URL)")
	cmd.PersistentFlags().StringVar(&env.kek, "key-encryption-key", "", "key encryption key of the server (env AUTHLY_KEY_ENCRYPTION_KEY)")
	cmd.AddCommand(newAdminClientCommand(env), newAdminUserCommand(env), newAdminScopeCommand(env), newAdminKeysCommand(env))
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clientView is a client as the CLI and the admin API show it: no secret hashes.
type clientView struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret,omitempty"`
	Name                    string    `json:"name,omitempty"`
	Type                    string    `json:"type"`
	GrantTypes              []string  `json:"grant_types"`
	RedirectURIs            []string  `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string  `json:"post_logout_redirect_uris,omitempty"`
	Scopes                  []string  `json:"scopes,omitempty"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	FirstParty              bool      `json:"first_party"`
	ManagedBy               string    `json:"managed_by,omitempty"`
	CreatedAt               time.Time `json:"created_at"`
}

func viewClient(c *store.Client, secret string) clientView {
	return clientView{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, Type: string(c.Type), GrantTypes: c.GrantTypes,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, FirstParty: c.FirstParty, ManagedBy: c.ManagedBy,
		CreatedAt: c.CreatedAt,
	}
}

func newAdminClientCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage OAuth clients"}

	var c store.Client
	var public bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print its id and secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if public {
				c.Type = store.Public
			}
			secret, err := (&registry.Registry{Store: st}).CreateClient(cmd.Context(), &c)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), viewClient(&c, secret))
		},
	}
	f := create.Flags()
	f.StringVar(&c.ID, "client-id", "", "client id (default: generated)")
	f.StringVar(&c.Name, "name", "", "display name shown on the login and consent pages")
	f.StringSliceVar(&c.GrantTypes, "grant-types", []string{"authorization_code", "refresh_token"}, "grant types")
	f.StringSliceVar(&c.RedirectURIs, "redirect-uris", nil, "redirect URIs (exact match)")
	f.StringSliceVar(&c.PostLogoutRedirectURIs, "post-logout-redirect-uris", nil, "post-logout redirect URIs")
	f.StringSliceVar(&c.Scopes, "scopes", nil, "scopes the client may request")
	f.BoolVar(&public, "public", false, "a public client (no secret; PKCE)")
	f.BoolVar(&c.FirstParty, "first-party", false, "skip the consent page")
	f.StringVar(&c.TokenEndpointAuthMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, or none (public)")
	f.StringVar(&c.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token algorithm for this client: RS256 or ES256")

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			views := []clientView{}
			after := ""
			for {
				page, err := st.ListClients(cmd.Context(), store.Page{Limit: 500, After: after})
				if err != nil {
					return err
				}
				for _, c := range page {
					views = append(views, viewClient(c, ""))
				}
				if len(page) < 500 {
					break
				}
				after = page[len(page)-1].ID
			}
			return printJSON(cmd.OutOrStdout(), views)
		},
	}

	del := &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and revoke its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.DeleteClient(cmd.Context(), args[0], time.Now()); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "client %s deleted; its tokens are revoked\n", args[0])
			return err
		},
	}

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a client a new secret; the old one works for --grace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, err := (&registry.Registry{Store: st}).RotateSecret(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]string{"client_id": args[0], "client_secret": secret})
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the previous secret stays valid")

	cmd.AddCommand(create, list, del, rotate)
	return cmd
}

func newAdminUserCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var u store.User
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
				return err
			}
			password := strings.TrimRight(string(raw), "\r\n")
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := (&registry.Registry{Store: st}).CreateUser(cmd.Context(), &u, password); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "email": u.Email, "admin": u.Admin})
		},
	}
	f := create.Flags()
	f.StringVar(&u.Username, "username", "", "login name")
	f.StringVar(&u.Email, "email", "", "email address")
	f.StringVar(&u.Name, "name", "", "full name")
	f.BoolVar(&u.EmailVerified, "email-verified", false, "mark the email as verified")
	f.BoolVar(&u.Admin, "admin", false, "may receive the admin:* scopes")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	cmd.AddCommand(create)
	return cmd
}

func newAdminScopeCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "scope", Short: "Manage scopes"}
	var s store.Scope
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := env.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := (&registry.Registry{Store: st}).CreateScope(cmd.Context(), &s); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{"name": s.Name, "description": s.Description, "default": s.Default})
		},
	}
	create.Flags().StringVar(&s.Name, "name", "", "scope name")
	create.Flags().StringVar(&s.Description, "description", "", "what the scope allows, shown on the consent page")
	create.Flags().BoolVar(&s.Default, "default", false, "granted when a request names no scope")
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
