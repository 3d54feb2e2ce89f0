/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package specs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/settings"
)

// serverConfigFromEnv reads a container's env the way `authly server` does: its flag set
// (server.BindCommandFlags) filled from the environment (settings.ApplyEnv). A variable
// taken from a Secret reads as "secret:<name>/<key>". An AUTHLY_* variable the server does
// not read is an error.
func serverConfigFromEnv(c corev1.Container) (server.Config, error) {
	cfg := server.DefaultConfig()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	finish := server.BindCommandFlags(fs, &cfg)
	if err := fs.Parse(nil); err != nil {
		return cfg, err
	}
	known := settings.EnvNames(fs)
	env := map[string]string{}
	var errs []error
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, settings.EnvPrefix) {
			continue
		}
		if _, ok := known[e.Name]; !ok {
			errs = append(errs, fmt.Errorf("%s is not read by `authly server`", e.Name))
		}
		v := e.Value
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			v = "secret:" + ref.SecretKeyRef.Name + "/" + ref.SecretKeyRef.Key
		}
		env[e.Name] = v
	}
	if err := settings.ApplyEnv(fs, func(name string) (string, bool) { v, ok := env[name]; return v, ok }); err != nil {
		errs = append(errs, err)
	} else if err := finish(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// Every variable the operator renders into the server's Deployment is accepted by
// `authly server` and sets the setting the AuthServer's spec asked for.
func TestAuthServerEnvIsReadByTheServer(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(as *authlyv1.AuthServer)
		want   func(cfg *server.Config)
	}{
		{
			name: "default test AuthServer",
		},
		{
			name: "no tokens or rate limits declared",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.Tokens, as.Spec.RateLimits = nil, nil
			},
		},
		{
			name: "tokens, reuse interval, TLS, own key-encryption key",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.Replicas = ptr.To[int32](3)
				as.Spec.Tokens = &authlyv1.TokenSpec{
					AccessTokenTTL:            &metav1.Duration{Duration: 5 * time.Minute},
					RefreshTokenTTL:           &metav1.Duration{Duration: 48 * time.Hour},
					RefreshTokenReuseInterval: &metav1.Duration{Duration: 30 * time.Second},
					AccessTokenAlgorithm:      authlyv1.RS256,
					IDTokenAlgorithm:          authlyv1.ES256,
				}
				as.Spec.RateLimits = &authlyv1.RateLimitSpec{TokenPerClientPerSecond: 7, TokenPerIPPerSecond: 13, LoginPerIPPerMinute: 11}
				as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "auth-tls"}
				as.Spec.KeyEncryptionKeySecretRef = &authlyv1.KeySecretRef{Name: "vault-kek", Key: "kek"}
			},
			want: func(cfg *server.Config) {
				cfg.TLSCertFile, cfg.TLSKeyFile = "/etc/authly/tls/tls.crt", "/etc/authly/tls/tls.key"
				cfg.KeyEncryptionKey = "secret:vault-kek/kek"
			},
		},
		{
			name: "client keys: allowed hosts and assertion lifetime",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.ClientKeys = &authlyv1.ClientKeysSpec{
					AllowedHosts:         []string{"keys.internal.example", "10.0.0.0/8", "fd00::1"},
					MaxAssertionLifetime: &metav1.Duration{Duration: 2 * time.Minute},
				}
			},
			want: func(cfg *server.Config) {
				cfg.ClientKeysAllowedHosts = []string{"keys.internal.example", "10.0.0.0/8", "fd00::1"}
				cfg.ClientAssertionMaxLifetime = 2 * time.Minute
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := testAuthServer()
			if tt.mutate != nil {
				tt.mutate(as)
			}
			plan := replicasPlan(as)
			d := Deployment(as, plan, "img", "hash")
			got, err := serverConfigFromEnv(d.Spec.Template.Spec.Containers[0])
			if err != nil {
				t.Fatalf("authly server refuses the rendered env: %v", err)
			}

			// What the spec and the plan ask for, over the server's defaults.
			want := server.DefaultConfig()
			want.Issuer = as.Spec.Issuer
			want.Listen = ":8000"
			want.LogFormat = "json"
			want.DatabaseURL = "secret:" + as.Spec.Database.SecretRef.Name + "/" + as.Spec.Database.SecretRef.Key
			kek := as.KeyEncryptionKeyRef()
			want.KeyEncryptionKey = "secret:" + kek.Name + "/" + kek.Key
			want.PoolMinConns, want.PoolMaxConns = plan.PoolMinConns, plan.PoolMaxConns
			want.Replicas = int(max(plan.MinReplicas, 1))
			if rl := as.Spec.RateLimits; rl != nil {
				want.TokenPerClientPerSecond = float64(rl.TokenPerClientPerSecond)
				want.LoginPerIPPerMinute = float64(rl.LoginPerIPPerMinute)
				if rl.TokenPerIPPerSecond > 0 {
					want.TokenPerIPPerSecond = float64(rl.TokenPerIPPerSecond)
				}
			}
			if tk := as.Spec.Tokens; tk != nil {
				if tk.AccessTokenTTL != nil {
					want.AccessTokenTTL = tk.AccessTokenTTL.Duration
				}
				if tk.RefreshTokenTTL != nil {
					want.RefreshTokenTTL = tk.RefreshTokenTTL.Duration
				}
				if tk.RefreshTokenReuseInterval != nil {
					want.RefreshTokenReuseInterval = tk.RefreshTokenReuseInterval.Duration
				}
				if tk.AccessTokenAlgorithm != "" {
					want.AccessTokenAlg = string(tk.AccessTokenAlgorithm)
				}
				if tk.IDTokenAlgorithm != "" {
					want.IDTokenAlg = string(tk.IDTokenAlgorithm)
				}
			}
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Clock" }, cmp.Ignore())); diff != "" {
				t.Errorf("server.Config from the rendered env (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the server rejects the rendered settings: %v", err)
			}
		})
	}
}

// The reading above refuses a variable the server would not read, and a value it cannot
// parse.
func TestServerConfigFromEnvRefusesWhatTheServerWouldNot(t *testing.T) {
	for _, e := range []corev1.EnvVar{
		{Name: "AUTHLY_NO_SUCH_SETTING", Value: "1"},
		{Name: settings.Env(settings.FlagAccessTokenTTL), Value: "fifteen minutes"},
	} {
		_, err := serverConfigFromEnv(corev1.Container{Env: []corev1.EnvVar{e}})
		if err == nil || !strings.Contains(err.Error(), e.Name) {
			t.Errorf("%s=%s: error %v, want one naming it", e.Name, e.Value, err)
		}
	}
}
