/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authly-dev/authly-operator/hack/benchhost"
)

// result is one row of the table.
type result struct {
	name string
	// requests counts what the scenario sent: HTTP requests to the servers, or API calls
	// (creates, updates, deletes) for the operator scenarios.
	requests int
	// errors counts the answers that were not what a healthy system gives, by kind
	// ("refresh: HTTP 503 temporarily_unavailable", "cc: connection refused").
	errors map[string]int
	// recovery is the time from the end of the fault to the first success of each kind
	// that failed (the longest of them); -1 when nothing failed.
	recovery time.Duration
	// recovered is false when a kind that failed never succeeded again.
	recovered bool
	// lost counts the data the fault lost (see the scenario's explanation).
	lost int
	// problems are broken invariants; any makes the scenario fail.
	problems []string
	// notes are facts worth a line in the report that do not fail the scenario.
	notes    []string
	duration time.Duration
}

func newResult(name string) *result {
	return &result{name: name, errors: map[string]int{}, recovery: -1, recovered: true}
}

func (r *result) problem(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if len(r.problems) < 20 {
		r.problems = append(r.problems, msg)
	} else if len(r.problems) == 20 {
		r.problems = append(r.problems, "... (more left out)")
	}
}

func (r *result) note(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }

// loss counts n pieces of lost data and says what they were.
func (r *result) loss(n int, format string, a ...any) {
	if n <= 0 {
		return
	}
	r.lost += n
	r.problem("data lost: %d %s", n, fmt.Sprintf(format, a...))
}

func (r *result) passed() bool { return len(r.problems) == 0 && r.lost == 0 && r.recovered }

func (r *result) verdict() string {
	if r.passed() {
		return "ok"
	}
	return "FAIL"
}

