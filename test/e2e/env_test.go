//go:build e2e

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package e2e tests what the operator deploys where it runs: on a real single-node cluster
// (hack/node) with a kubelet, containerd, CNI and kube-proxy, the operator installed with the
// Helm chart (dist/chart, `helm install`) and the image `make image` built, and the
// AuthServers' databases on a throwaway Postgres on the host. `make e2e` builds what it
// needs and runs it as root.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/authly-dev/authly-operator/hack/node"
)

// env is the cluster every test of this package runs on, set up once by TestMain.
var env struct {
	ctx     context.Context
	cluster *node.Cluster
	pg      *node.Postgres
	repo    string
	image   string // the operator's image, as installed
	client  string // the test client's image
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	// Ctrl-C (or the CI's SIGTERM) ends the tests early; the deferred teardown still runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env.ctx = ctx
	// The GitOps scenario prunes with kubectl's ApplySet, which is behind this switch.
	if err := os.Setenv("KUBECTL_APPLYSET", "true"); err != nil {
		return fail(err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return fail(err)
	}
	env.repo = repo
	env.image = getenv("E2E_IMAGE", "localhost/authly:dev")
	env.client = getenv("E2E_CLIENT_IMAGE", "localhost/authly-e2e-client:dev")
	images := strings.Split(os.Getenv("E2E_IMAGES"), ",")
	if len(images) == 0 || images[0] == "" {
		return fail(errors.New("E2E_IMAGES is empty: run the tests with `make e2e`, which builds the images"))
	}
	start := time.Now()
	c, err := node.Start(ctx, node.Options{
		Dir:      getenv("E2E_DIR", "/var/lib/authly-e2e"),
		LogDir:   getenv("E2E_LOGS", filepath.Join(repo, "bin", "e2e-logs")),
		K8sBin:   getenv("E2E_K8S_BIN", filepath.Join(repo, "bin", "k8s")),
		NodeBin:  getenv("E2E_NODE_BIN", filepath.Join(repo, "bin", "node")),
		Images:   images,
		Progress: os.Stderr,
	})
	if err != nil {
		return fail(err)
	}
	defer c.Stop()
	env.cluster = c
	if env.pg, err = c.StartPostgres(ctx); err != nil {
		return fail(err)
	}
	defer func() { env.pg.Stop() }()
	if err := c.InstallOperator(ctx, repo, env.image, operatorArgs...); err != nil {
		return fail(err)
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster up and operator installed in %s (logs in %s)\n", time.Since(start).Round(time.Second), c.LogDir())
	code := m.Run()
	printNodeMemory()
	return code
}

// operatorArgs are the operator's extra arguments in these tests (the chart's extraArgs):
// observed load corrects the plan within seconds here, not minutes, so that a test can watch
// it go up and come down again.
var operatorArgs = []string{"--load-observe-interval=10s", "--scale-down-stabilization-window=40s"}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e:", err)
	return 1
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// printNodeMemory reports what the node and its pods use, for the notes.
func printNodeMemory() {
	components, pods := env.cluster.Memory()
	fmt.Fprintf(os.Stderr, "e2e: memory: node components %d MiB resident, pods %d MiB (kubepods cgroup)\n", components>>20, pods>>20)
}

// kubectl runs kubectl against the cluster and fails the test on error.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var in io.Reader // nil, not a nil *strings.Reader, when there is no input
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	out, err := env.cluster.Kubectl(env.ctx, in, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls check until it returns nil, failing the test with its last error after
// timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || env.ctx.Err() != nil {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// getJSON reads an object with kubectl as JSON into out.
func getJSON(t *testing.T, out any, args ...string) error {
	t.Helper()
	s, err := env.cluster.Kubectl(env.ctx, nil, append([]string{"get", "-o", "json"}, args...)...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// authServer is an AuthServer's issuer as clients inside the cluster see it, and a way for
// this process (on the host, without the cluster's DNS) to reach it through the Service's
// ClusterIP, as kube-proxy routes it.
type authServer struct {
	namespace, name string
	host            string // the Service's name in the cluster's DNS
	issuer          string
	clusterIP       string
	http            *http.Client
}

func newAuthServer(t *testing.T, namespace, name string) *authServer {
	t.Helper()
	ip, err := env.cluster.ServiceIP(env.ctx, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("%s.%s.svc", name, namespace)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		// The issuer's host name resolves to the Service's ClusterIP, as the cluster's
		// DNS would resolve it for a pod.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			h, port, err := net.SplitHostPort(addr)
			if err == nil && h == host {
				addr = net.JoinHostPort(ip, port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
	}
	return &authServer{
		namespace: namespace, name: name, host: host,
		issuer:    "http://" + host + ":8000",
		clusterIP: ip,
		http:      &http.Client{Transport: transport, Timeout: 10 * time.Second},
	}
}

// ctx carries the Service-routing HTTP client to x/oauth2 and go-oidc.
func (a *authServer) ctx() context.Context {
	return context.WithValue(env.ctx, oauth2.HTTPClient, a.http)
}

// credentials reads an OAuthClient's Secret as the operator wrote it.
func credentials(t *testing.T, namespace, secret string) map[string]string {
	t.Helper()
	s, err := env.cluster.Client.CoreV1().Secrets(namespace).Get(env.ctx, secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

// clientCredentials is the x/oauth2 configuration of an OAuthClient's Secret.
func clientCredentials(creds map[string]string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: creds["client_id"], ClientSecret: creds["client_secret"],
		TokenURL: creds["token_url"], Scopes: scopes,
	}
}

// load is a bounded load of client_credentials token requests through the Service: a few
// workers, each at most rate requests a second, stopped by stop or after max requests.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stopc      chan struct{}
	wg         sync.WaitGroup
}

// 40 requests a second in all: under the server's per-IP token limit (100/s for the
// AuthServer, divided among its minimum replicas) even when one replica serves them all,
// since every request of this process reaches the pods from one (masqueraded) address.
const (
	loadWorkers    = 4
	loadPerWorker  = 10 // requests a second
	loadMaxSeconds = 300
)

func startLoad(a *authServer, cc *clientcredentials.Config) *load {
	return startRequests(a, loadPerWorker, func(ctx context.Context) error {
		_, err := cc.Token(ctx)
		return err
	})
}

// startRequests runs request from loadWorkers workers, each at most perWorker times a second,
// until stopped or for loadMaxSeconds.
func startRequests(a *authServer, perWorker int, request func(context.Context) error) *load {
	l := &load{stopc: make(chan struct{})}
	ctx := a.ctx()
	for w := 0; w < loadWorkers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(perWorker))
			defer tick.Stop()
			for i := 0; i < perWorker*loadMaxSeconds; i++ {
				select {
				case <-l.stopc:
					return
				case <-env.ctx.Done():
					return
				case <-tick.C:
				}
				if err := request(ctx); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
					}
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

// stop ends the load and returns what it counted.
func (l *load) stop() (ok, failed int64, errs []string) {
	close(l.stopc)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.errs
}

// checkLoad stops the load, logs its counts and fails the test on any failed request.
func checkLoad(t *testing.T, what string, l *load) {
	t.Helper()
	ok, failed, errs := l.stop()
	t.Logf("%s: %d requests, %d failed", what, ok+failed, failed)
	if ok == 0 {
		t.Errorf("%s: no request succeeded", what)
	}
	if failed > 0 {
		t.Errorf("%s: %d of %d requests failed; first: %s", what, failed, ok+failed, strings.Join(errs, "; "))
	}
}
