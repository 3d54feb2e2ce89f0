/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"time"

	"github.com/authly-dev/authly-operator/server"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/tokens"
)

// ceiling is how many times an operation runs per CPU-second of one core, measured in
// this process (garbage collection included) while nothing else of the tool runs.
type ceiling struct {
	Name         string  `json:"name"`
	Ops          int     `json:"ops"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PerCPUSecond float64 `json:"per_cpu_second"`
	MicrosPerOp  float64 `json:"cpu_us_per_op"`
}

// Ceiling names.
const (
	ceilArgon2   = "argon2id verify (server parameters)"
	ceilRS256    = "RS256 ID token signing (RSA-2048)"
	ceilES256ID  = "ES256 ID token signing"
	ceilES256Acc = "ES256 access token signing"
)

// ceilingOp is one timed operation: the server's own code for the expensive step of a
// CPU-bound scenario (the same calls as the go test benchmarks of server/tokens and
// server/credentials).
type ceilingOp struct {
	name string
	fn   func() error
}

// ceilingOps are the timed operations, with the keys and the password hash they use.
type ceilingOps []ceilingOp

func newCeilingOps() (ceilingOps, error) {
	p := credentials.DefaultPasswordParams
	hash, err := credentials.HashPassword(p, userPassword, nil)
	if err != nil {
		return nil, err
	}
	es, err := tokens.GenerateKey(tokens.ES256, nil)
	if err != nil {
		return nil, err
	}
	rs, err := tokens.GenerateKey(tokens.RS256, nil)
	if err != nil {
		return nil, err
	}
	es.State, rs.State = tokens.StateActive, tokens.StateActive
	set, err := tokens.NewKeySet([]*tokens.Key{es, rs})
	if err != nil {
		return nil, err
	}
	iss := &tokens.Issuer{Issuer: "http://127.0.0.1", Keys: set}
	access := tokens.AccessClaims{Subject: "0b9e4d6a-7c1f-4d5e-9a3b-2f8c6e1d0a47", ClientID: "bench-web", Audience: []string{"bench-web"},
		Scopes: []string{"openid", "profile", "email", "offline_access"}, TTL: 15 * time.Minute, AuthTime: time.Now()}
	at, err := iss.AccessToken(access, tokens.ES256)
	if err != nil {
		return nil, err
	}
	id := tokens.IDClaims{Subject: access.Subject, ClientID: "bench-web", Nonce: "n-1", AuthTime: time.Now(), AccessToken: at,
		TTL: time.Hour, Name: "Bench User", Email: "bench-user@example.com", EmailVerified: true}
	return ceilingOps{
		{ceilArgon2, func() error {
			ok, err := credentials.VerifyPassword(hash, userPassword)
			if err == nil && !ok {
				err = fmt.Errorf("password did not verify")
			}
			return err
		}},
		{ceilRS256, func() error { _, err := iss.IDToken(id, tokens.RS256); return err }},
		{ceilES256ID, func() error { _, err := iss.IDToken(id, tokens.ES256); return err }},
		{ceilES256Acc, func() error { _, err := iss.AccessToken(access, tokens.ES256); return err }},
	}, nil
}

// ceilingCommand is the hidden subcommand that times ceilings. The load tool runs itself
// with it for each measurement, so that the operations run in a process set up like the
// server (GOMAXPROCS as --server-cpus, the server's GC percent) and with a fresh heap:
// timed in the load tool itself, after a load run, an argon2id verification cost up to a
// third more, the 19 MiB it allocates meeting a heap and collector in another state.
const ceilingCommand = "ceiling"

// runCeiling times the operation --name (all when empty) and writes the ceilings to out
// as JSON.
func runCeiling(args []string, out io.Writer) error {
	fs := flag.NewFlagSet(ceilingCommand, flag.ContinueOnError)
	name := fs.String("name", "", "the ceiling to time; every one when empty")
	budget := fs.Duration("budget", time.Second, "CPU time to spend on each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(server.GCPercent)
	}
	ops, err := newCeilingOps()
	if err != nil {
		return err
	}
	var got []ceiling
	for _, op := range ops {
		if *name != "" && op.name != *name {
			continue
		}
		c, err := measureCeiling(op.name, op.fn, *budget)
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		got = append(got, c)
	}
	if len(got) == 0 {
		return fmt.Errorf("no ceiling named %q", *name)
	}
	return json.NewEncoder(out).Encode(got)
}

// timeCeilings runs the ceiling subcommand for the named ceiling, or for all.
func timeCeilings(o options, name string) ([]ceiling, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, ceilingCommand, "--name", name)
	cmd.Env = serverEnviron(o)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("timing ceilings: %w", err)
	}
	var out []ceiling
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("timing ceilings: %w", err)
	}
	return out, nil
}

// measureCeilings times the ceilings and keeps, for each, the fastest of this and any
// earlier measurement of the run (one per pass).
func (r *results) measureCeilings(o options) error {
	logf("measuring single-core ceilings (argon2id, RS256 and ES256 signing)")
	got, err := timeCeilings(o, "")
	if err != nil {
		return err
	}
	for _, c := range got {
		i := slices.IndexFunc(r.Ceilings, func(old ceiling) bool { return old.Name == c.Name })
		switch {
		case i < 0:
			r.Ceilings = append(r.Ceilings, c)
		case c.PerCPUSecond > r.Ceilings[i].PerCPUSecond:
			r.Ceilings[i] = c
		}
	}
	return nil
}

func measureCeiling(name string, fn func() error, budget time.Duration) (ceiling, error) {
	// A warm-up first, as the server gets before each point, so that one-time setup and
	// a fresh heap (the pages an argon2id verification's 19 MiB first touches) are not
	// counted: at least three calls and a fifth of the budget.
	warm := selfCPU()
	for i := 0; i < 3 || selfCPU()-warm < budget.Seconds()/5; i++ {
		if err := fn(); err != nil {
			return ceiling{}, err
		}
	}
	start, wallStart := selfCPU(), time.Now()
	c := ceiling{Name: name}
	// Bounded by wall time and count too, should the machine be too busy to give us the CPU.
	for selfCPU()-start < budget.Seconds() && time.Since(wallStart) < 20*budget && c.Ops < 1_000_000 {
		for range 5 {
			if err := fn(); err != nil {
				return c, err
			}
			c.Ops++
		}
	}
	c.CPUSeconds = selfCPU() - start
	if c.CPUSeconds <= 0 {
		return c, fmt.Errorf("no CPU time measured")
	}
	c.PerCPUSecond = float64(c.Ops) / c.CPUSeconds
	c.MicrosPerOp = 1e6 / c.PerCPUSecond
	return c, nil
}
