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

	"github.com/spf13/cobra"

	"github.com/authly-dev/authly-operator/server/admin"
)

// maxJWKSFile bounds the JWKS file read.
const maxJWKSFile = 1 << 20

// newAdminFederatedIssuerCommand stores a federated issuer's keys, for clients that
// authenticate with its tokens (Kubernetes ServiceAccount tokens) when no operator does.
func newAdminFederatedIssuerCommand(env *adminEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "federated-issuer", Short: "Manage the issuers whose tokens clients may authenticate with"}
	var req admin.FederatedIssuerRequest
	var jwksFile string
	set := &cobra.Command{
		Use:   "set",
		Short: "Store (or replace) an issuer's JWKS; for a cluster: kubectl get --raw /openid/v1/jwks > jwks.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := cmd.InOrStdin()
			if jwksFile != "-" {
				f, err := os.Open(jwksFile)
				if err != nil {
					return fmt.Errorf("read the JWKS: %w", err)
				}
				defer func() { _ = f.Close() }()
				in = f
			}
			raw, err := io.ReadAll(io.LimitReader(in, maxJWKSFile))
			if err != nil {
				return fmt.Errorf("read the JWKS: %w", err)
			}
			if !json.Valid(raw) {
				return fmt.Errorf("%s is not JSON", jwksFile)
			}
			req.JWKS = raw
			return env.run(cmd, func(ctx context.Context, b adminBackend) error {
				fi, err := b.setFederatedIssuer(ctx, req)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), fi)
			})
		},
	}
	set.Flags().StringVar(&req.Issuer, "issuer", "", "the iss of the issuer's tokens (for a cluster: the issuer in kubectl get --raw /.well-known/openid-configuration)")
	set.Flags().StringVar(&jwksFile, "jwks-file", "-", "file holding the JWKS; - reads standard input")
	cmd.AddCommand(set)
	return cmd
}
