/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package specs

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/server/oauth"
)

func testAuthServer() *authlyv1.AuthServer {
	return &authlyv1.AuthServer{
		ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "team-a", UID: "uid-1", Generation: 3},
		Spec: authlyv1.AuthServerSpec{
			Issuer: "https://auth.team-a.example.com",
			Database: authlyv1.DatabaseSpec{
				SecretRef:      authlyv1.DatabaseSecretRef{Name: "mydb-app", Key: "uri"},
				MaxConnections: 100,
			},
			Tokens: &authlyv1.TokenSpec{
				AccessTokenTTL:       &metav1.Duration{Duration: 15 * time.Minute},
				RefreshTokenTTL:      &metav1.Duration{Duration: 720 * time.Hour},
				AccessTokenAlgorithm: authlyv1.ES256,
				IDTokenAlgorithm:     authlyv1.RS256,
			},
			Replicas:   ptr.To[int32](2),
			RateLimits: &authlyv1.RateLimitSpec{TokenPerClientPerSecond: 50, LoginPerIPPerMinute: 30},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
		},
	}
}

func envMap(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		m[e.Name] = e
	}
	return m
}

func TestAuthServerDeploymentFor(t *testing.T) {
	plan := replicasPlan(testAuthServer())
	tests := []struct {
		name   string
		mutate func(as *authlyv1.AuthServer)
		check  func(t *testing.T, d *appsv1.Deployment)
	}{
		{
			name: "plain HTTP",
			check: func(t *testing.T, d *appsv1.Deployment) {
				c := d.Spec.Template.Spec.Containers[0]
				if c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8000 {
					t.Errorf("port = %+v, want http 8000", c.Ports[0])
				}
				for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
					if p.HTTPGet.Scheme != corev1.URISchemeHTTP || p.HTTPGet.Port != intstr.FromString("http") {
						t.Errorf("probe = %+v, want HTTP on port http", p.HTTPGet)
					}
				}
				env := envMap(t, c)
				if _, ok := env["AUTHLY_TLS_CERT_FILE"]; ok {
					t.Error("AUTHLY_TLS_CERT_FILE set without spec.tls")
				}
				if e, ok := env["AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL"]; ok {
					t.Errorf("AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL = %+v without spec.tokens.refreshTokenReuseInterval", e)
				}
				if len(d.Spec.Template.Spec.Volumes) != 1 {
					t.Errorf("volumes = %+v, want only tmp", d.Spec.Template.Spec.Volumes)
				}
				if d.Spec.Template.Spec.ServiceAccountName != "main" {
					t.Errorf("serviceAccountName = %q, want the operator's main", d.Spec.Template.Spec.ServiceAccountName)
				}
			},
		},
		{
			name: "refresh token reuse interval",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.Tokens.RefreshTokenReuseInterval = &metav1.Duration{Duration: 30 * time.Second}
			},
			check: func(t *testing.T, d *appsv1.Deployment) {
				env := envMap(t, d.Spec.Template.Spec.Containers[0])
				if got := env["AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL"]; got.Value != "30s" || got.ValueFrom != nil {
					t.Errorf("AUTHLY_REFRESH_TOKEN_REUSE_INTERVAL = %+v, want 30s", got)
				}
			},
		},
		{
			name: "TLS served by the server",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "auth-tls"}
			},
			check: func(t *testing.T, d *appsv1.Deployment) {
				c := d.Spec.Template.Spec.Containers[0]
				if c.Ports[0].Name != "https" {
					t.Errorf("port name = %q, want https", c.Ports[0].Name)
				}
				for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
					if p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
						t.Errorf("probe scheme = %s, want HTTPS", p.HTTPGet.Scheme)
					}
				}
				env := envMap(t, c)
				if env["AUTHLY_TLS_CERT_FILE"].Value != "/etc/authly/tls/tls.crt" || env["AUTHLY_TLS_KEY_FILE"].Value != "/etc/authly/tls/tls.key" {
					t.Errorf("TLS env = %v / %v", env["AUTHLY_TLS_CERT_FILE"], env["AUTHLY_TLS_KEY_FILE"])
				}
				var found bool
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Secret != nil && v.Secret.SecretName == "auth-tls" {
						found = true
					}
				}
				if !found {
					t.Error("the TLS Secret is not mounted")
				}
				var mounted bool
				for _, m := range c.VolumeMounts {
					if m.MountPath == "/etc/authly/tls" && m.ReadOnly {
						mounted = true
					}
				}
				if !mounted {
					t.Errorf("mounts = %+v, want /etc/authly/tls read-only", c.VolumeMounts)
				}
			},
		},
		{
			name: "pod template overrides, operator labels win",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.PodTemplate = &authlyv1.PodTemplateOverrides{
					Labels:             map[string]string{"team": "a", labelInstance: "hijack"},
					Annotations:        map[string]string{"prometheus.io/scrape": "true", ConfigHashAnnotation: "forged"},
					NodeSelector:       map[string]string{"pool": "auth"},
					Tolerations:        []corev1.Toleration{{Key: "dedicated", Value: "auth", Effect: corev1.TaintEffectNoSchedule}},
					Affinity:           &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
					PriorityClassName:  "high",
					ServiceAccountName: "custom-sa",
				}
			},
			check: func(t *testing.T, d *appsv1.Deployment) {
				tpl := d.Spec.Template
				if tpl.Labels["team"] != "a" || tpl.Labels[labelInstance] != "main" {
					t.Errorf("pod labels = %v", tpl.Labels)
				}
				if tpl.Annotations["prometheus.io/scrape"] != "true" || tpl.Annotations[ConfigHashAnnotation] != "cfghash" {
					t.Errorf("pod annotations = %v", tpl.Annotations)
				}
				ps := tpl.Spec
				if ps.NodeSelector["pool"] != "auth" || len(ps.Tolerations) != 1 || ps.PriorityClassName != "high" || ps.ServiceAccountName != "custom-sa" {
					t.Errorf("pod spec overrides not applied: %+v", ps)
				}
				if ps.Affinity == nil || ps.Affinity.NodeAffinity == nil || ps.Affinity.PodAntiAffinity != nil {
					t.Errorf("affinity = %+v, want the spec's", ps.Affinity)
				}
			},
		},
		{
			name: "user key-encryption key and image",
			mutate: func(as *authlyv1.AuthServer) {
				as.Spec.KeyEncryptionKeySecretRef = &authlyv1.KeySecretRef{Name: "vault-kek", Key: "kek"}
			},
			check: func(t *testing.T, d *appsv1.Deployment) {
				env := envMap(t, d.Spec.Template.Spec.Containers[0])
				ref := env["AUTHLY_KEY_ENCRYPTION_KEY"].ValueFrom.SecretKeyRef
				if ref.Name != "vault-kek" || ref.Key != "kek" {
					t.Errorf("KEK ref = %+v, want vault-kek/kek", ref)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := testAuthServer()
			if tt.mutate != nil {
				tt.mutate(as)
			}
			d := Deployment(as, plan, "ghcr.io/authly-dev/authly:v1", "cfghash")
			checkCommonDeployment(t, as, d, plan)
			tt.check(t, d)
		})
	}
}