// errorSummary lists the kinds of errors, most frequent first.
func (r *result) errorSummary() string {
	if len(r.errors) == 0 {
		return "none"
	}
	kinds := slices.Collect(maps.Keys(r.errors))
	slices.SortFunc(kinds, func(a, b string) int {
		if r.errors[a] != r.errors[b] {
			return r.errors[b] - r.errors[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", k, r.errors[k])
	}
	return strings.Join(parts, "; ")
}

func (r *result) recoveryText() string {
	switch {
	case !r.recovered:
		return "not recovered"
	case r.recovery < 0:
		return "–"
	default:
		return fmt.Sprintf("%.2f s", r.recovery.Seconds())
	}
}

func (r *result) summary() string {
	return fmt.Sprintf("%s: %d requests, errors: %s, recovery %s, data lost %d%s", r.verdict(), r.requests, r.errorSummary(),
		r.recoveryText(), r.lost, problemsSuffix(r.problems))
}

func problemsSuffix(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return "; " + strings.Join(p, "; ")
}

// report is the whole run.
type report struct {
	host    benchhost.Host
	results []*result
	elapsed time.Duration
	authly  string
}

// print writes the table for a terminal.
func (rep *report) print(w io.Writer) {
	_, _ = fmt.Fprintf(w, "\nFault suite: %d scenarios in %s\n\n", len(rep.results), rep.elapsed.Round(time.Second))
	_, _ = fmt.Fprintf(w, "%-20s %-5s %9s %-14s %9s  %s\n", "scenario", "", "requests", "recovery", "data lost", "errors by kind")
	for _, r := range rep.results {
		_, _ = fmt.Fprintf(w, "%-20s %-5s %9d %-14s %9d  %s\n", r.name, r.verdict(), r.requests, r.recoveryText(), r.lost, r.errorSummary())
		for _, p := range r.problems {
			_, _ = fmt.Fprintf(w, "%-20s   ! %s\n", "", p)
		}
	}
	_, _ = fmt.Fprintln(w)
}

// write renders the Markdown report to path.
func (rep *report) write(path string) error {
	var b strings.Builder
	h := rep.host
	fmt.Fprintf(&b, "# Fault suite\n\n")
	fmt.Fprintf(&b, "`make fault` (`hack/fault`): the server and the operator under faults on one machine, over\n")
	fmt.Fprintf(&b, "127.0.0.1, with a bounded load. Regenerate with `make fault`; it exits non-zero when a\n")
	fmt.Fprintf(&b, "scenario loses data or breaks its invariant (latencies never fail it).\n\n")
	fmt.Fprintf(&b, "- Date: %s (run took %s)\n", h.Finished, rep.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- Commit: `%s`\n", h.Commit)
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s, Linux %s, load average %s at the start and %s at the end\n",
		h.CPUs, h.CPUModel, h.Memory, h.Kernel, h.LoadAvgStart, h.LoadAvgEnd)
	fmt.Fprintf(&b, "- %s, %s\n", h.GoVersion, h.Postgres)
	fmt.Fprintf(&b, "\n| Scenario | Result | Requests | Errors by kind | Recovery | Data lost |\n|---|---|---:|---|---:|---:|\n")
	for _, r := range rep.results {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %d |\n", r.name, r.verdict(), r.requests, mdEscape(r.errorSummary()), r.recoveryText(), r.lost)
	}
	var details []string
	for _, r := range rep.results {
		if len(r.problems) == 0 && len(r.notes) == 0 {
			continue
		}
		var d strings.Builder
		fmt.Fprintf(&d, "- **%s**:", r.name)
		for _, p := range r.problems {
			fmt.Fprintf(&d, "\n  - FAIL: %s", mdEscape(p))
		}
		for _, n := range r.notes {
			fmt.Fprintf(&d, "\n  - %s", mdEscape(n))
		}
		details = append(details, d.String())
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, "\nFindings and notes:\n\n%s\n", strings.Join(details, "\n"))
	}
	b.WriteString(explanation)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// explanation says what each scenario does and what "data lost" means there.
const explanation = `
## How to read it

- **Requests**: HTTP requests the scenario sent to the servers (for the operator scenarios:
  the API calls that applied, updated or deleted OAuthClients, retries included).
- **Errors by kind**: every answer that is not what a healthy server gives, as
  ` + "`operation: HTTP status error_code`" + ` or ` + "`operation: transport error`" + `. Operations:
  ` + "`cc`" + ` client_credentials, ` + "`introspect`" + ` a JWT access token, ` + "`refresh`" + ` a refresh-token
  rotation, ` + "`code`" + ` an authorization_code + PKCE exchange, ` + "`password`" + ` the password grant,
  ` + "`revoke`" + ` RFC 7009 revocation, ` + "`discovery`" + ` and ` + "`jwks`" + `.
- **Recovery**: from the end of the fault (Postgres accepting connections again, the killed
  replica started again, the API server back) to the first success of each kind of request
  that failed, the longest of them, measured with the load's own timestamps. For the
  operator scenarios: to every OAuthClient Ready and checked. "–": nothing failed.
- **Data lost** must be 0. What counts is checked after the fault, once things settle:

## The scenarios

The server scenarios run three ` + "`authly server`" + ` replicas on one throwaway Postgres (fsync off),
with eight clients each sending a mix of every operation, spread over the replicas, about
one request every 10 ms per client. Data lost in them, checked on every replica after
recovery, is any of:

- a refresh token the client received with a 200 that is then refused (the client keeps
  one chain of rotations; a chain whose previous attempt failed without an answer, so that
  the server may have rotated it, counts as "chain broken after a lost answer", an error,
  not a loss);
- an access token issued with a 200 (client_credentials, code, password, and tokens issued
  before the fault) that introspects inactive on a replica;
- a token whose revocation answered 200 that still introspects active on a replica
  (15 s allowed for every replica to hear of it).

Scenarios:

- **pg-restart**: Postgres stopped (fast shutdown) and started again at once on the same
  port and data directory, under load.
- **pg-outage**: the same with Postgres down for 3 s. The grants that need the database
  (refresh, code, password, revocation) are expected to fail with 503
  ` + "`temporarily_unavailable`" + ` meanwhile; a 5xx other than a 503 with Retry-After fails the
  scenario (in every server scenario).
- **sigterm**: one replica is sent SIGTERM under load, then started again. The load reaches
  replicas as a Kubernetes Service does, only those whose ` + "`/ready`" + ` answered 200 at the last
  probe (every 100 ms), and honours ` + "`Connection: close`" + `. Four more requests are surely in
  flight: half their body is sent before the signal, the rest 1.5 s after it, once the
  replica has drained and is shutting down. Any failed request to the stopping replica fails
  the scenario: in-flight requests must complete.
- **sigkill**: one replica is killed (SIGKILL) under load and started again 2 s later; the load
  keeps sending to it, so its connection errors are expected. Errors on the other replicas
  fail the scenario. Recovery: from the restart to the first success on that replica.
- **race-refresh**, **race-code**: the same refresh token, or authorization code, presented
  50 times at once across the three replicas (5 rounds). Exactly one must win, the rest get
  400 ` + "`invalid_grant`" + `. The replicas run with the default refresh-token reuse interval
  (none), so a second presentation is reuse on any replica.
- **race-revoke**: one access token and one refresh token revoked 25 times each at once
  across the replicas while others introspect it; every revocation must answer 200 and,
  afterwards, every replica must answer inactive and refuse the refresh token. Lost:
  a replica that still accepts either.
- **small-pool**: a fourth server with ` + "`--pool-max-conns 1`" + ` under 64 concurrent clients for
  6 s, database-bound grants only. Errors by kind show how it sheds load; a 5xx other than
  503 fails it.
- **bad-input**: NUL, invalid UTF-8, an overlong UTF-8 encoding, control characters and a
  64 KiB value in each parameter (form, query, path and header) of each endpoint. Any 5xx or
  dropped connection fails it; the counts per status are in the notes.
- **apiserver-restart** (operator, envtest): 30 OAuthClients applied by 4 appliers (which
  retry, as a GitOps tool does) while the kube-apiserver is stopped (SIGTERM, then SIGKILL
  after 5 s: it waits for the operator's watches to end, which they never do), kept down
  3 s and started again on the same port, certificates and etcd. Lost: an OAuthClient that
  does not end Ready with its Secret and exactly one database row whose secret hash
  matches the Secret.
- **manager-kill** (operator, envtest): ` + "`authly operator`" + ` killed with SIGKILL at a random
  point 0–800 ms after each start became ready, and started again at once, at least 12
  times and on until 30 changes are applied (10 OAuthClients created, 10 updated, 10
  deleted, one every 0.5 s), so that it dies at different steps of its reconciles (the
  points are random: no step boundary is sure to be hit in a given run). Then it settles.
  Lost: a client whose database row, Secret or spec does not match its OAuthClient, a
  client registered twice, or a deleted OAuthClient whose row remains.
- **manager-kill-steps** (operator, envtest): the manager killed right after each step of a
  registration is seen from outside (finalizer added, Secret written, client registered,
  status Ready; a 5 ms poll), up to three new OAuthClients per step until a kill lands
  before the next step, and after each step of a removal (deletion requested, client
  removed from the database); started again each time. The notes say where each kill
  landed. Lost: as in manager-kill.
`
