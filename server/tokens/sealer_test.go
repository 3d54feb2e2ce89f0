/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func testKEK() []byte {
	kek := make([]byte, 32)
	for i := range kek {
		kek[i] = byte(i + 1)
	}
	return kek
}

func newTestSealer(t *testing.T, kek []byte) *Sealer {
	t.Helper()
	s, err := NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealerRoundTrip(t *testing.T) {
	s := newTestSealer(t, testKEK())
	plain := []byte("pkcs8 bytes of a private key")
	sealed, err := s.Seal("kid-1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed key contains the plaintext")
	}
	if len(sealed) != 1+12+len(plain)+16 {
		t.Errorf("sealed length %d, want version+nonce+plaintext+tag = %d", len(sealed), 1+12+len(plain)+16)
	}
	got, err := s.Open("kid-1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("Open = %q, want %q", got, plain)
	}
	again, err := s.Seal("kid-1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: nonce is not random")
	}
}

func TestSealerRefuses(t *testing.T) {
	s := newTestSealer(t, testKEK())
	sealed, err := s.Seal("kid-1", []byte("secret key material"))
	if err != nil {
		t.Fatal(err)
	}
	otherKEK := testKEK()
	otherKEK[0] ^= 1
	other := newTestSealer(t, otherKEK)

	if _, err := s.Open("kid-2", sealed); err == nil {
		t.Error("Open with another kid succeeded: a row could be swapped")
	}
	if _, err := other.Open("kid-1", sealed); err == nil {
		t.Error("Open with another KEK succeeded")
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x40
		if _, err := s.Open("kid-1", tampered); err == nil {
			t.Errorf("Open succeeded with byte %d flipped", i)
		}
	}
	if _, err := s.Open("kid-1", sealed[:len(sealed)-1]); err == nil {
		t.Error("Open of a truncated key succeeded")
	}
	if _, err := s.Open("kid-1", nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
	if _, err := s.Seal("", []byte("x")); err == nil {
		t.Error("Seal with an empty kid succeeded")
	}
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded", n)
		}
	}
}

func TestParseKEK(t *testing.T) {
	kek := testKEK()
	for name, s := range map[string]string{
		"hex":               hex.EncodeToString(kek),
		"upper hex":         strings.ToUpper(hex.EncodeToString(kek)),
		"base64":            base64.StdEncoding.EncodeToString(kek),
		"base64 unpadded":   base64.RawStdEncoding.EncodeToString(kek),
		"base64url":         base64.URLEncoding.EncodeToString(kek),
		"base64url raw":     base64.RawURLEncoding.EncodeToString(kek),
		"with newline":      base64.StdEncoding.EncodeToString(kek) + "\n",
		"surrounded spaces": "  " + hex.EncodeToString(kek) + " ",
	} {
		got, err := ParseKEK(s)
		if err != nil {
			t.Errorf("ParseKEK(%s) error: %v", name, err)
			continue
		}
		if !bytes.Equal(got, kek) {
			t.Errorf("ParseKEK(%s) = %x, want %x", name, got, kek)
		}
	}
	// Bytes that encode with '+' and '/' in standard base64 and '-' and '_' in base64url.
	odd := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:32]
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if got, err := ParseKEK(enc.EncodeToString(odd)); err != nil || !bytes.Equal(got, odd) {
			t.Errorf("ParseKEK(%q) = %x, %v", enc.EncodeToString(odd), got, err)
		}
	}

	secretLooking := "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhay1pbnRvLWxvZ3M"
	for name, s := range map[string]string{
		"empty":           "",
		"16 bytes base64": base64.StdEncoding.EncodeToString(kek[:16]),
		"33 bytes base64": base64.StdEncoding.EncodeToString(append(bytes.Clone(kek), 0)),
		"62 hex":          hex.EncodeToString(kek)[:62],
		"64 non-hex":      strings.Repeat("g", 64),
		"passphrase":      "correct horse battery staple",
		"leaky":           secretLooking,
	} {
		_, err := ParseKEK(s)
		if err == nil {
			t.Errorf("ParseKEK(%s) succeeded", name)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("ParseKEK(%s) error repeats the input: %v", name, err)
		}
	}
}

func TestMarshalPrivate(t *testing.T) {
	keys := newTestKeys(t)
	s := newTestSealer(t, testKEK())
	for _, k := range []*Key{keys.es, keys.rs} {
		t.Run(k.Algorithm, func(t *testing.T) {
			for _, sealer := range []*Sealer{nil, s} {
				der, encrypted, err := MarshalPrivate(k, sealer)
				if err != nil {
					t.Fatal(err)
				}
				if encrypted != (sealer != nil) {
					t.Errorf("encrypted = %v with sealer %v", encrypted, sealer != nil)
				}
				if !encrypted {
					if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
						t.Errorf("unencrypted key is not PKCS#8: %v", err)
					}
				}
				signer, err := UnmarshalPrivate(k.KID, k.Algorithm, der, encrypted, sealer)
				if err != nil {
					t.Fatal(err)
				}
				pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
				if !ok || !pub.Equal(k.Private.Public()) {
					t.Error("round trip changed the key")
				}
			}
		})
	}

	der, _, err := MarshalPrivate(keys.es, s)
	if err != nil {
		t.Fatal(err)
	}
	plainDER, _, err := MarshalPrivate(keys.es, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"encrypted without sealer": func() error {
			_, err := UnmarshalPrivate(keys.es.KID, ES256, der, true, nil)
			return err
		},
		"clear with sealer configured": func() error {
			_, err := UnmarshalPrivate(keys.es.KID, ES256, plainDER, false, s)
			return err
		},
		"encrypted under another kid": func() error {
			_, err := UnmarshalPrivate(keys.rs.KID, ES256, der, true, s)
			return err
		},
		"ES256 key read as RS256": func() error {
			_, err := UnmarshalPrivate(keys.es.KID, RS256, plainDER, false, nil)
			return err
		},
		"garbage": func() error {
			_, err := UnmarshalPrivate("kid", ES256, []byte("not DER"), false, nil)
			return err
		},
		"P-384 as ES256": func() error {
			p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := x509.MarshalPKCS8PrivateKey(p384)
			if err != nil {
				t.Fatal(err)
			}
			_, err = UnmarshalPrivate("kid", ES256, b, false, nil)
			return err
		},
		"marshal nil key": func() error {
			_, _, err := MarshalPrivate(nil, s)
			return err
		},
		"marshal with mismatched algorithm": func() error {
			_, _, err := MarshalPrivate(&Key{KID: "k", Algorithm: RS256, Private: keys.es.Private}, nil)
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: succeeded", name)
		}
	}
}
