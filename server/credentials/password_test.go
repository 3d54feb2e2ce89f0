/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package credentials

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// cheapParams keep the tests fast; the format and logic do not depend on the cost.
var cheapParams = PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashPasswordFormat(t *testing.T) {
	encoded, err := HashPassword(DefaultPasswordParams, "correct horse", &counter{})
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = byte(i)
	}
	prefix := "$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("HashPassword = %q, want prefix %q", encoded, prefix)
	}
	key := strings.TrimPrefix(encoded, prefix)
	if raw, err := base64.RawStdEncoding.DecodeString(key); err != nil || len(raw) != 32 {
		t.Errorf("hash part %q: %d bytes, err %v; want 32 bytes of unpadded base64", key, len(raw), err)
	}
	ok, err := VerifyPassword(encoded, "correct horse")
	if err != nil || !ok {
		t.Errorf("VerifyPassword(own hash) = %v, %v; want true, nil", ok, err)
	}
	if NeedsRehash(encoded, DefaultPasswordParams) {
		t.Error("NeedsRehash with the same parameters = true")
	}
}

// TestVerifyPasswordKnownVector checks interoperability with other argon2id
// implementations: the hash below comes from the reference implementation's CLI
// (echo -n password | argon2 somesalt -id -t 3 -k 256 -p 2 -l 24), as listed in
// golang.org/x/crypto/argon2's test vectors.
func TestVerifyPasswordKnownVector(t *testing.T) {
	key, _ := hex.DecodeString("4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b")
	encoded := "$argon2id$v=19$m=256,t=3,p=2$" +
		base64.RawStdEncoding.EncodeToString([]byte("somesalt")) + "$" +
		base64.RawStdEncoding.EncodeToString(key)
	ok, err := VerifyPassword(encoded, "password")
	if err != nil || !ok {
		t.Errorf("VerifyPassword(reference vector) = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(encoded, "Password")
	if err != nil || ok {
		t.Errorf("VerifyPassword(reference vector, wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPassword(t *testing.T) {
	encoded, err := HashPassword(cheapParams, "s3cret", &counter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"s3cret", true},
		{"s3cret ", false},
		{"S3cret", false},
		{"", false},
	} {
		ok, err := VerifyPassword(encoded, tt.password)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v, nil", tt.password, ok, err, tt.want)
		}
	}

	other, err := HashPassword(cheapParams, "s3cret", &counter{n: 1})
	if err != nil {
		t.Fatal(err)
	}
	if other == encoded {
		t.Error("two salts gave the same encoded hash")
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, err := HashPassword(cheapParams, "pw", &counter{})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, hash
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := map[string]string{
		"empty":                  "",
		"bcrypt":                 "$2a$10$abcdefghijklmnopqrstuu5Lk9uQ0dGSZgvmAIbl7CFbSXGzCWW6W",
		"argon2i":                with(1, "argon2i"),
		"version 16":             with(2, "v=16"),
		"no version":             with(2, "19"),
		"too few fields":         strings.Join(parts[:5], "$"),
		"too many fields":        good + "$x",
		"no leading dollar":      strings.TrimPrefix(good, "$"),
		"params out of order":    with(3, "t=1,m=64,p=1"),
		"missing param":          with(3, "m=64,t=1"),
		"extra param":            with(3, "m=64,t=1,p=1,keyid=x"),
		"negative memory":        with(3, "m=-64,t=1,p=1"),
		"signed memory":          with(3, "m=+64,t=1,p=1"),
		"leading zero":           with(3, "m=064,t=1,p=1"),
		"memory overflow":        with(3, "m=4294967296,t=1,p=1"),
		"absurd memory":          with(3, "m=4194304,t=1,p=1"),
		"memory below 8 per p":   with(3, "m=8,t=1,p=2"),
		"absurd iterations":      with(3, "m=64,t=1000000,p=1"),
		"zero iterations":        with(3, "m=64,t=0,p=1"),
		"absurd parallelism":     with(3, "m=1024,t=1,p=255"),
		"parallelism overflow":   with(3, "m=64,t=1,p=256"),
		"zero parallelism":       with(3, "m=64,t=1,p=0"),
		"padded salt":            with(4, parts[4]+"=="),
		"salt not base64":        with(4, "!!!!!!!!!!!!!!!!!!!!!!"),
		"short salt":             with(4, base64.RawStdEncoding.EncodeToString([]byte("1234567"))),
		"huge salt":              with(4, strings.Repeat("A", 1<<20)),
		"short hash":             with(5, base64.RawStdEncoding.EncodeToString(make([]byte, 8))),
		"huge hash":              with(5, strings.Repeat("A", 1<<20)),
		"empty hash":             with(5, ""),
		"url-safe base64 salt":   with(4, "_-"+parts[4][2:]),
		"non-canonical trailing": with(5, parts[5][:len(parts[5])-1]+"B"),
	}
	for name, encoded := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(encoded, "pw")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("VerifyPassword(%.60q) = %v, %v; want false, ErrMalformedHash", encoded, ok, err)
			}
			if !NeedsRehash(encoded, cheapParams) {
				t.Errorf("NeedsRehash(%.60q) = false for an unreadable hash", encoded)
			}
		})
	}
}

