/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package harness holds what the project's tools under hack/ (the load tool, the operator
// benchmark, the fault suite) need alike: free ports on 127.0.0.1, the error code of an
// OAuth answer, and an AuthServer on a database outside the cluster.
package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// FreePorts returns n distinct TCP ports free on 127.0.0.1 (all held until all are found).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// EnvironWithoutAuthly is this process's environment minus AUTHLY_* variables, so that
// nothing but their flags configures the servers a tool starts.
func EnvironWithoutAuthly() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHLY_") {
			env = append(env, kv)
		}
	}
	return env
}

// LogTail is the last n lines of the file at path (a child process's log), "" when it
// cannot be read.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// OAuthError is the "error" member of an RFC 6749 error answer, if the body is one.
func OAuthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) > 64 {
		return ""
	}
	return e.Error
}

// AuthServer says which AuthServer CreateAuthServer makes.
type AuthServer struct {
	Namespace, Name, Issuer string
	// DatabaseSecret is the name of the Secret that holds DatabaseURL under the default key.
	DatabaseSecret, DatabaseURL string
}

// CreateAuthServer makes the namespace, the database Secret and an AuthServer with one
// replica. With no kubelet (envtest) no pod runs, but the operator migrates the database and
// registers OAuthClients itself, through the store.
func CreateAuthServer(ctx context.Context, c client.Client, as AuthServer) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: as.Namespace}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: as.Namespace, Name: as.DatabaseSecret},
			Data:       map[string][]byte{authlyv1.DefaultDatabaseURLKey: []byte(as.DatabaseURL)},
		},
		&authlyv1.AuthServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: as.Namespace, Name: as.Name},
			Spec: authlyv1.AuthServerSpec{
				Issuer:   as.Issuer,
				Replicas: ptr.To[int32](1),
				Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: as.DatabaseSecret}},
			},
		},
	}
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// WaitDatabaseReady polls the AuthServer until its DatabaseReady condition is True, for at
// most timeout. alive, when not nil, is asked on each poll and ends the wait with its error
// (the operator process exited, say).
func WaitDatabaseReady(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		var as authlyv1.AuthServer
		if err := c.Get(ctx, key, &as); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(as.Status.Conditions, authlyv1.ConditionDatabaseReady)
		if cond != nil && cond.Status == metav1.ConditionTrue {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("AuthServer %s is not DatabaseReady after %s: %+v", key, timeout, cond)
		}
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
