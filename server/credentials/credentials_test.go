/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package credentials

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// counter is a deterministic io.Reader: 0, 1, 2, ... 255, 0, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

var errBrokenRand = errors.New("rand is broken")

type brokenReader struct{}

func (brokenReader) Read([]byte) (int, error) { return 0, errBrokenRand }

func TestNewClientSecret(t *testing.T) {
	got, err := NewClientSecret(&counter{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 32)
	for i := range want {
		want[i] = byte(i)
	}
	if exp := base64.RawURLEncoding.EncodeToString(want); got != exp {
		t.Errorf("NewClientSecret = %q, want %q", got, exp)
	}
	if len(got) != 43 || strings.ContainsAny(got, "+/=") {
		t.Errorf("secret %q is not 43 characters of unpadded base64url", got)
	}

	a, err := NewClientSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewClientSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 43 {
		t.Errorf("crypto/rand secrets %q and %q: want two distinct 43-character strings", a, b)
	}

	if _, err := NewClientSecret(brokenReader{}); !errors.Is(err, errBrokenRand) {
		t.Errorf("NewClientSecret(broken) error = %v, want %v", err, errBrokenRand)
	}
	if _, err := NewClientSecret(strings.NewReader("short")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("NewClientSecret(short reader) error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestHashSecret(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	want, _ := hex.DecodeString("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
	if got := HashSecret("abc"); !bytes.Equal(got, want) {
		t.Errorf("HashSecret(abc) = %x, want %x", got, want)
	}
	if got := HashToken("abc"); !bytes.Equal(got, want) {
		t.Errorf("HashToken(abc) = %x, want %x", got, want)
	}
}

func TestSecretMatches(t *testing.T) {
	current := HashSecret("current-secret")
	previous := HashSecret("previous-secret")
	tests := []struct {
		name   string
		secret string
		hashes [][]byte
		want   bool
	}{
		{"current", "current-secret", [][]byte{current, previous}, true},
		{"previous during rotation", "previous-secret", [][]byte{current, previous}, true},
		{"no previous secret", "current-secret", [][]byte{current, nil}, true},
		{"wrong secret", "other", [][]byte{current, previous}, false},
		{"empty secret against empty hashes", "", [][]byte{nil, {}}, false},
		{"empty secret against real hash", "", [][]byte{current}, false},
		{"no hashes", "current-secret", nil, false},
		{"truncated hash", "current-secret", [][]byte{current[:31]}, false},
		{"prefix of the secret", "current-secre", [][]byte{current}, false},
		{"the hash itself as secret", string(current), [][]byte{current}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SecretMatches(tt.secret, tt.hashes...); got != tt.want {
				t.Errorf("SecretMatches(%q) = %v, want %v", tt.secret, got, tt.want)
			}
		})
	}
}

func TestNewToken(t *testing.T) {
	r := &counter{}
	a, err := NewToken(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken(r)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two tokens from one reader are equal: %q", a)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Errorf("token %q: decoded %d bytes, err %v; want 32 bytes of base64url", a, len(raw), err)
	}
	if raw[0] != 0 || raw[31] != 31 {
		t.Errorf("token bytes %x do not come from the reader", raw)
	}
	if _, err := NewToken(brokenReader{}); !errors.Is(err, errBrokenRand) {
		t.Errorf("NewToken(broken) error = %v, want %v", err, errBrokenRand)
	}
}

func TestPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := S256Challenge(verifier); got != challenge {
		t.Errorf("S256Challenge = %q, want %q", got, challenge)
	}
	if !ValidVerifier(verifier) {
		t.Error("RFC 7636 verifier reported invalid")
	}
	if !ValidChallenge(challenge) {
		t.Error("RFC 7636 challenge reported invalid")
	}
	if S256Challenge(verifier[:42]+"Y") == challenge {
		t.Error("another verifier has the RFC 7636 challenge")
	}
}

func TestValidVerifier(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 129), false},
		{"", false},
		{strings.Repeat("A", 20) + "-._~" + strings.Repeat("9", 19), true},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "/", false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + " ", false},
		{strings.Repeat("a", 41) + "é", false}, // 43 bytes, not unreserved
		{strings.Repeat("a", 42) + "\x00", false},
	}
	for _, tt := range tests {
		if got := ValidVerifier(tt.v); got != tt.want {
			t.Errorf("ValidVerifier(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestValidChallenge(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	good := base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		c    string
		want bool
	}{
		{good, true},
		{good[:42], false},
		{good + "A", false},
		{base64.URLEncoding.EncodeToString(sum[:]), false}, // padded
		{base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), false},
		{strings.Repeat("A", 42) + "B", false}, // stray bits in the last character
		{strings.Repeat("A", 42) + "E", true},
		{strings.Repeat("-", 42) + "8", true},
		{strings.Repeat("A", 42) + ".", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidChallenge(tt.c); got != tt.want {
			t.Errorf("ValidChallenge(%q) = %v, want %v", tt.c, got, tt.want)
		}
	}
}

func BenchmarkSecretMatches(b *testing.B) {
	secret, err := NewClientSecret(&counter{})
	if err != nil {
		b.Fatal(err)
	}
	current, previous := HashSecret(secret), HashSecret("previous")
	b.ReportAllocs()
	for b.Loop() {
		if !SecretMatches(secret, current, previous) {
			b.Fatal("secret does not match")
		}
	}
}

func BenchmarkHashSecretAndMatch(b *testing.B) {
	secret, err := NewClientSecret(&counter{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h := HashSecret(secret)
		if !SecretMatches(secret, h, nil) {
			b.Fatal("secret does not match")
		}
	}
}

func TestOrderedTokenAndStorageKey(t *testing.T) {
	at := time.UnixMilli(0x0123456789ab).Add(999 * time.Microsecond) // sub-millisecond part dropped
	tok, err := NewOrderedToken(&counter{}, at)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(tok) != 51 || len(raw) != 38 {
		t.Fatalf("token %q: %d characters, %d bytes (%v); want 51 characters of base64url, 38 bytes", tok, len(tok), len(raw), err)
	}
	wantRaw := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}
	for i := range 32 {
		wantRaw = append(wantRaw, byte(i))
	}
	if !bytes.Equal(raw, wantRaw) {
		t.Errorf("token bytes %x, want the time then the reader's bytes: %x", raw, wantRaw)
	}

	sum := sha256.Sum256([]byte(tok))
	if got, want := StorageKey(tok), append([]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}, sum[:]...); !bytes.Equal(got, want) {
		t.Errorf("StorageKey(%q) = %x, want the time prefix then the SHA-256: %x", tok, got, want)
	}
	// Tokens of NewToken's form, and anything else, are keyed by their SHA-256 alone, so
	// that tokens issued before ordered ones existed are still found.
	old, err := NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := "!" + tok[1:] // ordered length, but no base64url
	for _, s := range []string{old, "", "abc", bad, tok + "A"} {
		if got := StorageKey(s); !bytes.Equal(got, HashToken(s)) {
			t.Errorf("StorageKey(%q) = %x, want its SHA-256 %x", s, got, HashToken(s))
		}
	}

	// Keys sort by issue time, whatever the random part.
	earlier, err := NewOrderedToken(nil, at.Add(-time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	later, err := NewOrderedToken(nil, at.Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if k, e, l := StorageKey(tok), StorageKey(earlier), StorageKey(later); bytes.Compare(e, k) >= 0 || bytes.Compare(k, l) >= 0 {
		t.Errorf("keys %x, %x, %x of tokens issued a millisecond apart are not in time order", e, k, l)
	}
	if _, err := NewOrderedToken(brokenReader{}, at); !errors.Is(err, errBrokenRand) {
		t.Errorf("NewOrderedToken(broken) error = %v, want %v", err, errBrokenRand)
	}
}

func TestNewOrderedID(t *testing.T) {
	at := time.UnixMilli(0x0123456789ab)
	id, err := NewOrderedID(&counter{}, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0123456789ab" + "00010203040506070809"; id != want {
		t.Errorf("NewOrderedID = %q, want %q", id, want)
	}
	next, err := NewOrderedID(nil, at.Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 32 || next <= id {
		t.Errorf("id %q a millisecond later does not sort after %q as text", next, id)
	}
	if before, _ := NewOrderedID(nil, time.Unix(-5, 0)); before[:12] != "000000000000" {
		t.Errorf("an id before 1970 starts %q, want the time clamped to zero", before[:12])
	}
	if _, err := NewOrderedID(brokenReader{}, at); !errors.Is(err, errBrokenRand) {
		t.Errorf("NewOrderedID(broken) error = %v, want %v", err, errBrokenRand)
	}
}
