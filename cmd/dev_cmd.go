/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/registry"
	"github.com/authly-dev/authly-operator/server/store"
	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// The demo data `authly dev` sets up.
const (
	demoClientID = "demo-client"
	demoScope    = "demo:read"
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoRedirect = "http://localhost:8080/callback"
)

// Names of what `authly dev` creates in its local control plane.
const (
	devNamespace  = "default"
	devAuthServer = "dev"
	devDBSecret   = "authly-dev-db"
)

// devClientManifest is the OAuthClient the banner suggests applying to the local control plane.
const devClientManifest = `apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: my-app, namespace: default}
spec:
  authServerRef: {name: dev}
  grantTypes: [client_credentials]
  scopes: [demo:read]`

func newDevCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	var dir, assets string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the server on a throwaway local Postgres with demo data (what `make run` does)",
		Long: "Start a local PostgreSQL cluster from the installed binaries in --dir (kept between\n" +
			"runs), migrate it, create a demo user, scope and client, print how to get a token,\n" +
			"and serve on --listen until Ctrl-C, which stops Postgres too.\n\n" +
			"With --control-plane-assets (a directory holding kube-apiserver and etcd, as\n" +
			"`make envtest` builds them), it also starts a local control plane with the CRDs and\n" +
			"runs the operator against it, so OAuthClients and Scopes applied there are\n" +
			"registered in the local server.",
		Args: cobra.NoArgs,
	}
	finish := server.BindFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&dir, "dir", ".authly-dev", "directory of the local Postgres cluster and kubeconfig")
	cmd.Flags().StringVar(&assets, "control-plane-assets", "", "directory with kube-apiserver and etcd: also run a local control plane and the operator")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := finish(); err != nil {
			return err
		}
		ctx := cmd.Context()
		if !cmd.Flags().Changed("shutdown-grace") {
			cfg.ShutdownGrace = 2 * time.Second // no load balancer to drain in development
		}
		if cfg.Listen == ":8000" {
			cfg.Listen = "127.0.0.1:8000"
		}
		if cfg.Issuer == "" {
			cfg.Issuer = "http://localhost:" + portOf(cfg.Listen)
		}
		log, err := newLogger("text", "info")
		if err != nil {
			return err
		}
		pgDir := filepath.Join(dir, "postgres")
		if os.Geteuid() == 0 && !pgcluster.Reachable(pgDir) {
			// As root, Postgres runs as the postgres user, which cannot enter a checkout
			// under a private home directory; keep the cluster where it can.
			abs, _ := filepath.Abs(pgDir)
			pgDir = filepath.Join(os.TempDir(), fmt.Sprintf("authly-dev-%x", sha256.Sum256([]byte(abs)))[:len("authly-dev-")+12])
			log.Info("the postgres user cannot reach the dev directory; keeping the cluster elsewhere", "dir", pgDir)
		}
		pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: pgDir, Port: 54329})
		if err != nil {
			return err
		}
		defer pg.Stop()
		if err := createDatabase(ctx, pg.URL("postgres"), "authly"); err != nil {
			return err
		}
		cfg.DatabaseURL = pg.URL("authly")
		srv, err := server.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
		secret, err := seedDemo(ctx, srv.Store())
		if err != nil {
			return err
		}
		var cp *localControlPlane
		if assets != "" {
			if cp, err = startControlPlane(ctx, assets, dir, cfg.Issuer, cfg.DatabaseURL, log); err != nil {
				return err
			}
			defer cp.Stop()
		}
		printDevBanner(cmd.OutOrStdout(), cfg, pg, secret, cp)
		return srv.Run(ctx)
	}
	return cmd
}

func portOf(listen string) string {
	for i := len(listen) - 1; i >= 0; i-- {
		if listen[i] == ':' {
			return listen[i+1:]
		}
	}
	return "8000"
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the database server: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// seedDemo creates the demo user, scope and client when missing, and gives the client a
// fresh secret, since only its hash is kept and the banner shows it.
func seedDemo(ctx context.Context, st *store.Store) (string, error) {
	reg := &registry.Registry{Store: st}
	if err := reg.CreateScope(ctx, &store.Scope{Name: demoScope, Description: "Read the demo resources"}); err != nil && !isExists(err) {
		return "", err
	}
	if err := reg.CreateUser(ctx, &store.User{Username: demoUser, Email: "demo@example.com", EmailVerified: true, Name: "Demo User"}, demoPassword); err != nil && !isExists(err) {
		return "", err
	}
	_, err := st.GetClient(ctx, demoClientID)
	if errors.Is(err, store.ErrNotFound) {
		secret, err := reg.CreateClient(ctx, &store.Client{
			ID: demoClientID, Name: "Demo client", Type: store.Confidential,
			GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials", "password"},
			RedirectURIs: []string{demoRedirect}, PostLogoutRedirectURIs: []string{"http://localhost:8080/"},
			Scopes: []string{"openid", "profile", "email", "offline_access", demoScope},
		})
		return secret, err
	}
	if err != nil {
		return "", err
	}
	return reg.RotateSecret(ctx, demoClientID, 0)
}

func isExists(err error) bool {
	var fe *registry.FieldError
	return errors.As(err, &fe) && (fe.Field == "name" || fe.Field == "username")
}

func printDevBanner(w io.Writer, cfg server.Config, pg *pgcluster.Cluster, secret string, cp *localControlPlane) {
	_, _ = fmt.Fprintf(w, `
Authly is running (development mode).

  Issuer        %[1]s
  Discovery     %[1]s/.well-known/openid-configuration
  Database      %[2]s
  Demo user     %[3]s / %[4]s
  Demo client   %[5]s / %[6]s
  Redirect URI  %[7]s

Get a token with the client_credentials grant:

  curl -s -u '%[5]s:%[6]s' -d grant_type=client_credentials -d scope=%[8]s %[1]s/api/v1/oauth/token

Or sign in as the demo user in a browser (authorization code + PKCE):

  %[1]s/api/v1/oauth/authorize?response_type=code&client_id=%[5]s&redirect_uri=%[7]s&scope=openid+profile&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256

  (then exchange the code with code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk)

`, cfg.Issuer, pg.URL("authly"), demoUser, demoPassword, demoClientID, secret, demoRedirect, demoScope)
	if cp != nil {
		_, _ = fmt.Fprintf(w, `
A local control plane runs the operator, with AuthServer %s/%s on this database:

  export KUBECONFIG=%s
  kubectl apply -f - <<EOF
%s
EOF
  kubectl get oauthclient my-app      # READY True; credentials in Secret my-app-oauth

`, devNamespace, devAuthServer, cp.kubeconfig, devClientManifest)
	}
	_, _ = fmt.Fprintln(w, "Ctrl-C stops everything this command started.")
}