// checkCommonDeployment checks what every server Deployment has.
func checkCommonDeployment(t *testing.T, as *authlyv1.AuthServer, d *appsv1.Deployment, plan capacity.Plan) {
	t.Helper()
	if d.Name != as.Name || d.Namespace != as.Namespace {
		t.Errorf("name = %s/%s", d.Namespace, d.Name)
	}
	want := map[string]string{labelName: "authly", labelInstance: "main", labelManagedBy: "authly-operator", labelComponent: "server"}
	if diff := cmp.Diff(want, d.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{labelName: "authly", labelInstance: "main"}, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	if *d.Spec.Replicas != plan.Replicas {
		t.Errorf("replicas = %d, want %d", *d.Spec.Replicas, plan.Replicas)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("strategy = %+v, want rolling maxUnavailable 0 maxSurge 1", d.Spec.Strategy)
	}
	ps := d.Spec.Template.Spec
	if ps.SecurityContext == nil || !*ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v", ps.SecurityContext)
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; the server does not talk to the API")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("containers = %d", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.Image != "ghcr.io/authly-dev/authly:v1" || !cmp.Equal(c.Args, []string{"server"}) {
		t.Errorf("image %q args %v", c.Image, c.Args)
	}
	sc := c.SecurityContext
	if !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		!cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container security context = %+v", sc)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/ready" || c.LivenessProbe.HTTPGet.Path != "/health" {
		t.Errorf("probes %s / %s, want /ready and /health", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	if !c.Resources.Requests.Cpu().Equal(resource.MustParse("500m")) {
		t.Errorf("resources = %+v", c.Resources)
	}
	env := envMap(t, c)
	plain := map[string]string{
		"AUTHLY_ISSUER":                as.Spec.Issuer,
		"AUTHLY_LOG_FORMAT":            "json",
		"AUTHLY_POOL_MIN_CONNS":        itoa32(plan.PoolMinConns),
		"AUTHLY_POOL_MAX_CONNS":        itoa32(plan.PoolMaxConns),
		"AUTHLY_REPLICAS":              itoa32(plan.MinReplicas),
		"AUTHLY_RATE_TOKEN_PER_CLIENT": "50",
		"AUTHLY_RATE_LOGIN_PER_IP":     "30",
		"AUTHLY_ACCESS_TOKEN_TTL":      "15m0s",
		"AUTHLY_REFRESH_TOKEN_TTL":     "720h0m0s",
		"AUTHLY_ACCESS_TOKEN_ALG":      "ES256",
		"AUTHLY_ID_TOKEN_ALG":          "RS256",
	}
	for k, v := range plain {
		if env[k].Value != v {
			t.Errorf("%s = %q, want %q", k, env[k].Value, v)
		}
	}
	db := env["AUTHLY_DATABASE_URL"]
	if db.Value != "" || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef.Name != "mydb-app" || db.ValueFrom.SecretKeyRef.Key != "uri" {
		t.Errorf("AUTHLY_DATABASE_URL = %+v, want a reference to mydb-app/uri", db)
	}
	kek := env["AUTHLY_KEY_ENCRYPTION_KEY"]
	if kek.Value != "" || kek.ValueFrom == nil || kek.ValueFrom.SecretKeyRef == nil {
		t.Errorf("AUTHLY_KEY_ENCRYPTION_KEY = %+v, want a Secret reference", kek)
	}
}

func TestAuthServerServiceFor(t *testing.T) {
	as := testAuthServer()
	svc := Service(as)
	if p := svc.Spec.Ports[0]; p.Port != 8000 || p.Name != "http" || p.TargetPort != intstr.FromString("http") {
		t.Errorf("port = %+v, want 8000 http", p)
	}
	if diff := cmp.Diff(SelectorLabels(as), svc.Spec.Selector); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "auth-tls"}
	if p := Service(as).Spec.Ports[0]; p.Port != 443 || p.Name != "https" || p.TargetPort != intstr.FromString("https") {
		t.Errorf("TLS port = %+v, want 443 -> https", p)
	}
}

func TestAuthServerPodDisruptionBudgetFor(t *testing.T) {
	as := testAuthServer()
	if pdb := PodDisruptionBudget(as, 1); pdb != nil {
		t.Errorf("one replica has a budget %+v: it would block node drains", pdb.Spec)
	}
	pdb := PodDisruptionBudget(as, 3)
	if pdb == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Fatalf("pdb = %+v, want maxUnavailable 1", pdb)
	}
	if diff := cmp.Diff(SelectorLabels(as), pdb.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
}

func TestAuthServerIngressFor(t *testing.T) {
	as := testAuthServer()
	if ing := Ingress(as); ing != nil {
		t.Errorf("no spec.ingress but an Ingress %+v", ing)
	}
	as.Spec.Ingress = &authlyv1.IngressSpec{
		ClassName: "nginx", Host: "auth.team-a.example.com", TLSSecretName: "auth-cert",
		Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"},
	}
	ing := Ingress(as)
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("class = %v", ing.Spec.IngressClassName)
	}
	rule := ing.Spec.Rules[0]
	backend := rule.HTTP.Paths[0].Backend.Service
	if rule.Host != "auth.team-a.example.com" || backend.Name != "main" || backend.Port.Name != "http" {
		t.Errorf("rule = %+v backend %+v", rule, backend)
	}
	if *rule.HTTP.Paths[0].PathType != networkingv1.PathTypePrefix || rule.HTTP.Paths[0].Path != "/" {
		t.Errorf("path = %+v", rule.HTTP.Paths[0])
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "auth-cert" || ing.Spec.TLS[0].Hosts[0] != "auth.team-a.example.com" {
		t.Errorf("tls = %+v", ing.Spec.TLS)
	}
	if ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" || ing.Annotations[ingressBackendProtocolAnnotation] != "" {
		t.Errorf("annotations = %v", ing.Annotations)
	}
	as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "auth-tls"}
	ing = Ingress(as)
	if ing.Annotations[ingressBackendProtocolAnnotation] != "HTTPS" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name != "https" {
		t.Errorf("with spec.tls: annotations %v backend %+v", ing.Annotations, ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service)
	}
}

