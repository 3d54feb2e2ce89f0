/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

type rotateOptions struct {
	grace       time.Duration
	noWaitGrace bool
	timeout     time.Duration
}

func newRotateCommand(cfg *Config) *cobra.Command {
	o := rotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate OAUTHCLIENT [--grace 1h] [--no-wait-grace]",
		Short: "Rotate an OAuthClient's client secret and follow the rotation to its end",
		Long: `Ask the operator for a new client secret for an OAuthClient (the oauth.authly.dev/rotate-secret
annotation), wait until the new secret is in the client's Secret and accepted by the server,
then wait until the previous secret stops working at the end of the grace period.

The grace period is spec.secretRotationGracePeriod (24h by default) unless --grace gives
this rotation its own (the oauth.authly.dev/rotate-secret-grace-period annotation). With
--no-wait-grace the command ends once the new secret is live. Ctrl-C while waiting for the
grace period leaves the rotation done: the previous secret still expires on time.`,
		Example: `  kubectl authly rotate billing -n team-a --grace 1h
  kubectl authly rotate billing -n team-a --no-wait-grace`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("grace") && o.grace < 0 {
				return fmt.Errorf("--grace must not be negative, got %s", o.grace)
			}
			if !cmd.Flags().Changed("grace") {
				o.grace = -1
			}
			c, err := cfg.connect()
			if err != nil {
				return err
			}
			return runRotate(cmd.Context(), cfg, c, args[0], o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&o.grace, "grace", 0, "How long the previous secret stays valid, for this rotation (default: spec.secretRotationGracePeriod)")
	fl.BoolVar(&o.noWaitGrace, "no-wait-grace", false, "End once the new secret is live instead of at the end of the grace period")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "How long to wait for the operator to issue the new secret")
	return cmd
}