func TestHashPasswordRefusesBadParams(t *testing.T) {
	for name, p := range map[string]PasswordParams{
		"zero":          {},
		"huge memory":   {Memory: 1 << 30, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"short salt":    {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 4, KeyLen: 32},
		"short key":     {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 4},
		"too many lane": {Memory: 1024, Iterations: 1, Parallelism: 100, SaltLen: 16, KeyLen: 32},
	} {
		if _, err := HashPassword(p, "pw", &counter{}); err == nil {
			t.Errorf("HashPassword(%s params %+v) succeeded, want an error", name, p)
		}
	}
	if _, err := HashPassword(cheapParams, "pw", brokenReader{}); !errors.Is(err, errBrokenRand) {
		t.Errorf("HashPassword(broken rand) error = %v, want %v", err, errBrokenRand)
	}
	if err := DefaultPasswordParams.Validate(); err != nil {
		t.Errorf("DefaultPasswordParams.Validate() = %v", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	encoded, err := HashPassword(cheapParams, "pw", &counter{})
	if err != nil {
		t.Fatal(err)
	}
	if NeedsRehash(encoded, cheapParams) {
		t.Error("NeedsRehash(same params) = true")
	}
	for name, mutate := range map[string]func(*PasswordParams){
		"memory":      func(p *PasswordParams) { p.Memory *= 2 },
		"iterations":  func(p *PasswordParams) { p.Iterations++ },
		"parallelism": func(p *PasswordParams) { p.Parallelism++ },
		"salt length": func(p *PasswordParams) { p.SaltLen++ },
		"key length":  func(p *PasswordParams) { p.KeyLen++ },
	} {
		p := cheapParams
		mutate(&p)
		if !NeedsRehash(encoded, p) {
			t.Errorf("NeedsRehash after changing %s = false", name)
		}
	}
}

func TestDummyVerifyDoesNotPanic(t *testing.T) {
	// DummyVerify returns nothing; what can be checked is that it copes with any params,
	// including ones that would make argon2 panic (zero parallelism) or explode.
	for _, p := range []PasswordParams{cheapParams, {}, {Memory: 1 << 31, Iterations: 1 << 30, Parallelism: 1}} {
		DummyVerify(p, "pw")
	}
	p := PasswordParams{Parallelism: 0}
	if p.Validate() == nil {
		t.Error("Validate accepted zero parallelism")
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	encoded, err := HashPassword(DefaultPasswordParams, "correct horse battery staple", &counter{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := VerifyPassword(encoded, "correct horse battery staple")
		if err != nil || !ok {
			b.Fatalf("VerifyPassword = %v, %v", ok, err)
		}
	}
}

func BenchmarkDummyVerify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DummyVerify(DefaultPasswordParams, "correct horse battery staple")
	}
}
