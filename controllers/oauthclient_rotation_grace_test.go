/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/credentials"
	"github.com/authly-dev/authly-operator/server/store"
)

// The rotate-secret-grace-period annotation gives a rotation its own grace period; one that
// is not a duration stalls the client before any new secret is written.
func TestOAuthClientRotationGracePeriodAnnotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addServer(true)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.start(operator{Clock: clocktesting.NewFakePassiveClock(now)})
	ctx := context.Background()

	oc := waitReady(f, f.newOAuthClient("web", nil), metav1.ConditionTrue, authlyv1.ReasonSynced)
	first := string(f.secret("web-oauth").Data["client_secret"])

	f.updateOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		metav1.SetMetaDataAnnotation(&oc.ObjectMeta, authlyv1.RotateSecretAnnotation, "one")
		metav1.SetMetaDataAnnotation(&oc.ObjectMeta, authlyv1.RotateSecretGracePeriodAnnotation, "soon")
	})
	oc = waitReady(f, oc, metav1.ConditionFalse, authlyv1.ReasonInvalidSpec)
	if got := string(f.secret("web-oauth").Data["client_secret"]); got != first {
		t.Error("a rotation with an invalid grace period annotation wrote a new secret")
	}
	if oc.Status.LastRotationRequest != "" {
		t.Errorf("status.lastRotationRequest %q: the rotation was not carried out", oc.Status.LastRotationRequest)
	}

	// Corrected: 30m, not the spec's 1h.
	f.updateOAuthClient("web", func(oc *authlyv1.OAuthClient) {
		metav1.SetMetaDataAnnotation(&oc.ObjectMeta, authlyv1.RotateSecretGracePeriodAnnotation, "30m")
	})
	want := now.Add(30 * time.Minute)
	eventually(t, "rotation with a 30m grace period", func() error {
		if err := f.c.Get(ctx, f.key("web"), oc); err != nil {
			return err
		}
		if oc.Status.LastRotationRequest != "one" || oc.Status.PreviousSecretExpiresAt == nil {
			return fmt.Errorf("status %+v", oc.Status)
		}
		return nil
	})
	if !oc.Status.PreviousSecretExpiresAt.Time.Equal(want) {
		t.Errorf("previousSecretExpiresAt %v, want %v", oc.Status.PreviousSecretExpiresAt, want)
	}
	row := f.waitClient(oc.Status.ClientID, "previous secret kept for 30m", func(c *store.Client) error {
		if !c.PreviousSecretExpiresAt.Equal(want) {
			return fmt.Errorf("previous secret expires at %v", c.PreviousSecretExpiresAt)
		}
		return nil
	})
	if !credentials.SecretMatches(first, row.PreviousSecretHash) {
		t.Error("the previous secret in the database is not the first one")
	}
}
