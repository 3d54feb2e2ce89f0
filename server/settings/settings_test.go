/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package settings

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestEnv(t *testing.T) {
	for flag, want := range map[string]string{
		FlagDatabaseURL:        "AUTHLY_DATABASE_URL",
		FlagIssuer:             "AUTHLY_ISSUER",
		FlagRateTokenPerClient: "AUTHLY_RATE_TOKEN_PER_CLIENT",
	} {
		if got := Env(flag); got != want {
			t.Errorf("Env(%q) = %q, want %q", flag, got, want)
		}
	}
}

// A Protocol built in code gets the same defaults as one built from flags.
func TestSetDefaultsAreTheDefaults(t *testing.T) {
	p := Protocol{Issuer: "https://auth.example.com/"}
	if err := p.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	want := DefaultProtocol()
	want.Issuer = "https://auth.example.com"
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("SetDefaults (-want +got):\n%s", diff)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestIssuerValidation(t *testing.T) {
	for _, issuer := range []string{"", "auth.example.com", "ftp://auth.example.com", "https://auth.example.com?x=1", "https://auth.example.com#f", "https://"} {
		p := DefaultProtocol()
		p.Issuer = issuer
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "issuer") {
			t.Errorf("Validate(issuer %q) = %v, want an error naming the issuer", issuer, err)
		}
		if err := p.SetDefaults(); err == nil {
			t.Errorf("SetDefaults(issuer %q) accepted it", issuer)
		}
	}
	p := DefaultProtocol()
	p.Issuer, p.RefreshTokenReuseInterval = "http://localhost:8000", 6*time.Minute
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), FlagRefreshTokenReuseInterval) {
		t.Errorf("Validate = %v, want an error naming %s", err, FlagRefreshTokenReuseInterval)
	}
}

func TestApplyEnv(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	issuer := fs.String(FlagIssuer, "", "")
	listen := fs.String(FlagListen, ":8000", "")
	url := fs.String("url", "", "")
	_ = fs.SetAnnotation("url", EnvAnnotation, []string{"AUTHLY_ADMIN_URL"})
	if err := fs.Parse([]string{"--listen", ":9000"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AUTHLY_ISSUER": "https://a", "AUTHLY_LISTEN": ":1", "AUTHLY_ADMIN_URL": "http://admin"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if *issuer != "https://a" || *listen != ":9000" || *url != "http://admin" {
		t.Errorf("issuer %q listen %q url %q; want the env's issuer and URL, the flag's listen", *issuer, *listen, *url)
	}
	if names := EnvNames(fs); names["AUTHLY_ADMIN_URL"] != "url" || names["AUTHLY_ISSUER"] != FlagIssuer {
		t.Errorf("EnvNames = %v", names)
	}
}

func TestClientKeySettingsValidation(t *testing.T) {
	for _, c := range []struct {
		lifetime time.Duration
		hosts    []string
		want     string
	}{
		{5 * time.Minute, []string{"keys.example.com", "10.0.0.0/8", "192.168.1.2", "fd00::/8"}, ""},
		{0, nil, FlagClientAssertionMaxLifetime},
		{2 * time.Hour, nil, FlagClientAssertionMaxLifetime},
		{time.Minute, []string{"https://keys.example.com"}, FlagClientKeysAllowedHosts},
		{time.Minute, []string{"10.0.0.0/33"}, FlagClientKeysAllowedHosts},
	} {
		p := DefaultProtocol()
		p.Issuer = "https://auth.example.com"
		p.ClientAssertionMaxLifetime, p.ClientKeysAllowedHosts = c.lifetime, c.hosts
		err := p.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("lifetime %s hosts %q: %v, want an error naming %q", c.lifetime, c.hosts, err, c.want)
		}
	}
}
