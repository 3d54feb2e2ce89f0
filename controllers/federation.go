/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/server/federation"
	"github.com/authly-dev/authly-operator/server/store"
)

// The API server's ServiceAccount issuer discovery endpoints (KEP-1393).
const (
	pathIssuerDiscovery = "/.well-known/openid-configuration"
	pathIssuerJWKS      = "/openid/v1/jwks"
)

// federationManagedBy marks the federated issuer rows the operator stores.
const federationManagedBy = "k8s:authly-operator"

// maxIssuerDocument bounds what is read from the discovery endpoints.
const maxIssuerDocument = 1 << 20

// +kubebuilder:rbac:urls=/.well-known/openid-configuration;/openid/v1/jwks,verbs=get

// ClusterIssuer reads the cluster's ServiceAccount issuer, its discovery document and
// signing keys, from the API server, and remembers the last answer. The server never
// talks to the Kubernetes API: the operator stores what this reads in each AuthServer's
// database (see FederationSync).
type ClusterIssuer struct {
	// REST reaches the API server; NewClusterIssuer makes it from the manager's config.
	REST rest.Interface
	// Clock; nil means the real clock.
	Clock clock.PassiveClock

	mu   sync.Mutex
	last *store.FederatedIssuer
}

// NewClusterIssuer reads the issuer through the API server that cfg reaches.
func NewClusterIssuer(cfg *rest.Config) (*ClusterIssuer, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("ServiceAccount issuer: API server client: %w", err)
	}
	return &ClusterIssuer{REST: dc.RESTClient()}, nil
}

func (c *ClusterIssuer) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// FetchedSince returns the issuer's documents read at or after since: the last ones when
// they are recent enough, else read again. Many AuthServers share one read.
func (c *ClusterIssuer) FetchedSince(ctx context.Context, since time.Time) (*store.FederatedIssuer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && !c.last.FetchedAt.Before(since) {
		cp := *c.last
		return &cp, nil
	}
	fi, err := c.fetch(ctx)
	if err != nil {
		return nil, err
	}
	c.last = fi
	cp := *fi
	return &cp, nil
}

// fetch reads the discovery document and the JWKS and checks that they can be used.
func (c *ClusterIssuer) fetch(ctx context.Context) (*store.FederatedIssuer, error) {
	fetchedAt := c.now()
	discoveryDoc, err := c.get(ctx, pathIssuerDiscovery)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(discoveryDoc, &doc); err != nil || doc.Issuer == "" {
		return nil, fmt.Errorf("ServiceAccount issuer: %s has no issuer (is --service-account-issuer set?)", pathIssuerDiscovery)
	}
	jwks, err := c.get(ctx, pathIssuerJWKS)
	if err != nil {
		return nil, err
	}
	if _, err := federation.ParseJWKS(jwks); err != nil {
		return nil, fmt.Errorf("ServiceAccount issuer: %s: %w", pathIssuerJWKS, err)
	}
	return &store.FederatedIssuer{Issuer: doc.Issuer, Discovery: discoveryDoc, JWKS: jwks,
		FetchedAt: fetchedAt, ManagedBy: federationManagedBy}, nil
}

func (c *ClusterIssuer) get(ctx context.Context, path string) ([]byte, error) {
	body, err := c.REST.Get().AbsPath(path).Do(ctx).Raw()
	if err != nil {
		return nil, fmt.Errorf("ServiceAccount issuer: GET %s: %w", path, err)
	}
	if len(body) > maxIssuerDocument {
		return nil, fmt.Errorf("ServiceAccount issuer: GET %s: more than %d bytes", path, maxIssuerDocument)
	}
	return body, nil
}

// Defaults of FederationSync.
const (
	// defaultFederationPoll is how often the databases are checked for a refresh the
	// server asked for (a token with a kid the stored keys lack, after the cluster rotated
	// its key): the longest such a token is refused for.
	defaultFederationPoll = 10 * time.Second
	// defaultFederationRefresh is the age at which stored keys are read again anyway.
	defaultFederationRefresh = 5 * time.Minute
)

// FederationSync keeps the cluster's ServiceAccount issuer and keys current in the
// database of every AuthServer that has OAuthClients with a serviceAccountName: every
// RefreshInterval, and within PollInterval of the server asking for a refresh (it does
// when a token names a kid it does not know: the cluster rotated its signing key). It is
// a manager Runnable.
type FederationSync struct {
	Client    client.Client
	Databases *Databases
	Issuer    *ClusterIssuer
	Clock     clock.PassiveClock
	// PollInterval and RefreshInterval; zero means 10 seconds and 5 minutes.
	PollInterval, RefreshInterval time.Duration
}

// Start runs the sync every PollInterval until ctx ends.
func (s *FederationSync) Start(ctx context.Context) error {
	poll := durationOr(s.PollInterval, defaultFederationPoll)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.SyncOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection is true: one operator replica writes the keys.
func (s *FederationSync) NeedLeaderElection() bool { return true }

func (s *FederationSync) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// SyncOnce brings the keys in every database that needs them up to date; failures are
// logged and tried again at the next poll.
func (s *FederationSync) SyncOnce(ctx context.Context) {
	log := logf.FromContext(ctx).WithName("federation")
	var list authlyv1.OAuthClientList
	if err := s.Client.List(ctx, &list); err != nil {
		log.Error(err, "listing OAuthClients")
		return
	}
	servers := map[types.NamespacedName]bool{}
	for i := range list.Items {
		oc := &list.Items[i]
		if oc.Spec.ServiceAccountName != "" && oc.DeletionTimestamp.IsZero() {
			servers[types.NamespacedName{Namespace: oc.Namespace, Name: oc.Spec.AuthServerRef.Name}] = true
		}
	}
	for key := range servers {
		db, err := openServerDatabase(ctx, s.Client, s.Databases, key.Namespace, key.Name)
		if err != nil {
			// A database not ready yet is the AuthServer's business, reported in its
			// status; anything else is logged here.
			var q *requeue
			if !errors.As(err, &q) || q.stalled {
				log.Error(err, "opening the database", "authserver", key)
			}
			continue
		}
		if _, err := syncIssuerKeys(ctx, db.store, s.Issuer, s.now(), durationOr(s.RefreshInterval, defaultFederationRefresh)); err != nil {
			log.Error(err, "storing the cluster's ServiceAccount issuer keys", "authserver", key)
		}
	}
}

// syncIssuerKeys stores the cluster's issuer and keys in st when they are missing there,
// older than refresh, or the server asked for a refresh, and returns the issuer.
func syncIssuerKeys(ctx context.Context, st *store.Store, issuer *ClusterIssuer, now time.Time, refresh time.Duration) (string, error) {
	current, err := issuer.FetchedSince(ctx, now.Add(-refresh))
	if err != nil {
		return "", err
	}
	stored, err := st.GetFederatedIssuer(ctx, current.Issuer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("read the stored ServiceAccount issuer: %w", err)
	}
	if stored != nil {
		switch {
		case !stored.RefreshRequestedAt.IsZero():
			// Keys read after the request may hold the new key; older ones do not.
			if current, err = issuer.FetchedSince(ctx, stored.RefreshRequestedAt); err != nil {
				return "", err
			}
		case !stored.FetchedAt.Before(current.FetchedAt) || now.Sub(stored.FetchedAt) < refresh:
			return current.Issuer, nil
		}
	}
	if err := st.UpsertFederatedIssuer(ctx, current); err != nil {
		return "", fmt.Errorf("store the ServiceAccount issuer keys: %w", err)
	}
	return current.Issuer, nil
}