func TestAuthServerServiceMonitorFor(t *testing.T) {
	as := testAuthServer()
	sm := ServiceMonitor(as)
	if sm.GroupVersionKind() != ServiceMonitorGVK || sm.GetName() != "main" {
		t.Fatalf("gvk %v name %s", sm.GroupVersionKind(), sm.GetName())
	}
	ep := sm.Object["spec"].(map[string]any)["endpoints"].([]any)[0].(map[string]any)
	if ep["port"] != "http" || ep["path"] != "/metrics" {
		t.Errorf("endpoint = %v", ep)
	}
	as.Spec.TLS = &authlyv1.TLSSpec{SecretName: "auth-tls"}
	ep = ServiceMonitor(as).Object["spec"].(map[string]any)["endpoints"].([]any)[0].(map[string]any)
	if ep["scheme"] != "https" || ep["tlsConfig"].(map[string]any)["serverName"] != "auth.team-a.example.com" {
		t.Errorf("TLS endpoint = %v", ep)
	}
}

// The endpoint paths are server/oauth's; this package keeps copies so as not to import the
// server.
func TestAuthServerEndpointsMatchTheServer(t *testing.T) {
	e := Endpoints("https://auth.example.com/")
	want := &authlyv1.Endpoints{
		Issuer:        "https://auth.example.com",
		Discovery:     "https://auth.example.com" + oauth.PathOIDCMetadata,
		Token:         "https://auth.example.com" + oauth.PathToken,
		Authorize:     "https://auth.example.com" + oauth.PathAuthorize,
		JWKS:          "https://auth.example.com" + oauth.PathJWKS,
		Userinfo:      "https://auth.example.com" + oauth.PathUserinfo,
		Introspection: "https://auth.example.com" + oauth.PathIntrospect,
		Revocation:    "https://auth.example.com" + oauth.PathRevoke,
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}

func TestAuthServerReplicasPlan(t *testing.T) {
	tests := []struct {
		name                 string
		replicas             *int32
		maxConns             int32
		reserved             *int32
		wantReplicas         int32
		wantPoolMax, wantMin int32
		wantLimited          capacity.Limit
	}{
		{"default one replica", nil, 100, nil, 1, 20, 2, capacity.NotLimited},
		{"budget shared by replicas and surge", ptr.To[int32](4), 100, ptr.To[int32](10), 4, 18, 2, capacity.NotLimited},
		{"capped at the server default", ptr.To[int32](2), 1000, nil, 2, 20, 2, capacity.NotLimited},
		{"budget too small", ptr.To[int32](20), 30, ptr.To[int32](10), 20, 2, 2, capacity.LimitConnectionBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := testAuthServer()
			as.Spec.Replicas = tt.replicas
			as.Spec.Database.MaxConnections = tt.maxConns
			as.Spec.Database.ReservedConnections = tt.reserved
			p := replicasPlan(as)
			if p.Replicas != tt.wantReplicas || p.PoolMaxConns != tt.wantPoolMax || p.PoolMinConns != tt.wantMin || p.LimitedBy != tt.wantLimited {
				t.Errorf("plan = replicas %d pool %d-%d limited %q, want %d %d-%d %q (%s)",
					p.Replicas, p.PoolMinConns, p.PoolMaxConns, p.LimitedBy, tt.wantReplicas, tt.wantMin, tt.wantPoolMax, tt.wantLimited, p.Message)
			}
			if p.LimitedBy == capacity.NotLimited && (p.Replicas+serverMaxSurge)*p.PoolMaxConns > p.ConnectionBudget {
				t.Errorf("%d pods of %d connections exceed the budget %d", p.Replicas+serverMaxSurge, p.PoolMaxConns, p.ConnectionBudget)
			}
		})
	}
}

