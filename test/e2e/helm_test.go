//go:build e2e

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/authly-dev/authly-operator/hack/node"
	"github.com/authly-dev/authly-operator/server/store"
)

// upgradeTag is a second tag of the operator's image on the node: a "new release" that
// `helm upgrade` rolls the operator to.
const upgradeTag = "e2e-upgrade"

// The operator's lifecycle with the chart, after every other scenario has left its clients
// behind: `helm upgrade` to a new image tag and two replicas rolls the operator without losing
// its lease or any client (and the AuthServers follow the operator's image with no failed
// request), and its metrics Service serves; `helm uninstall` leaves the CRDs and every
// OAuthClient in place. The operator is installed again at the end (one replica, the original
// image), as the tests after this one expect it.
func TestHelmUpgradeAndUninstall(t *testing.T) {
	c := env.cluster
	a := newAuthServer(t, ns, authServerName)
	cc := clientCredentials(credentials(t, ns, "orders-worker-oauth"), "orders:read")
	chart := filepath.Join(env.repo, "dist", "chart")
	helm := func(args ...string) string {
		t.Helper()
		out, err := c.Helm(env.ctx, env.repo, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := helm("status", node.OperatorRelease, "-n", node.OperatorNamespace); !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm status before the upgrade:\n%s", out)
	}

	clients := oauthClients(t)
	if len(clients) < 30 {
		t.Fatalf("%d OAuthClients before the upgrade; the earlier scenarios leave more than 30", len(clients))
	}
	registered := registeredClients(t)
	oldPod := operatorPod(t)
	lease, err := c.Client.CoordinationV1().Leases(node.OperatorNamespace).Get(env.ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaseHeldBy(lease, oldPod); err != nil {
		t.Fatal(err)
	}
	// Every change of the lease from here on: it must never be deleted (a gap in which two
	// replicas could both lead) and it stays the same object.
	lw := watchLease(t, lease)

	newImage := strings.TrimSuffix(env.image, ":"+imageTag(env.image)) + ":" + upgradeTag
	if err := c.TagImage(env.image, newImage); err != nil {
		t.Fatal(err)
	}
	l := startLoad(a, cc)
	start := time.Now()
	// The new release runs two replicas: a leader and a hot standby.
	helm("upgrade", node.OperatorRelease, chart, "-n", node.OperatorNamespace, "--reuse-values",
		"--set-string", "image.tag="+upgradeTag, "--set", "replicaCount=2", "--wait", "--timeout", "3m")
	t.Logf("helm upgrade to %s, 2 replicas: %s", newImage, time.Since(start).Round(time.Second))

	// The operator rolled: two pods, both on the new image and Ready, one of them leading.
	if err := c.WaitRollout(env.ctx, node.OperatorNamespace, node.OperatorDeployment, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var newPods []string
	eventually(t, time.Minute, "two Ready operator pods on the new image", func() error {
		pods, err := c.Client.CoreV1().Pods(node.OperatorNamespace).List(env.ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		newPods = nil
		for _, p := range pods.Items {
			if p.Name == oldPod || p.Spec.Containers[0].Image != newImage || !podReady(&p) {
				return fmt.Errorf("pod %s, image %s, ready %v", p.Name, p.Spec.Containers[0].Image, podReady(&p))
			}
			newPods = append(newPods, p.Name)
		}
		if len(newPods) != 2 {
			return fmt.Errorf("%d operator pods", len(newPods))
		}
		return nil
	})
	var leader string
	eventually(t, time.Minute, "a new operator pod holds the lease", func() error {
		l, err := c.Client.CoordinationV1().Leases(node.OperatorNamespace).Get(env.ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.UID != lease.UID {
			return fmt.Errorf("the lease was recreated (uid %s, was %s)", l.UID, lease.UID)
		}
		for _, p := range newPods {
			if leaseHeldBy(l, p) == nil {
				leader = p
				return nil
			}
		}
		return fmt.Errorf("lease held by %v, not by a new pod %v", l.Spec.HolderIdentity, newPods)
	})
	holders := lw.stop(t)
	t.Logf("lease holders during the upgrade: %q", holders)
	if len(holders) == 0 || holders[len(holders)-1] != leader {
		t.Errorf("the lease's watch did not see the new pod %s take it over: %q", leader, holders)
	}

	// The metrics Service reaches the operator's pods.
	metricsIP, err := c.ServiceIP(env.ctx, node.OperatorNamespace, "authly-controller-manager-metrics-service")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the operator's metrics through its Service", func() error {
		resp, err := a.http.Get("http://" + net.JoinHostPort(metricsIP, "8080") + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "controller_runtime_") {
			return fmt.Errorf("%s: no controller-runtime metrics", resp.Status)
		}
		return nil
	})

	// The servers run the operator's image, so they follow it, under load, with no failed
	// request.
	eventually(t, 2*time.Minute, "the AuthServer on the new image", func() error {
		if img := deployment(t).Spec.Template.Spec.Containers[0].Image; img != newImage {
			return fmt.Errorf("image %s", img)
		}
		return nil
	})
	if err := c.WaitRollout(env.ctx, ns, authServerName, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	checkLoad(t, "operator upgrade and the servers' rollout", l)

	// No client was lost: the same objects, Ready, in the database, and working.
	checkClientsKept(t, clients, registered)
	eventually(t, time.Minute, "every OAuthClient Ready after the upgrade", func() error {
		for name := range clients {
			if err := conditionTrue(t, "oauthclient", name, "Ready"); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := cc.Token(a.ctx()); err != nil {
		t.Errorf("a token after the upgrade: %v", err)
	}
	if out := helm("history", node.OperatorRelease, "-n", node.OperatorNamespace); !strings.Contains(out, "Upgrade complete") {
		t.Errorf("helm history after the upgrade:\n%s", out)
	}

	// Uninstall: the operator and its RBAC go; the CRDs, every OAuthClient, its Secret and
	// its registration stay, and the servers keep serving without the operator.
	out := helm("uninstall", node.OperatorRelease, "-n", node.OperatorNamespace, "--wait", "--timeout", "2m")
	t.Logf("helm uninstall: %s", strings.TrimSpace(out))
	eventually(t, time.Minute, "the operator gone", func() error {
		if _, err := c.Client.AppsV1().Deployments(node.OperatorNamespace).Get(env.ctx, node.OperatorDeployment, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return stillThere("Deployment", err)
		}
		if _, err := c.Client.RbacV1().ClusterRoles().Get(env.ctx, "authly-manager-role", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return stillThere("ClusterRole", err)
		}
		pods, err := c.Client.CoreV1().Pods(node.OperatorNamespace).List(env.ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list the operator pods: %w", err)
		}
		if len(pods.Items) != 0 {
			return fmt.Errorf("%d operator pods", len(pods.Items))
		}
		return nil
	})
	for _, crd := range []string{"authservers.oauth.authly.dev", "oauthclients.oauth.authly.dev", "scopes.oauth.authly.dev"} {
		kubectl(t, "", "get", "crd", crd)
	}
	checkClientsKept(t, clients, registered)
	for name := range clients {
		if _, err := c.Client.CoreV1().Secrets(ns).Get(env.ctx, name+"-oauth", metav1.GetOptions{}); err != nil {
			t.Errorf("OAuthClient %s's Secret after helm uninstall: %v", name, err)
		}
	}
	if _, err := cc.Token(a.ctx()); err != nil {
		t.Errorf("a token with the operator uninstalled: %v", err)
	}

	// Installed again (the original image and arguments): it adopts the kept CRDs and takes
	// the clients up where it left them.
	if err := c.InstallOperator(env.ctx, env.repo, env.image, operatorArgs...); err != nil {
		t.Fatal(err)
	}
	pod := operatorPod(t)
	eventually(t, time.Minute, "the reinstalled operator holds the lease", func() error {
		l, err := c.Client.CoordinationV1().Leases(node.OperatorNamespace).Get(env.ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return leaseHeldBy(l, pod)
	})
	eventually(t, 2*time.Minute, "every OAuthClient Ready after the reinstall", func() error {
		for name := range clients {
			if err := conditionTrue(t, "oauthclient", name, "Ready"); err != nil {
				return err
			}
		}
		return nil
	})
	checkClientsKept(t, clients, registered)
}

// imageTag is the tag of an image reference ("latest" when it has none).
func imageTag(image string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}

// oauthClients are the test namespace's OAuthClients by name, with their uids.
func oauthClients(t *testing.T) map[string]types.UID {
	t.Helper()
	var list struct {
		Items []metav1.PartialObjectMetadata `json:"items"`
	}
	if err := getJSON(t, &list, "-n", ns, "oauthclients"); err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, o := range list.Items {
		out[o.Name] = o.UID
	}
	return out
}

// registeredClients are the client ids in the AuthServer's database.
func registeredClients(t *testing.T) []string {
	t.Helper()
	st, err := store.Open(env.ctx, env.pg.URL("authly_e2e"), store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	for after := ""; ; {
		page, err := st.ListClients(env.ctx, store.Page{After: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range page {
			ids = append(ids, cl.ID)
		}
		if len(page) < 500 {
			return ids
		}
		after = page[len(page)-1].ID
	}
}

// checkClientsKept asserts that the same OAuthClient objects (by uid) and the same
// registrations exist as before.
func checkClientsKept(t *testing.T, clients map[string]types.UID, registered []string) {
	t.Helper()
	now := oauthClients(t)
	for name, uid := range clients {
		if now[name] != uid {
			t.Errorf("OAuthClient %s: uid %q, was %q", name, now[name], uid)
		}
	}
	if got := registeredClients(t); !slices.Equal(got, registered) {
		t.Errorf("registered clients changed:\nbefore %v\nnow    %v", registered, got)
	}
}

// leaseWatch records what a watch of the operator's lease sees: the holders it goes through
// (pod names, "" when released) and whether it was deleted.
type leaseWatch struct {
	w        watch.Interface
	stopping atomic.Bool // closing the stream may end it with an error event of its own
	done     chan struct{}
	holders  []string
	deleted  bool
	errs     []string
}

func watchLease(t *testing.T, from *coordinationv1.Lease) *leaseWatch {
	t.Helper()
	w, err := env.cluster.Client.CoordinationV1().Leases(node.OperatorNamespace).Watch(env.ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + leaseName, ResourceVersion: from.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	lw := &leaseWatch{w: w, done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Deleted:
				lw.deleted = true
			case watch.Error:
				if !lw.stopping.Load() {
					lw.errs = append(lw.errs, apierrors.FromObject(ev.Object).Error())
				}
			case watch.Added, watch.Modified:
				l, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					continue
				}
				holder := ""
				if l.Spec.HolderIdentity != nil {
					holder, _, _ = strings.Cut(*l.Spec.HolderIdentity, "_")
				}
				if len(lw.holders) == 0 || lw.holders[len(lw.holders)-1] != holder {
					lw.holders = append(lw.holders, holder)
				}
			}
		}
	}()
	return lw
}

// stop ends the watch and returns the holders it saw; a deleted lease or a watch error fails
// the test.
func (lw *leaseWatch) stop(t *testing.T) []string {
	t.Helper()
	lw.stopping.Store(true)
	lw.w.Stop()
	<-lw.done
	if lw.deleted {
		t.Error("the operator's lease was deleted")
	}
	if len(lw.errs) > 0 {
		t.Errorf("the lease's watch: %v", lw.errs)
	}
	return lw.holders
}

// stillThere is why a wait for an object's deletion goes on: the error of its Get, or that
// the Get found it.
func stillThere(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s still there", what)
}
