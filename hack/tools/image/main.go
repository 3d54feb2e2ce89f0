/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Command image packages one static binary into a container image without Docker, and writes
// it as a docker-archive tarball that `docker load`, `kind load image-archive` and
// `ctr images import` all accept (`make image`).
//
//	go run . --binary ../../../bin/image/authly --name authly --tag localhost/authly:dev \
//	    --version v0.1.0 --revision $(git rev-parse HEAD) --port 8000 --out authly-image.tar
//
// The image has one layer with what a static Go binary needs and nothing else, as
// gcr.io/distroless/static:nonroot provides it (the Dockerfile's base): the binary at /<name>,
// the host's CA certificates, /etc/passwd and /etc/group with root and nonroot (65532), the
// nonroot user's home and a world-writable /tmp. It runs as 65532:65532 with a read-only root
// filesystem. All timestamps are SOURCE_DATE_EPOCH (or Unix 0), so the same inputs always give
// the same image digest.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The unprivileged user the image runs as, with the uid, gid and home distroless uses.
const (
	nonrootID   = 65532
	nonrootHome = "home/nonroot"
	caCertsPath = "etc/ssl/certs/ca-certificates.crt"
)

// The same users and groups as distroless's static image, less those nothing here needs.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// spec is everything the image is made of; buildImage turns it into an image and nothing else
// enters, so the same spec always gives the same digest.
type spec struct {
	Name     string   // the binary's file name in / and the image title
	Binary   []byte   // the static executable
	CACerts  []byte   // PEM bundle for /etc/ssl/certs/ca-certificates.crt
	Version  string   // org.opencontainers.image.version, if set
	Revision string   // org.opencontainers.image.revision, if set
	Source   string   // org.opencontainers.image.source, if set
	Port     int      // exposed TCP port, 0 for none
	Args     []string // Cmd: default arguments after the entrypoint
	Arch     string   // GOARCH of the binary
	Time     time.Time
}

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func run(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		binary   = fs.String("binary", "", "path of the static binary to package (required)")
		binName  = fs.String("name", "", "file name of the binary in the image, /<name> (required)")
		tag      = fs.String("tag", "", "image reference written into the tarball, e.g. localhost/authly:dev (required)")
		out      = fs.String("out", "", "tarball to write (required)")
		version  = fs.String("version", "", "org.opencontainers.image.version label")
		revision = fs.String("revision", "", "org.opencontainers.image.revision label (commit)")
		source   = fs.String("source", "", "org.opencontainers.image.source label (repository URL)")
		port     = fs.Int("port", 0, "TCP port to declare as exposed (0: none)")
		caCerts  = fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "host CA bundle to copy into the image")
		arch     = fs.String("arch", runtime.GOARCH, "architecture of the binary and the image")
		cmdArgs  stringList
	)
	fs.Var(&cmdArgs, "arg", "default argument (the image's Cmd); repeat for more")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, required := range []struct{ flag, value string }{
		{"binary", *binary}, {"name", *binName}, {"tag", *tag}, {"out", *out},
	} {
		if required.value == "" {
			return fmt.Errorf("--%s is required", required.flag)
		}
	}
	if strings.Contains(*binName, "/") || *binName == "." || *binName == ".." {
		return fmt.Errorf("--name %q must be a plain file name", *binName)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("--port %d is not a TCP port", *port)
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("--tag: %w", err)
	}
	created, err := sourceDateEpoch(getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}

	bin, err := os.ReadFile(*binary)
	if err != nil {
		return fmt.Errorf("reading the binary: %w", err)
	}
	// The image has no libc and no loader: a dynamically linked binary would fail to start
	// with a puzzling "no such file or directory", so refuse it here.
	if err := checkStatic(bin, *arch); err != nil {
		return fmt.Errorf("%s: %w", *binary, err)
	}
	certs, err := os.ReadFile(*caCerts)
	if err != nil {
		return fmt.Errorf("reading the CA certificates (install the ca-certificates package or pass --ca-certs): %w", err)
	}
	if !bytes.Contains(certs, []byte("-----BEGIN CERTIFICATE-----")) {
		return fmt.Errorf("%s holds no PEM certificate", *caCerts)
	}

	img, err := buildImage(spec{
		Name: *binName, Binary: bin, CACerts: certs,
		Version: *version, Revision: *revision, Source: *source,
		Port: *port, Args: cmdArgs, Arch: *arch, Time: created,
	})
	if err != nil {
		return err
	}
	if err := writeTarball(*out, ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s (%d bytes)\n", ref, digest, *out, info.Size())
	return nil
}