func TestAuthServerCapacityPlanIsComputes(t *testing.T) {
	as := testAuthServer()
	as.Spec.Replicas = nil
	as.Spec.Capacity = &authlyv1.CapacitySpec{
		ExpectedDailyRequests: 1_000_000_000,
		PeakMultiplier:        "4",
		OperationMix:          &authlyv1.OperationMix{TokenGeneration: "0.25", TokenValidation: "0.45", Authorization: "0.25", Discovery: "0.05"},
		MinReplicas:           2,
		MaxReplicas:           10,
		FailoverReplicas:      ptr.To[int32](1),
	}
	got, err := Plan(as)
	if err != nil {
		t.Fatal(err)
	}
	want, err := capacity.Compute(capacity.Input{
		ExpectedDailyRequests: 1_000_000_000, PeakMultiplier: 4,
		Mix:           capacity.Mix{capacity.TokenGeneration: 0.25, capacity.TokenValidation: 0.45, capacity.Authorization: 0.25, capacity.Discovery: 0.05},
		CPUPerReplica: 0.5, MinReplicas: 2, MaxReplicas: 10, FailoverReplicas: 1, SurgeReplicas: 1,
		MaxConnections: 100, ReservedConnections: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if got.CPUPerReplica != 0.5 {
		t.Errorf("CPU per replica = %v, want resources.requests.cpu 0.5", got.CPUPerReplica)
	}
	as.Spec.Capacity.CPUPerReplica = ptr.To(resource.MustParse("2"))
	if p, _ := Plan(as); p.CPUPerReplica != 2 {
		t.Errorf("CPU per replica = %v, want capacity.cpuPerReplica 2", p.CPUPerReplica)
	}
	as.Spec.Capacity.OperationMix.Discovery = "0.5"
	if _, err := Plan(as); err == nil || !strings.Contains(err.Error(), "capacity.operationMix") {
		t.Errorf("a mix adding up to 1.45 gave %v, want an error naming capacity.operationMix", err)
	}
}

func TestAuthServerGOMAXPROCS(t *testing.T) {
	CapacityMode := func(as *authlyv1.AuthServer) {
		as.Spec.Replicas = nil
		as.Spec.Capacity = &authlyv1.CapacitySpec{ExpectedDailyRequests: 1_000_000, MinReplicas: 2, MaxReplicas: 4}
	}
	tests := []struct {
		name   string
		mutate func(as *authlyv1.AuthServer)
		want   string // "" = GOMAXPROCS not set
	}{
		{"replicas mode, a request of 500m rounds up to 1", nil, "1"},
		{"replicas mode, a request of 1500m rounds up to 2", func(as *authlyv1.AuthServer) {
			as.Spec.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1500m")
		}, "2"},
		{"replicas mode without CPU resources: Go's default", func(as *authlyv1.AuthServer) {
			as.Spec.Resources = corev1.ResourceRequirements{}
		}, ""},
		{"a limit wins over the request", func(as *authlyv1.AuthServer) {
			as.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}
		}, "3"},
		{"capacity mode without resources: the plan's one core", func(as *authlyv1.AuthServer) {
			CapacityMode(as)
			as.Spec.Resources = corev1.ResourceRequirements{}
		}, "1"},
		{"capacity mode: capacity.cpuPerReplica over the request", func(as *authlyv1.AuthServer) {
			CapacityMode(as)
			as.Spec.Capacity.CPUPerReplica = ptr.To(resource.MustParse("4"))
		}, "4"},
		{"capacity mode: a limit still wins", func(as *authlyv1.AuthServer) {
			CapacityMode(as)
			as.Spec.Capacity.CPUPerReplica = ptr.To(resource.MustParse("4"))
			as.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
		}, "2"},
		{"capped", func(as *authlyv1.AuthServer) {
			as.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100k")}
		}, "256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := testAuthServer()
			if tt.mutate != nil {
				tt.mutate(as)
			}
			plan, err := Plan(as)
			if err != nil {
				t.Fatal(err)
			}
			env := envMap(t, Deployment(as, plan, "img", "hash").Spec.Template.Spec.Containers[0])
			v, ok := env["GOMAXPROCS"]
			switch {
			case tt.want == "" && ok:
				t.Errorf("GOMAXPROCS = %q, want it unset", v.Value)
			case tt.want != "" && v.Value != tt.want:
				t.Errorf("GOMAXPROCS = %q (set %v), want %s", v.Value, ok, tt.want)
			}
		})
	}
}

