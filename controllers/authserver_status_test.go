/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

func TestAuthServerRedact(t *testing.T) {
	url := "postgres://authly:s3cr%40t@db.example.com:5432/authly?sslmode=require"
	tests := []string{
		"connect " + url + ": refused",
		"failed for password s3cr@t",
		"dsn host=db password=s3cr@t user=authly",
	}
	for _, msg := range tests {
		got := redact(msg, url)
		if strings.Contains(got, "s3cr") {
			t.Errorf("redact(%q) = %q: the password is still there", msg, got)
		}
	}
	if got := redact("connection refused", url); got != "connection refused" {
		t.Errorf("redact changed an innocent message: %q", got)
	}
}

func TestAuthServerMergeCapacityStatusKeepsLastEvaluated(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	prev := mergeCapacityStatus(nil, &authlyv1.CapacityStatus{Replicas: 3}, t0)
	same := mergeCapacityStatus(prev, &authlyv1.CapacityStatus{Replicas: 3}, t1)
	if !same.LastEvaluated.Equal(&t0) {
		t.Errorf("an unchanged plan moved lastEvaluated to %v", same.LastEvaluated)
	}
	changed := mergeCapacityStatus(prev, &authlyv1.CapacityStatus{Replicas: 4}, t1)
	if !changed.LastEvaluated.Equal(&t1) {
		t.Errorf("a changed plan kept lastEvaluated %v", changed.LastEvaluated)
	}
}