func runRotate(ctx context.Context, cfg *Config, c *clients, name string, o rotateOptions, out io.Writer) error {
	key := client.ObjectKey{Namespace: c.namespace, Name: name}
	var oc authlyv1.OAuthClient
	if err := c.client.Get(ctx, key, &oc); err != nil {
		return fmt.Errorf("get OAuthClient %s: %w", name, err)
	}
	if err := checkRotatable(ctx, c, &oc); err != nil {
		return err
	}

	req := cfg.now().UTC().Format(time.RFC3339)
	if req == oc.Annotations[authlyv1.RotateSecretAnnotation] || req == oc.Status.LastRotationRequest {
		req = cfg.now().UTC().Format(time.RFC3339Nano)
	}
	annotations := map[string]any{authlyv1.RotateSecretAnnotation: req, authlyv1.RotateSecretGracePeriodAnnotation: nil}
	graceText := "spec.secretRotationGracePeriod"
	if o.grace >= 0 {
		annotations[authlyv1.RotateSecretGracePeriodAnnotation] = o.grace.String()
		graceText = o.grace.String()
	} else if g := oc.Spec.SecretRotationGracePeriod; g != nil {
		graceText = g.Duration.String() + " (spec.secretRotationGracePeriod)"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return fmt.Errorf("rotation patch: %w", err)
	}
	before := oc.Status.CredentialsVersion
	if err := c.client.Patch(ctx, &oc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("asking for the rotation: %w", err)
	}
	fmt.Fprintf(out, "asked for a new client secret for OAuthClient %s/%s (%s=%s), grace period %s\n",
		oc.Namespace, oc.Name, authlyv1.RotateSecretAnnotation, req, graceText)

	done, err := waitRotation(ctx, c, key, req, o.timeout, out)
	if err != nil {
		return err
	}
	if done.Status.CredentialsVersion <= before {
		return fmt.Errorf("the operator recorded rotation %s without issuing a new secret: see `kubectl describe oauthclient %s`", req, name)
	}
	fmt.Fprintf(out, "the new secret is in Secret %s and the server accepts it (credentials version %d)\n",
		done.Status.SecretName, done.Status.CredentialsVersion)

	exp := done.Status.PreviousSecretExpiresAt
	if exp == nil {
		_, err := fmt.Fprintln(out, "the previous secret stopped working at once (no grace period): the rotation is complete")
		return err
	}
	left := exp.Sub(cfg.now())
	if o.noWaitGrace {
		_, err := fmt.Fprintf(out, "the previous secret stays valid until %s (%s from now): not waiting (--no-wait-grace)\n", exp.UTC().Format(time.RFC3339), left.Round(time.Second))
		return err
	}
	fmt.Fprintf(out, "the previous secret stays valid until %s (%s from now): waiting (Ctrl-C stops waiting; the rotation is done either way)\n",
		exp.UTC().Format(time.RFC3339), left.Round(time.Second))
	if left > 0 {
		select {
		case <-cfg.Clock.After(left):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, err = fmt.Fprintf(out, "the previous secret stopped working at %s: the rotation is complete\n", exp.UTC().Format(time.RFC3339))
	return err
}

// checkRotatable refuses what the operator would not rotate: a public client has no
// secret, and a Secret the operator did not write is rotated where it comes from.
func checkRotatable(ctx context.Context, c *clients, oc *authlyv1.OAuthClient) error {
	if oc.Spec.Type == authlyv1.ClientPublic {
		return fmt.Errorf("OAuthClient %s is a public client: it has no secret to rotate", oc.Name)
	}
	name := oc.Status.SecretName
	if name == "" {
		name = oc.EffectiveSecretName()
	}
	var s corev1.Secret
	err := c.client.Get(ctx, client.ObjectKey{Namespace: oc.Namespace, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get Secret %s: %w", name, err)
	}
	if owner := metav1.GetControllerOf(&s); owner == nil || owner.UID != oc.UID {
		return fmt.Errorf("secret %s is not written by the operator for OAuthClient %s: rotate the secret where it comes from (the database follows the Secret)", name, oc.Name)
	}
	return nil
}

// waitRotation watches the OAuthClient until its status records the rotation request req,
// printing each change of its Ready condition on the way.
func waitRotation(ctx context.Context, c *clients, key client.ObjectKey, req string, timeout time.Duration, out io.Writer) (*authlyv1.OAuthClient, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	selector := fields.OneTermEqualSelector("metadata.name", key.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			var list authlyv1.OAuthClientList
			if err := c.client.List(ctx, &list, client.InNamespace(key.Namespace), &client.ListOptions{Raw: &opts}); err != nil {
				return nil, fmt.Errorf("list OAuthClients: %w", err)
			}
			return &list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return c.client.Watch(ctx, &authlyv1.OAuthClientList{}, client.InNamespace(key.Namespace), &client.ListOptions{Raw: &opts})
		},
	}
	var last *authlyv1.OAuthClient
	lastReady := ""
	_, err := watchtools.UntilWithSync(ctx, lw, &authlyv1.OAuthClient{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("OAuthClient %s was deleted", key.Name)
		}
		oc, ok := ev.Object.(*authlyv1.OAuthClient)
		if !ok {
			return false, nil
		}
		last = oc
		if oc.Status.LastRotationRequest == req {
			return true, nil
		}
		if r := conditionOf(oc.Status.Conditions, authlyv1.ConditionReady); r != nil && r.Status != metav1.ConditionTrue {
			if line := fmt.Sprintf("%s %s: %s", r.Status, r.Reason, r.Message); line != lastReady {
				lastReady = line
				fmt.Fprintf(out, "waiting: Ready is %s\n", line)
			}
		}
		return false, nil
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg := "the operator did not carry out the rotation within " + timeout.String()
		if last != nil {
			if r := conditionOf(last.Status.Conditions, authlyv1.ConditionReady); r != nil {
				msg += fmt.Sprintf(" (Ready is %s %s: %s)", r.Status, r.Reason, r.Message)
			}
		}
		return nil, errors.New(msg + "; it will still rotate once it can")
	}
	if err != nil {
		return nil, fmt.Errorf("watch OAuthClient %s: %w", key.Name, err)
	}
	return last, nil
}