func TestAuthServerConfigHash(t *testing.T) {
	as := testAuthServer()
	plan := replicasPlan(as)
	base := ConfigHash(ServerSettings(as, plan), "db", "kek")
	if again := ConfigHash(ServerSettings(testAuthServer(), replicasPlan(testAuthServer())), "db", "kek"); again != base {
		t.Errorf("the same config hashes differently: %s, %s", base, again)
	}
	as.Spec.Tokens.AccessTokenTTL = &metav1.Duration{Duration: 5 * time.Minute}
	if h := ConfigHash(ServerSettings(as, plan), "db", "kek"); h == base {
		t.Error("a new access token TTL keeps the config hash: the pods would not restart")
	}
	if h := ConfigHash(ServerSettings(testAuthServer(), plan), "db2", "kek"); h == base {
		t.Error("a new database URL keeps the config hash")
	}
}

func TestAuthServerObjectHash(t *testing.T) {
	as := testAuthServer()
	a, err := ObjectHash(Deployment(as, replicasPlan(as), "img", "h"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ObjectHash(Deployment(testAuthServer(), replicasPlan(as), "img", "h"))
	c, _ := ObjectHash(Deployment(as, replicasPlan(as), "img2", "h"))
	if a != b || a == c {
		t.Errorf("hashes: same object %s / %s, other image %s", a, b, c)
	}
}
