/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package credentials

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of a password hash.
type PasswordParams struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultPasswordParams is the OWASP Password Storage Cheat Sheet's first argon2id
// configuration (19 MiB, 2 iterations, 1 lane), with a 16-byte salt and a 32-byte key.
var DefaultPasswordParams = PasswordParams{
	Memory:      19456,
	Iterations:  2,
	Parallelism: 1,
	SaltLen:     16,
	KeyLen:      32,
}

// Bounds on the parameters this package hashes with or accepts from a stored hash. The
// upper bounds exist so that a hostile hash written into the database (or a typo in the
// configuration) cannot make a single login allocate gigabytes or run for minutes: 64 MiB
// and 10 passes are above every recommended profile (RFC 9106 section 4 and OWASP).
const (
	maxMemoryKiB   = 64 * 1024
	maxIterations  = 10
	maxParallelism = 8
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
)

// ErrMalformedHash is returned (wrapped) by VerifyPassword for an encoded hash it cannot
// read or whose parameters are out of bounds.
var ErrMalformedHash = errors.New("credentials: malformed argon2id hash")

// Validate reports whether p is within the bounds this package accepts.
func (p PasswordParams) Validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("argon2id iterations %d out of range [1, %d]", p.Iterations, maxIterations)
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return fmt.Errorf("argon2id parallelism %d out of range [1, %d]", p.Parallelism, maxParallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemoryKiB:
		// argon2 needs at least 8 KiB per lane.
		return fmt.Errorf("argon2id memory %d KiB out of range [%d, %d]", p.Memory, 8*uint32(p.Parallelism), maxMemoryKiB)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d out of range [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashPassword hashes password with argon2id and a random salt read from rand (nil means
// crypto/rand), and returns the PHC string form
// $argon2id$v=19$m=<memory>,t=<iterations>,p=<parallelism>$<salt>$<hash>
// with salt and hash in unpadded standard base64, as the reference implementation and
// most libraries write it.
func HashPassword(p PasswordParams, password string, rand io.Reader) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("credentials: hash password: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if err := readRandom(rand, salt); err != nil {
		return "", fmt.Errorf("credentials: hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

func encodePHC(p PasswordParams, salt, key []byte) string {
	b := make([]byte, 0, 40+base64.RawStdEncoding.EncodedLen(len(salt))+base64.RawStdEncoding.EncodedLen(len(key)))
	b = append(b, "$argon2id$v="...)
	b = strconv.AppendUint(b, argon2.Version, 10)
	b = append(b, "$m="...)
	b = strconv.AppendUint(b, uint64(p.Memory), 10)
	b = append(b, ",t="...)
	b = strconv.AppendUint(b, uint64(p.Iterations), 10)
	b = append(b, ",p="...)
	b = strconv.AppendUint(b, uint64(p.Parallelism), 10)
	b = append(b, '$')
	b = base64.RawStdEncoding.AppendEncode(b, salt)
	b = append(b, '$')
	b = base64.RawStdEncoding.AppendEncode(b, key)
	return string(b)
}

// VerifyPassword reports whether password matches the argon2id hash encoded (PHC string
// form, as HashPassword writes it). The parameters are read from encoded; a hash that is
// malformed, of another algorithm or version, or whose parameters are out of bounds is an
// error wrapping ErrMalformedHash, and no hashing is done for it. A wrong password is
// (false, nil). The comparison is constant time.
func VerifyPassword(encoded, password string) (ok bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than p (or cannot be
// read at all), so that the caller should store a new hash after the next successful login.
func NeedsRehash(encoded string, p PasswordParams) bool {
	got, _, _, err := decodePHC(encoded)
	return err != nil || got != p
}

// DummyVerify spends the time and memory of verifying password against a hash made with p,
// and throws the result away. Call it when the user does not exist, so that the response
// time does not tell existing usernames from the others. Parameters out of bounds are
// replaced by DefaultPasswordParams.
func DummyVerify(p PasswordParams, password string) {
	if p.Validate() != nil {
		p = DefaultPasswordParams
	}
	salt := make([]byte, p.SaltLen)
	want := make([]byte, p.KeyLen)
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	subtle.ConstantTimeCompare(got, want)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

// decodePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func decodePHC(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return p, nil, nil, malformed("want 5 '$'-separated fields")
	}
	if fields[1] != "argon2id" {
		return p, nil, nil, malformed("algorithm %q is not argon2id", truncate(fields[1]))
	}
	version, ok := strings.CutPrefix(fields[2], "v=")
	if !ok || version != strconv.Itoa(argon2.Version) {
		return p, nil, nil, malformed("version %q is not v=%d", truncate(fields[2]), argon2.Version)
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return p, nil, nil, malformed("want parameters m=,t=,p=")
	}
	m, err := parseParam(params[0], "m", 32)
	if err != nil {
		return p, nil, nil, err
	}
	t, err := parseParam(params[1], "t", 32)
	if err != nil {
		return p, nil, nil, err
	}
	par, err := parseParam(params[2], "p", 8)
	if err != nil {
		return p, nil, nil, err
	}
	p.Memory, p.Iterations, p.Parallelism = uint32(m), uint32(t), uint8(par)

	// Bound the lengths before decoding so a huge field costs nothing.
	if len(fields[4]) > base64.RawStdEncoding.EncodedLen(maxSaltLen) {
		return p, nil, nil, malformed("salt too long")
	}
	if len(fields[5]) > base64.RawStdEncoding.EncodedLen(maxKeyLen) {
		return p, nil, nil, malformed("hash too long")
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(fields[4])
	if err != nil {
		return p, nil, nil, malformed("salt is not unpadded base64")
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(fields[5])
	if err != nil {
		return p, nil, nil, malformed("hash is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return p, nil, nil, malformed("%v", err)
	}
	return p, salt, key, nil
}

func parseParam(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, malformed("want parameter %s=", name)
	}
	// ParseUint accepts no sign and no spaces; refuse leading zeros too, so that one hash
	// has one spelling.
	if len(v) > 1 && v[0] == '0' {
		return 0, malformed("parameter %s has leading zeros", name)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, malformed("parameter %s is not a number in range", name)
	}
	return n, nil
}

// truncate keeps error messages short when the input is garbage.
func truncate(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}
