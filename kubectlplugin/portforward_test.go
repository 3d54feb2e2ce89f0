/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name string, phase corev1.PodPhase, ready corev1.ConditionStatus, deleting bool) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}}}}},
		Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}},
	}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

// The port-forward goes to the first Ready, running pod that is not going away.
func TestReadyPod(t *testing.T) {
	pods := []corev1.Pod{
		pod("d-ready", corev1.PodRunning, corev1.ConditionTrue, false),
		pod("a-deleting", corev1.PodRunning, corev1.ConditionTrue, true),
		pod("b-unready", corev1.PodRunning, corev1.ConditionFalse, false),
		pod("c-pending", corev1.PodPending, corev1.ConditionTrue, false),
		pod("e-ready", corev1.PodRunning, corev1.ConditionTrue, false),
	}
	if got := readyPod(pods); got == nil || got.Name != "d-ready" {
		t.Errorf("readyPod = %v, want d-ready", got)
	}
	if got := readyPod(pods[1:4]); got != nil {
		t.Errorf("readyPod of no Ready pod = %s", got.Name)
	}
}

// The Service's targetPort, by name or number, as kubectl port-forward service/... maps it.
func TestTargetPort(t *testing.T) {
	p := pod("p", corev1.PodRunning, corev1.ConditionTrue, false)
	for _, tc := range []struct {
		sp   corev1.ServicePort
		want int32
		err  bool
	}{
		{corev1.ServicePort{Port: 8000, TargetPort: intstr.FromString("http")}, 8000, false},
		{corev1.ServicePort{Port: 443, TargetPort: intstr.FromString("https")}, 0, true},
		{corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, 9000, false},
		{corev1.ServicePort{Port: 8080}, 8080, false},
	} {
		got, err := targetPort(tc.sp, &p)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("targetPort(%+v) = %d, %v; want %d, error %v", tc.sp, got, err, tc.want, tc.err)
		}
	}
}
