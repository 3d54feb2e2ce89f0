/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzVerifyAccessToken feeds arbitrary strings to the verifier: it must never panic, must
// refuse with an error wrapping ErrInvalidToken, and must only accept tokens whose claims
// are complete. Seeds: valid tokens of both algorithms (the keys and clock are fixed, so
// the files under testdata/fuzz stay valid), truncated and tampered ones.
func FuzzVerifyAccessToken(f *testing.F) {
	fx := newFixture(f)
	for _, alg := range []string{ES256, RS256} {
		tok := fx.accessToken(f, alg)
		parts := strings.Split(tok, ".")
		f.Add(tok)
		f.Add(tok[:len(tok)/2])
		f.Add(tok[:len(tok)-1])
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
		f.Add(parts[1] + "." + parts[0] + "." + parts[2])
		f.Add(strings.ToUpper(tok))
		f.Add(tok + "." + tok)
	}
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1e400}`)) + ".AAAA")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6W119.e30.AAAA")

	f.Fuzz(func(t *testing.T, token string) {
		va, err := fx.verifier.VerifyAccessToken(token)
		if err != nil {
			if va != nil {
				t.Errorf("claims returned with error %v", err)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if va == nil || va.Subject == "" || va.ClientID == "" || va.JTI == "" || len(va.Audience) == 0 {
			t.Errorf("accepted token with incomplete claims: %+v", va)
		}
		if !va.ExpiresAt.After(t0.Add(-fx.verifier.Leeway)) {
			t.Errorf("accepted an expired token: %+v", va)
		}
	})
}

// TestFuzzCorpusValidSeeds checks that the valid tokens kept in testdata/fuzz still verify
// (fixed keys, fixed clock), so that the fuzzer starts from accepted inputs.
func TestFuzzCorpusValidSeeds(t *testing.T) {
	fx := newFixture(t)
	for _, name := range []string{"valid-es256", "valid-rs256"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerifyAccessToken", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a fuzz corpus file", name)
		}
		tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := fx.verifier.VerifyAccessToken(tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
