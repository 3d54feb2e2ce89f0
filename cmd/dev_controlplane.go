//go:build devcontrolplane

/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// The local control plane of `authly dev` (what `make run` starts) runs kube-apiserver and
// etcd through controller-runtime's envtest. envtest is test tooling: one of its packages
// creates a directory under /tmp when the program starts, which crashes the binary on a
// read-only root filesystem (as the operator's pod has). So it is linked only into the
// development build (`-tags devcontrolplane`, bin/authly-dev), never into the image; see
// dev_controlplane_off.go for the production build.

package cmd

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/config/crd"
)

// The CRDs travel in the binary, so `authly dev` needs no checkout to install them.
var crdFiles = crd.Bases

// localControlPlane is a kube-apiserver and etcd on this machine with the operator running
// in-process: applying an OAuthClient registers it in the local server's database.
type localControlPlane struct {
	env        *envtest.Environment
	kubeconfig string
	stop       func()
}

// startControlPlane starts kube-apiserver and etcd from assets (the envtest binaries that
// `make envtest` builds), installs the CRDs, runs the operator, and creates an AuthServer
// for the local server's database.
func startControlPlane(ctx context.Context, assets, dir, issuer, databaseURL string, log *slog.Logger) (*localControlPlane, error) {
	crds, err := embeddedCRDs()
	if err != nil {
		return nil, err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.With("component", "operator").Handler()))
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDs:                     crds,
		ErrorIfCRDPathMissing:    false,
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("local control plane (kube-apiserver and etcd from %s; `make envtest` builds them): %w", assets, err)
	}
	cp := &localControlPlane{env: env, kubeconfig: filepath.Join(dir, "kubeconfig")}
	stopEnv := func() {
		if err := env.Stop(); err != nil {
			log.Warn("stop the local control plane", "error", err)
		}
	}
	if err := os.WriteFile(cp.kubeconfig, env.KubeConfig, 0o600); err != nil {
		stopEnv()
		return nil, fmt.Errorf("write the kubeconfig: %w", err)
	}
	opts := &operatorOptions{metricsAddr: "0", probeAddr: "0", image: "authly:dev", resyncPeriod: time.Minute}
	mgr, cleanup, err := newOperatorManager(cfg, opts)
	if err != nil {
		stopEnv()
		return nil, err
	}
	mgrCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(mgrCtx); err != nil {
			log.Error("operator stopped", "error", err)
		}
	}()
	cp.stop = func() {
		cancel()
		<-done
		cleanup()
		stopEnv()
	}
	if err := createDevAuthServer(ctx, mgr.GetClient(), issuer, databaseURL); err != nil {
		cp.stop()
		return nil, err
	}
	return cp, nil
}

func embeddedCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := fs.Glob(crdFiles, "bases/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list the embedded CRDs: %w", err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		raw, err := crdFiles.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read the embedded CRD %s: %w", f, err)
		}
		def := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, def); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		crds = append(crds, def)
	}
	return crds, nil
}

// createDevAuthServer points an AuthServer at the local database, so that OAuthClients
// and Scopes applied to the control plane land where the local server reads them. No pods
// run (there is no kubelet): the local server plays their part.
func createDevAuthServer(ctx context.Context, c client.Client, issuer, databaseURL string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: devDBSecret, Namespace: devNamespace},
		StringData: map[string]string{authlyv1.DefaultDatabaseURLKey: databaseURL},
	}
	if err := c.Create(ctx, secret); err != nil {
		return fmt.Errorf("database secret: %w", err)
	}
	one := int32(1)
	as := &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Name: devAuthServer, Namespace: devNamespace},
		Spec: authlyv1.AuthServerSpec{
			Issuer:   issuer,
			Replicas: &one,
			Database: authlyv1.DatabaseSpec{SecretRef: authlyv1.DatabaseSecretRef{Name: devDBSecret}},
		},
	}
	if err := c.Create(ctx, as); err != nil {
		return fmt.Errorf("AuthServer: %w", err)
	}
	return nil
}

// Stop stops the operator and the control plane.
func (cp *localControlPlane) Stop() { cp.stop() }