// sourceDateEpoch is the time every file and the config carry: SOURCE_DATE_EPOCH
// (reproducible-builds.org) when set, otherwise the Unix epoch.
func sourceDateEpoch(value string) (time.Time, error) {
	if value == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	seconds, err := strconv.ParseInt(value, 10, 64)
	if err != nil || seconds < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a count of seconds", value)
	}
	return time.Unix(seconds, 0).UTC(), nil
}

// checkStatic accepts only an ELF executable for arch with no program interpreter.
func checkStatic(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	machines := map[string]elf.Machine{
		"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
		"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
	}
	if want, ok := machines[arch]; ok && f.Machine != want {
		return fmt.Errorf("built for %s, not %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (has an ELF interpreter); build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// buildImage assembles the one-layer image with its config.
func buildImage(s spec) (v1.Image, error) {
	layerTar, err := rootfs(s)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Time}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/tools/image: /" + s.Name + ", CA certificates, nonroot user (65532)",
			Comment:   "built without Docker",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = s.Arch
	cf.Created = created
	cf.Config = imageConfig(s)
	return mutate.ConfigFile(img, cf)
}

// imageConfig is the runtime configuration: who runs what, with which environment.
func imageConfig(s spec) v1.Config {
	cfg := v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootID, nonrootID),
		Entrypoint: []string{"/" + s.Name},
		Cmd:        s.Args,
		Env: []string{
			"PATH=/",
			"SSL_CERT_FILE=/" + caCertsPath,
		},
		WorkingDir: "/",
		Labels:     labels(s),
	}
	if s.Port != 0 {
		cfg.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", s.Port): {}}
	}
	return cfg
}

// labels are the OCI annotation keys, also set by the Dockerfile's LABEL lines. (A
// docker-archive tarball has no manifest of its own, so they live in the config only.)
func labels(s spec) map[string]string {
	l := map[string]string{"org.opencontainers.image.title": s.Name}
	for key, value := range map[string]string{
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.source":   s.Source,
	} {
		if value != "" {
			l[key] = value
		}
	}
	return l
}

// entry is one file or directory of the layer.
type entry struct {
	path     string // relative to /, directories end in "/"
	mode     int64  // permission bits, with the sticky bit for /tmp
	uid, gid int
	content  []byte // nil for directories
}

// rootfs is the layer: an uncompressed tar with every parent directory as its own entry,
// sorted by path, root-owned unless said otherwise, all at the same fixed time.
func rootfs(s spec) ([]byte, error) {
	entries := []entry{
		{path: s.Name, mode: 0o755, content: s.Binary},
		{path: "etc/", mode: 0o755},
		{path: "etc/group", mode: 0o644, content: []byte(group)},
		{path: "etc/passwd", mode: 0o644, content: []byte(passwd)},
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: caCertsPath, mode: 0o644, content: s.CACerts},
		{path: "home/", mode: 0o755},
		{path: nonrootHome + "/", mode: 0o700, uid: nonrootID, gid: nonrootID},
		{path: "tmp/", mode: 0o1777},
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.path,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: s.Time,
		}
		if strings.HasSuffix(e.path, "/") {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.content); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeTarball writes the docker-archive next to out and renames it into place, so that a
// failed build never leaves a truncated tarball for the next `ctr images import`.
func writeTarball(out string, ref name.Tag, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(ref, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
