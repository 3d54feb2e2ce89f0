/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const testCerts = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// fakeELF is the smallest ELF executable debug/elf accepts: a header and one program header,
// PT_LOAD for a static binary or PT_INTERP for a dynamically linked one. It never runs; the
// tool only looks at it.
func fakeELF(t *testing.T, machine elf.Machine, progType elf.ProgType) []byte {
	t.Helper()
	var buf bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	prog := elf.Prog64{Type: uint32(progType), Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000}
	for _, v := range []any{hdr, prog} {
		if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// files writes a fake static binary and a CA bundle and returns their paths.
func files(t *testing.T) (binPath, certsPath string) {
	t.Helper()
	dir := t.TempDir()
	binPath = filepath.Join(dir, "authly")
	certsPath = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(binPath, fakeELF(t, elf.EM_X86_64, elf.PT_LOAD), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certsPath, []byte(testCerts), 0o644); err != nil {
		t.Fatal(err)
	}
	return binPath, certsPath
}

// build runs the CLI as `make image` does and reads the tarball back.
func build(t *testing.T, env map[string]string, extra ...string) (v1.Image, string) {
	t.Helper()
	binPath, certsPath := files(t)
	out := filepath.Join(t.TempDir(), "image.tar")
	args := append([]string{
		"--binary", binPath, "--ca-certs", certsPath, "--name", "authly",
		"--tag", "localhost/authly:dev", "--out", out, "--arch", "amd64",
	}, extra...)
	if err := run(args, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("run: %v", err)
	}
	tag, err := name.NewTag("localhost/authly:dev")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading %s back: %v", out, err)
	}
	return img, out
}

func TestImageConfig(t *testing.T) {
	img, _ := build(t, nil,
		"--version", "v1.2.3", "--revision", "0123abc", "--source", "https://example.com/authly",
		"--port", "8000", "--arg", "server", "--arg", "--listen=:8000")
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User:         "65532:65532",
		Entrypoint:   []string{"/authly"},
		Cmd:          []string{"server", "--listen=:8000"},
		Env:          []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"8000/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "authly",
			"org.opencontainers.image.version":  "v1.2.3",
			"org.opencontainers.image.revision": "0123abc",
			"org.opencontainers.image.source":   "https://example.com/authly",
		},
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %v, want the Unix epoch", cf.Created.Time)
	}
}

func TestImageWithoutOptionalFlags(t *testing.T) {
	img, _ := build(t, nil)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.ExposedPorts != nil || cf.Config.Cmd != nil {
		t.Errorf("ports %v, cmd %v: want none without --port and --arg", cf.Config.ExposedPorts, cf.Config.Cmd)
	}
	if diff := cmp.Diff(map[string]string{"org.opencontainers.image.title": "authly"}, cf.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// layerEntry is what the test checks of each file in the layer.
type layerEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  int64
	Content  string
}

func TestLayerHoldsExactlyTheExpectedFiles(t *testing.T) {
	img, _ := build(t, nil)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]layerEntry{}
	var order []string
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = layerEntry{hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime.Unix(), string(content)}
		order = append(order, hdr.Name)
	}

	dir := func(mode int64, id int) layerEntry {
		return layerEntry{Type: tar.TypeDir, Mode: mode, UID: id, GID: id}
	}
	file := func(mode int64, content string) layerEntry {
		return layerEntry{Type: tar.TypeReg, Mode: mode, Content: content}
	}
	want := map[string]layerEntry{
		"authly":                            file(0o755, string(fakeELF(t, elf.EM_X86_64, elf.PT_LOAD))),
		"etc/":                              dir(0o755, 0),
		"etc/group":                         file(0o644, group),
		"etc/passwd":                        file(0o644, passwd),
		"etc/ssl/":                          dir(0o755, 0),
		"etc/ssl/certs/":                    dir(0o755, 0),
		"etc/ssl/certs/ca-certificates.crt": file(0o644, testCerts),
		"home/":                             dir(0o755, 0),
		"home/nonroot/":                     dir(0o700, 65532),
		"tmp/":                              dir(0o1777, 0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer (-want +got):\n%s", diff)
	}
	// A parent directory must come before what it holds, or an extractor creates it itself
	// with whatever mode and owner it likes.
	seen := map[string]bool{}
	for _, p := range order {
		if parent := filepath.Dir(strings.TrimSuffix(p, "/")); parent != "." && !seen[parent+"/"] {
			t.Errorf("%s comes before its directory %s/", p, parent)
		}
		seen[p] = true
	}
	if !strings.Contains(passwd, "nonroot:x:65532:65532:nonroot:/home/nonroot:") {
		t.Errorf("/etc/passwd has no nonroot user with uid 65532:\n%s", passwd)
	}
}

func TestSameInputsGiveTheSameDigest(t *testing.T) {
	first, firstPath := build(t, nil, "--version", "v1")
	second, secondPath := build(t, nil, "--version", "v1")
	d1, err := first.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := second.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("digests differ: %s, %s", d1, d2)
	}
	a, _ := os.ReadFile(firstPath)
	b, _ := os.ReadFile(secondPath)
	if !bytes.Equal(a, b) {
		t.Errorf("the two tarballs differ byte for byte")
	}

	other, _ := build(t, nil, "--version", "v2")
	if d3, _ := other.Digest(); d3 == d1 {
		t.Errorf("another version gives the same digest %s", d3)
	}

	epoch, _ := build(t, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, "--version", "v1")
	if d4, _ := epoch.Digest(); d4 == d1 {
		t.Errorf("SOURCE_DATE_EPOCH did not change the digest")
	}
	cf, err := epoch.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Created.Unix() != 1700000000 {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH", cf.Created.Time)
	}
}

func TestRejects(t *testing.T) {
	binPath, certsPath := files(t)
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dynamic := write("dynamic", fakeELF(t, elf.EM_X86_64, elf.PT_INTERP))
	arm := write("arm", fakeELF(t, elf.EM_AARCH64, elf.PT_LOAD))
	script := write("script", []byte("#!/bin/sh\necho hi\n"))
	out := filepath.Join(dir, "out.tar")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"dynamic binary", []string{"--binary", dynamic, "--ca-certs", certsPath}, "dynamically linked"},
		{"not ELF", []string{"--binary", script, "--ca-certs", certsPath}, "not an ELF executable"},
		{"wrong arch", []string{"--binary", arm, "--ca-certs", certsPath}, "not amd64"},
		{"no CA file", []string{"--binary", binPath, "--ca-certs", filepath.Join(dir, "missing.crt")}, "CA certificates"},
		{"CA file not PEM", []string{"--binary", binPath, "--ca-certs", script}, "no PEM certificate"},
		{"name with a slash", []string{"--binary", binPath, "--ca-certs", certsPath, "--name", "usr/bin/authly"}, "plain file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--name", "authly", "--tag", "localhost/authly:dev", "--out", out, "--arch", "amd64"}, tc.args...)
			err := run(args, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if _, statErr := os.Stat(out); statErr == nil {
				t.Errorf("%s was written despite the error", out)
			}
		})
	}

	if err := run([]string{"--binary", binPath}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--name is required") {
		t.Errorf("missing --name: error %v", err)
	}
	if _, err := sourceDateEpoch("yesterday"); err == nil {
		t.Errorf("SOURCE_DATE_EPOCH=yesterday accepted")
	}
}
