/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

// forwarding is a port-forward to one pod of an AuthServer, open until stop is called.
type forwarding struct {
	// pod is the pod the connections go to.
	pod string
	// local is the address on this machine, 127.0.0.1:port.
	local string
	stop  func()
}

// forward opens a port-forward, as `kubectl port-forward service/NAME` does, to a Ready pod
// behind the AuthServer's Service (which has the AuthServer's name) on the Service's port.
func forward(ctx context.Context, c *clients, as *authlyv1.AuthServer, errOut io.Writer) (*forwarding, error) {
	var svc corev1.Service
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: as.Namespace, Name: as.Name}, &svc); err != nil {
		return nil, fmt.Errorf("the Service of AuthServer %s: %w", as.Name, err)
	}
	if len(svc.Spec.Ports) == 0 || len(svc.Spec.Selector) == 0 {
		return nil, fmt.Errorf("service %s/%s has no port or no selector to forward to", svc.Namespace, svc.Name)
	}
	var pods corev1.PodList
	if err := c.client.List(ctx, &pods, client.InNamespace(svc.Namespace), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, fmt.Errorf("list the pods of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	pod := readyPod(pods.Items)
	if pod == nil {
		return nil, fmt.Errorf("no Ready pod behind Service %s/%s (%d pods) to port-forward to", svc.Namespace, svc.Name, len(pods.Items))
	}
	port, err := targetPort(svc.Spec.Ports[0], pod)
	if err != nil {
		return nil, err
	}

	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(c.rest)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	// As kubectl port-forward: WebSockets first, SPDY when the API server cannot upgrade.
	tunneling, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.rest)
	if err != nil {
		return nil, fmt.Errorf("port-forward dialer: %w", err)
	}
	dialer := portforward.NewFallbackDialerForStreaming(tunneling, spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u), func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(port))}, stopCh, readyCh, io.Discard, errOut)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	stop := sync.OnceFunc(func() { close(stopCh) })
	select {
	case <-readyCh:
	case err := <-done:
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil {
		stop()
		return nil, fmt.Errorf("port-forward to pod %s: no local port: %w", pod.Name, err)
	}
	if len(ports) == 0 {
		stop()
		return nil, fmt.Errorf("port-forward to pod %s: no local port", pod.Name)
	}
	return &forwarding{
		pod:   pod.Namespace + "/" + pod.Name,
		local: "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)),
		stop:  stop,
	}, nil
}

// readyPod is the first Ready pod by name that is not being deleted, or nil.
func readyPod(pods []corev1.Pod) *corev1.Pod {
	pods = slices.Clone(pods)
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p
			}
		}
	}
	return nil
}

// targetPort is the pod's port a Service port sends to: its targetPort by number or by the
// name of a container port, else the Service port itself.
func targetPort(sp corev1.ServicePort, pod *corev1.Pod) (int32, error) {
	switch {
	case sp.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == sp.TargetPort.StrVal {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("pod %s has no container port named %q (the Service's targetPort)", pod.Name, sp.TargetPort.StrVal)
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, nil
	case sp.Port != 0:
		return sp.Port, nil
	}
	return 0, errors.New("the Service port has no port number")
}
