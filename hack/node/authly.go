/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/authly-dev/authly-operator/server/store/pgcluster"
)

// What Authly needs around the node: a Postgres on the host for the AuthServers' databases,
// and the operator installed with the Helm chart (dist/chart) as a user installs it.

// PostgresPort is where the host's Postgres listens, on the node's address only.
const PostgresPort = 55432

// Postgres is a throwaway PostgreSQL cluster on the host that the pods reach at the node's
// address, with a password.
type Postgres struct {
	*pgcluster.Cluster
	dir      string
	nodeIP   string
	podCIDR  string
	password string
}

// StartPostgres starts (or, after StopPostgres, restarts) the host's Postgres in the
// cluster's directory.
func (c *Cluster) StartPostgres(ctx context.Context) (*Postgres, error) {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	pg := &Postgres{dir: c.path("postgres"), nodeIP: c.opts.NodeIP, podCIDR: c.opts.PodCIDR, password: hex.EncodeToString(pw)}
	if err := pg.Start(ctx); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, pg.Cluster.URL("postgres"))
	if err != nil {
		pg.Stop()
		return nil, err
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER USER postgres PASSWORD '%s'", pg.password)); err != nil {
		pg.Stop()
		return nil, err
	}
	return pg, nil
}

// Start starts the server again on the same data (a Postgres restart, for the fault tests).
func (pg *Postgres) Start(ctx context.Context) error {
	cl, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir: pg.dir, Port: PostgresPort, Listen: pg.nodeIP,
		// The host itself (connecting from the node's address) is trusted as the loopback
		// is; the pods need the password.
		HBA: []string{
			"host all all " + pg.nodeIP + "/32 trust",
			"host all all " + pg.podCIDR + " scram-sha-256",
		},
	})
	if err != nil {
		return err
	}
	pg.Cluster = cl
	return nil
}

// URL is the URL of database with the password, as the pods (and the host) reach it.
func (pg *Postgres) URL(database string) string {
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword("postgres", pg.password),
		Host: net.JoinHostPort(pg.nodeIP, strconv.Itoa(PostgresPort)), Path: "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates a database for one AuthServer.
func (pg *Postgres) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// ApplyAuthServer creates database on pg, a Secret <name>-db with its URL as the pods reach
// it, and an AuthServer name in namespace whose issuer is its Service's name in the
// cluster's DNS, with extraSpec (YAML lines at the spec's indentation) added to its spec.
func (c *Cluster) ApplyAuthServer(ctx context.Context, pg *Postgres, namespace, name, database, extraSpec string) error {
	if err := pg.CreateDatabase(ctx, database); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[2]s-db, namespace: %[1]s}
stringData: {url: %[3]q}
---
apiVersion: oauth.authly.dev/v1
kind: AuthServer
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  issuer: http://%[2]s.%[1]s.svc:8000
  database: {secretRef: {name: %[2]s-db}}
%[4]s`, namespace, name, pg.URL(database), extraSpec)
	_, err := c.Kubectl(ctx, strings.NewReader(manifest), "apply", "-f", "-")
	return err
}

// OperatorNamespace is where the operator is installed, as the README installs it.
const OperatorNamespace = "authly-system"

// OperatorRelease is the Helm release of the operator; OperatorDeployment its Deployment.
const (
	OperatorRelease    = "authly-operator"
	OperatorDeployment = "authly-controller-manager"
)

// Helm runs repo/bin/helm (`make helm`) against the cluster and returns its standard
// output. Its caches and settings live in the cluster's directory, not in $HOME.
func (c *Cluster) Helm(ctx context.Context, repo string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "bin", "helm"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+c.path("helm", "cache"),
		"HELM_CONFIG_HOME="+c.path("helm", "config"),
		"HELM_DATA_HOME="+c.path("helm", "data"),
	)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// OperatorValues are the chart's values (helm flags) for the operator's image, already on
// the node, and args appended to its command line (the chart's extraArgs).
func OperatorValues(image string, args ...string) []string {
	repository, tag := image, "latest"
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repository, tag = image[:i], image[i+1:]
	}
	extra, _ := json.Marshal(append([]string{}, args...)) // a []string always marshals
	return []string{
		"--set", "image.repository=" + repository,
		"--set-string", "image.tag=" + tag,
		"--set", "image.pullPolicy=IfNotPresent",
		"--set-json", "extraArgs=" + string(extra),
	}
}

// InstallOperator installs the operator with the chart repo/dist/chart, as the README does
// (`helm install --wait`), into OperatorNamespace, created beforehand under the restricted
// Pod Security Standard, with image (already on the node) and args appended to the
// operator's command line, and waits until its pod is Ready.
func (c *Cluster) InstallOperator(ctx context.Context, repo, image string, args ...string) error {
	if err := c.CreateNamespace(ctx, OperatorNamespace); err != nil {
		return err
	}
	install := append([]string{"install", OperatorRelease, filepath.Join(repo, "dist", "chart"),
		"--namespace", OperatorNamespace, "--wait", "--timeout", "2m"}, OperatorValues(image, args...)...)
	if _, err := c.Helm(ctx, repo, install...); err != nil {
		return err
	}
	return c.WaitRollout(ctx, OperatorNamespace, OperatorDeployment, 2*time.Minute)
}

// WaitRollout waits until the Deployment exists (an operator may be about to create it) and
// its rollout is complete.
func (c *Cluster) WaitRollout(ctx context.Context, namespace, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment %s/%s: %w", namespace, name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	_, err := c.Kubectl(ctx, nil, "-n", namespace, "rollout", "status", "deployment/"+name, "--timeout", time.Until(deadline).Round(time.Second).String())
	if err != nil {
		pods, _ := c.Kubectl(ctx, nil, "-n", namespace, "get", "pods", "-o", "wide")
		return fmt.Errorf("%w\n%s", err, pods)
	}
	return nil
}

// CreateNamespace creates a namespace whose pods must meet the restricted Pod Security
// Standard.
func (c *Cluster) CreateNamespace(ctx context.Context, name string) error {
	_, err := c.Kubectl(ctx, strings.NewReader(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
`, name)), "apply", "-f", "-")
	return err
}

// ServiceIP returns a Service's ClusterIP.
func (c *Cluster) ServiceIP(ctx context.Context, namespace, name string) (string, error) {
	svc, err := c.Client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return svc.Spec.ClusterIP, nil
}
