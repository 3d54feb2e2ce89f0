//go:build e2e

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Issue 15 part 2 on a real node: an OAuthClient with serviceAccountName gets no Secret;
// the operator, with the RBAC it is installed with, stores the cluster's ServiceAccount
// issuer keys; a pod with the projected serviceAccountToken volume of the README gets a
// token with the kubelet's token and introspects it the same way.
func TestServiceAccountClientOnANode(t *testing.T) {
	a := newAuthServer(t, ns, authServerName)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: sa-worker, namespace: %[1]s}
---
apiVersion: oauth.authly.dev/v1
kind: OAuthClient
metadata: {name: sa-worker, namespace: %[1]s}
spec:
  authServerRef: {name: %[2]s}
  clientId: sa-worker
  grantTypes: [client_credentials]
  scopes: ["orders:read"]
  serviceAccountName: sa-worker
`, ns, authServerName), "apply", "-f", "-")
	eventually(t, time.Minute, "OAuthClient sa-worker Ready", func() error { return conditionTrue(t, "oauthclient", "sa-worker", "Ready") })
	if _, err := env.cluster.Client.CoreV1().Secrets(ns).Get(env.ctx, "sa-worker-oauth", metav1.GetOptions{}); err == nil {
		t.Error("a Secret was written for a ServiceAccount client")
	}

	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: sa-worker-app, namespace: %[1]s}
spec:
  restartPolicy: Never
  serviceAccountName: sa-worker
  automountServiceAccountToken: false
  hostAliases: [{ip: %[2]q, hostnames: [%[3]q]}]
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: %[4]s
    imagePullPolicy: Never
    args: [--scope, "orders:read", --client-id, sa-worker, --issuer, %[5]q, --assertion-file, /var/run/secrets/authly/token]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: authly-token, mountPath: /var/run/secrets/authly, readOnly: true}]
  volumes:
  - name: authly-token
    projected:
      sources:
      - serviceAccountToken: {audience: %[5]q, expirationSeconds: 3600, path: token}
`, ns, a.clusterIP, a.host, env.client, a.issuer), "apply", "-f", "-")
	var phase corev1.PodPhase
	eventually(t, 2*time.Minute, "pod sa-worker-app done", func() error {
		p, err := env.cluster.Client.CoreV1().Pods(ns).Get(env.ctx, "sa-worker-app", metav1.GetOptions{})
		if err != nil {
			return err
		}
		phase = p.Status.Phase
		if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			return nil
		}
		return fmt.Errorf("phase %s", phase)
	})
	logs, _ := env.cluster.Kubectl(env.ctx, nil, "-n", ns, "logs", "sa-worker-app")
	if phase != corev1.PodSucceeded || !strings.Contains(logs, `"ok":true`) {
		t.Fatalf("pod sa-worker-app: %s: %s", phase, logs)
	}
	t.Logf("pod with the projected ServiceAccount token: %s", strings.TrimSpace(logs))
}
