/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package specs holds the pure builders of what an AuthServer owns, as CloudNativePG's
// pkg/specs does for its clusters: each returns the desired object from the AuthServer and
// what the reconciler looked up (plan, image, hashes). None reads the cluster, so each is a
// table test away from being checked, and this package's tests run without an API server
// or a database. The AuthServer reconciler (controllers/authserver_controller.go) applies
// them.
package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers/capacity"
	"github.com/authly-dev/authly-operator/server/settings"
)

const (
	// Label keys of everything an AuthServer owns (the recommended labels).
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelComponent = "app.kubernetes.io/component"

	// SpecHashAnnotation on an owned object is the hash of the desired object the operator
	// last sent. An update is sent only when the newly computed hash differs.
	SpecHashAnnotation = "oauth.authly.dev/spec-hash"
	// ConfigHashAnnotation on the server's pod template is the hash of the server's
	// configuration, Secrets included, so that a change of any of them rolls the pods.
	ConfigHashAnnotation = "oauth.authly.dev/config-hash"

	// ServerPort is where `authly server` listens (its --listen default).
	ServerPort = 8000
	// serverTLSServicePort is the Service port when the server serves HTTPS itself.
	serverTLSServicePort = 443
	// serverMaxSurge is the Deployment's maxSurge. The capacity plan counts these pods'
	// pools against the connection budget too.
	serverMaxSurge = 1
	// maxGOMAXPROCS caps the GOMAXPROCS the operator derives from a replica's CPU.
	maxGOMAXPROCS = 256
	// serverUID is the distroless "nonroot" user the image runs as.
	serverUID = 65532
	// tlsMountPath is where the TLS Secret is mounted in the server container.
	tlsMountPath = "/etc/authly/tls"
	// ingressBackendProtocolAnnotation tells ingress-nginx that the server speaks HTTPS.
	ingressBackendProtocolAnnotation = "nginx.ingress.kubernetes.io/backend-protocol"
)

// Paths of the server's endpoints. They are the constants of server/oauth; a test checks
// that they agree, so that this package need not import the OAuth server. PathMetrics is
// where the pods' metrics are read.
const (
	pathAuthorize     = "/api/v1/oauth/authorize"
	pathToken         = "/api/v1/oauth/token"
	pathRevoke        = "/api/v1/oauth/revoke"
	pathIntrospect    = "/api/v1/oauth/introspect"
	pathUserinfo      = "/oidc/userinfo"
	pathJWKS          = "/.well-known/jwks.json"
	pathOIDCDiscovery = "/.well-known/openid-configuration"
	PathMetrics       = "/metrics"
	pathReady         = "/ready"
	pathHealth        = "/health"
)

// ServiceMonitorGVK is the Prometheus Operator's ServiceMonitor, used as unstructured so that
// the operator neither depends on nor needs that API.
var ServiceMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// SelectorLabels select an AuthServer's pods. They never change: a Deployment's
// selector is immutable.
func SelectorLabels(as *authlyv1.AuthServer) map[string]string {
	return map[string]string{labelName: "authly", labelInstance: as.Name}
}

// Labels are on everything an AuthServer owns.
func Labels(as *authlyv1.AuthServer) map[string]string {
	l := SelectorLabels(as)
	l[labelManagedBy] = "authly-operator"
	l[labelComponent] = "server"
	return l
}

// Selector is the label selector of the pods as a string, for the scale
// subresource (and so for a HorizontalPodAutoscaler).
func Selector(as *authlyv1.AuthServer) string {
	return labels.SelectorFromSet(SelectorLabels(as)).String()
}

// ServerTLS reports whether the server serves HTTPS itself.
func ServerTLS(as *authlyv1.AuthServer) bool {
	return as.Spec.TLS != nil && as.Spec.TLS.SecretName != ""
}

// serverPortName is the name of the container and Service port.
func serverPortName(as *authlyv1.AuthServer) string {
	if ServerTLS(as) {
		return "https"
	}
	return "http"
}

// Endpoints are the URLs the server's discovery document advertises: the issuer
// without a trailing slash, followed by each endpoint's path.
func Endpoints(issuer string) *authlyv1.Endpoints {
	iss := strings.TrimSuffix(issuer, "/")
	return &authlyv1.Endpoints{
		Issuer:        iss,
		Discovery:     iss + pathOIDCDiscovery,
		Token:         iss + pathToken,
		Authorize:     iss + pathAuthorize,
		JWKS:          iss + pathJWKS,
		Userinfo:      iss + pathUserinfo,
		Introspection: iss + pathIntrospect,
		Revocation:    iss + pathRevoke,
	}
}

// KeyEncryptionKeySecret is the generated key-encryption-key Secret holding key (base64). It is
// created once and never updated: a new key would make the signing keys unreadable.
func KeyEncryptionKeySecret(as *authlyv1.AuthServer, key string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      as.GeneratedKeyEncryptionKeySecretName(),
			Namespace: as.Namespace,
			Labels:    Labels(as),
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: ptr.To(true),
		Data:      map[string][]byte{authlyv1.DefaultKeySecretKey: []byte(key)},
	}
}

// ServiceAccount is the server pods' ServiceAccount when the spec names none. The pods
// do not talk to the Kubernetes API, so its token is not mounted.
func ServiceAccount(as *authlyv1.AuthServer) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{
			Name:      as.Name,
			Namespace: as.Namespace,
			Labels:    Labels(as),
		},
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// ServerSettings is the server's configuration that is not secret, as AUTHLY_* variables
// of `authly server`, in a fixed order. It enters the config hash and the container's env.
//
// AUTHLY_REPLICAS, by which each replica divides the rate limits, is the plan's lower bound:
// the replica count in replicas mode, capacity.minReplicas in capacity mode. So the
// autoscaler's changes within the bounds never restart the pods, and the limits are never
// stricter than declared (at worst looser by replicas / minReplicas while scaled up).
func ServerSettings(as *authlyv1.AuthServer, plan capacity.Plan) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: settings.Env(settings.FlagIssuer), Value: as.Spec.Issuer},
		{Name: settings.Env(settings.FlagListen), Value: ":" + strconv.Itoa(ServerPort)},
		{Name: settings.Env(settings.FlagLogFormat), Value: "json"},
		{Name: settings.Env(settings.FlagPoolMinConns), Value: itoa32(plan.PoolMinConns)},
		{Name: settings.Env(settings.FlagPoolMaxConns), Value: itoa32(plan.PoolMaxConns)},
		{Name: settings.Env(settings.FlagReplicas), Value: itoa32(max(plan.MinReplicas, 1))},
	}
	if procs := serverGOMAXPROCS(as, plan); procs > 0 {
		env = append(env, corev1.EnvVar{Name: "GOMAXPROCS", Value: strconv.Itoa(procs)})
	}
	if rl := as.Spec.RateLimits; rl != nil {
		if rl.TokenPerClientPerSecond > 0 {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagRateTokenPerClient), Value: itoa32(rl.TokenPerClientPerSecond)})
		}
		if rl.TokenPerIPPerSecond > 0 {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagRateTokenPerIP), Value: itoa32(rl.TokenPerIPPerSecond)})
		}
		if rl.LoginPerIPPerMinute > 0 {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagRateLoginPerIP), Value: itoa32(rl.LoginPerIPPerMinute)})
		}
	}
	if t := as.Spec.Tokens; t != nil {
		if t.AccessTokenTTL != nil {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagAccessTokenTTL), Value: t.AccessTokenTTL.Duration.String()})
		}
		if t.RefreshTokenTTL != nil {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagRefreshTokenTTL), Value: t.RefreshTokenTTL.Duration.String()})
		}
		if t.RefreshTokenReuseInterval != nil {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagRefreshTokenReuseInterval), Value: t.RefreshTokenReuseInterval.Duration.String()})
		}
		if t.AccessTokenAlgorithm != "" {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagAccessTokenAlg), Value: string(t.AccessTokenAlgorithm)})
		}
		if t.IDTokenAlgorithm != "" {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagIDTokenAlg), Value: string(t.IDTokenAlgorithm)})
		}
	}
	if ck := as.Spec.ClientKeys; ck != nil {
		if len(ck.AllowedHosts) > 0 {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagClientKeysAllowedHosts), Value: strings.Join(ck.AllowedHosts, ",")})
		}
		if ck.MaxAssertionLifetime != nil {
			env = append(env, corev1.EnvVar{Name: settings.Env(settings.FlagClientAssertionMaxLifetime), Value: ck.MaxAssertionLifetime.Duration.String()})
		}
	}
	if ServerTLS(as) {
		env = append(env,
			corev1.EnvVar{Name: settings.Env(settings.FlagTLSCertFile), Value: tlsMountPath + "/" + corev1.TLSCertKey},
			corev1.EnvVar{Name: settings.Env(settings.FlagTLSKeyFile), Value: tlsMountPath + "/" + corev1.TLSPrivateKeyKey},
		)
	}
	return env
}

// serverGOMAXPROCS is the number of threads that run the server's Go code at once: the cores
// a replica may use, rounded up. That is its CPU limit when it has one; else, in capacity
// mode, the cores the plan gives each replica (capacity.cpuPerReplica, else the CPU request,
// else one); else its CPU request; 0, leaving Go's default, when nothing says.
//
// Go's default is every core of the node when the container has no CPU limit, and at least
// 2 under one. A replica planned for one core then runs two or more threads that, whenever
// the server waits for Postgres or the network, spin looking for work and wake each other,
// which costs CPU per request for nothing (measured when this was written, its commit has
// the figures; bench/results/REPORT.md runs the server at GOMAXPROCS 1 for that reason).
func serverGOMAXPROCS(as *authlyv1.AuthServer, plan capacity.Plan) int {
	cores := plan.CPUPerReplica
	if q := as.Spec.Resources.Requests.Cpu(); cores == 0 && !q.IsZero() {
		cores = q.AsApproximateFloat64()
	}
	if q := as.Spec.Resources.Limits.Cpu(); !q.IsZero() {
		cores = q.AsApproximateFloat64()
	}
	if !(cores > 0) {
		return 0
	}
	return int(math.Ceil(min(cores, maxGOMAXPROCS)))
}

// ConfigHash is the hash of the server's settings and of digests of the Secret contents it
// reads (database URL, key-encryption key, TLS certificate): what the pods must restart for.
// Only digests enter it, and it is a one-way hash, so no secret can be read back from it.
func ConfigHash(settings []corev1.EnvVar, secretDigests ...string) string {
	h := sha256.New()
	for _, e := range settings {
		h.Write([]byte(e.Name + "=" + e.Value + "\n"))
	}
	for _, d := range secretDigests {
		h.Write([]byte("secret:" + d + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// SecretDigest is a SHA-256 of a Secret's value, for ConfigHash.
func SecretDigest(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}

// Deployment is the server's Deployment: the image running `authly server` with the
// settings as AUTHLY_* variables, Secrets by reference only, hardened, rolled one surge pod
// at a time without ever going below the replica count.
func Deployment(as *authlyv1.AuthServer, plan capacity.Plan, image, configHash string) *appsv1.Deployment {
	portName := serverPortName(as)
	scheme := corev1.URISchemeHTTP
	if ServerTLS(as) {
		scheme = corev1.URISchemeHTTPS
	}
	kek := as.KeyEncryptionKeyRef()
	env := ServerSettings(as, plan)
	env = append(env,
		corev1.EnvVar{Name: settings.Env(settings.FlagDatabaseURL), ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: as.Spec.Database.SecretRef.Name},
			Key:                  as.Spec.Database.URLKey(),
		}}},
		corev1.EnvVar{Name: settings.Env(settings.FlagKeyEncryptionKey), ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: kek.Name},
			Key:                  kek.Key,
		}}},
	)

	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	if ServerTLS(as) {
		volumes = append(volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  as.Spec.TLS.SecretName,
			DefaultMode: ptr.To[int32](0o440),
			Items: []corev1.KeyToPath{
				{Key: corev1.TLSCertKey, Path: corev1.TLSCertKey},
				{Key: corev1.TLSPrivateKeyKey, Path: corev1.TLSPrivateKeyKey},
			},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: tlsMountPath, ReadOnly: true})
	}

	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString(portName), Scheme: scheme,
			}},
			PeriodSeconds:    period,
			TimeoutSeconds:   2,
			FailureThreshold: failures,
		}
	}

	podLabels := map[string]string{}
	podAnnotations := map[string]string{}
	pod := corev1.PodSpec{
		ServiceAccountName:            as.Name,
		AutomountServiceAccountToken:  ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](serverUID),
			RunAsGroup:     ptr.To[int64](serverUID),
			FSGroup:        ptr.To[int64](serverUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:            "server",
			Image:           image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            []string{"server"},
			Env:             env,
			Ports:           []corev1.ContainerPort{{Name: portName, ContainerPort: ServerPort, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe:  probe(pathReady, 5, 3),
			LivenessProbe:   probe(pathHealth, 10, 3),
			Resources:       *as.Spec.Resources.DeepCopy(),
			VolumeMounts:    mounts,
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
		Volumes: volumes,
		// Spread the replicas over nodes when the spec says nothing, so that the failover
		// replicas the plan adds survive the loss of a node.
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(as)},
					TopologyKey:   corev1.LabelHostname,
				},
			}},
		}},
	}
	if o := as.Spec.PodTemplate; o != nil {
		maps.Copy(podLabels, o.Labels)
		maps.Copy(podAnnotations, o.Annotations)
		pod.NodeSelector = maps.Clone(o.NodeSelector)
		for _, t := range o.Tolerations {
			pod.Tolerations = append(pod.Tolerations, *t.DeepCopy())
		}
		if o.Affinity != nil {
			pod.Affinity = o.Affinity.DeepCopy()
		}
		for _, c := range o.TopologySpreadConstraints {
			pod.TopologySpreadConstraints = append(pod.TopologySpreadConstraints, *c.DeepCopy())
		}
		pod.PriorityClassName = o.PriorityClassName
		if o.ServiceAccountName != "" {
			pod.ServiceAccountName = o.ServiceAccountName
		}
	}
	// The operator's labels and hash win over the overrides: pods must stay selected.
	maps.Copy(podLabels, Labels(as))
	podAnnotations[ConfigHashAnnotation] = configHash

	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      as.Name,
			Namespace: as.Namespace,
			Labels:    Labels(as),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(plan.Replicas),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(as)},
			RevisionHistoryLimit: ptr.To[int32](5),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(serverMaxSurge)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec:       pod,
			},
		},
	}
}

// Service is the server's Service: port 8000 (http), or 443 to the server's HTTPS port
// when it serves TLS itself.
func Service(as *authlyv1.AuthServer) *corev1.Service {
	port := corev1.ServicePort{
		Name: "http", Port: ServerPort, TargetPort: intstr.FromString("http"),
		Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("http"),
	}
	if ServerTLS(as) {
		port = corev1.ServicePort{
			Name: "https", Port: serverTLSServicePort, TargetPort: intstr.FromString("https"),
			Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("https"),
		}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      as.Name,
			Namespace: as.Namespace,
			Labels:    Labels(as),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(as),
			Ports:    []corev1.ServicePort{port},
		},
	}
}

// PodDisruptionBudget lets a node drain evict one server pod at a time. With a single
// replica it returns nil: any budget would then either block drains for good (minAvailable
// 1, maxUnavailable 0) or promise nothing (minAvailable 0), so there is none.
func PodDisruptionBudget(as *authlyv1.AuthServer, replicas int32) *policyv1.PodDisruptionBudget {
	if replicas <= 1 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{
			Name:      as.Name,
			Namespace: as.Namespace,
			Labels:    Labels(as),
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(as)},
			// A pod that is not ready serves nobody: evicting it must not wait for the
			// budget, or a crash-looping pod would block the drain.
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

// Ingress renders spec.ingress, or returns nil when there is none. The host is the
// issuer's, which the schema enforces; every path goes to the server.
func Ingress(as *authlyv1.AuthServer) *networkingv1.Ingress {
	spec := as.Spec.Ingress
	if spec == nil {
		return nil
	}
	annotations := map[string]string{}
	if ServerTLS(as) {
		// The server speaks HTTPS itself; a user's annotation below says otherwise if needed.
		annotations[ingressBackendProtocolAnnotation] = "HTTPS"
	}
	maps.Copy(annotations, spec.Annotations)
	if len(annotations) == 0 {
		annotations = nil
	}
	host := spec.Host
	if host == "" {
		if u, err := url.Parse(as.Spec.Issuer); err == nil {
			host = u.Hostname()
		}
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name:        as.Name,
			Namespace:   as.Namespace,
			Labels:      Labels(as),
			Annotations: annotations,
		},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: as.Name,
							Port: networkingv1.ServiceBackendPort{Name: serverPortName(as)},
						}},
					}},
				}},
			}},
		},
	}
	if spec.ClassName != "" {
		ing.Spec.IngressClassName = ptr.To(spec.ClassName)
	}
	if spec.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: spec.TLSSecretName}}
	}
	return ing
}

// ServiceMonitor is a Prometheus Operator ServiceMonitor scraping the server pods'
// /metrics through the Service's port.
func ServiceMonitor(as *authlyv1.AuthServer) *unstructured.Unstructured {
	endpoint := map[string]any{
		"port":     serverPortName(as),
		"path":     PathMetrics,
		"interval": "30s",
	}
	if ServerTLS(as) {
		endpoint["scheme"] = "https"
		if u, err := url.Parse(as.Spec.Issuer); err == nil {
			// The certificate is the issuer's; Prometheus reaches the pods by IP.
			endpoint["tlsConfig"] = map[string]any{"serverName": u.Hostname()}
		}
	}
	matchLabels := map[string]any{}
	for k, v := range SelectorLabels(as) {
		matchLabels[k] = v
	}
	sm := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": matchLabels},
			"endpoints": []any{endpoint},
		},
	}}
	sm.SetGroupVersionKind(ServiceMonitorGVK)
	sm.SetName(as.Name)
	sm.SetNamespace(as.Namespace)
	sm.SetLabels(Labels(as))
	return sm
}

// ObjectHash is the hash of a desired object as the operator renders it, for
// SpecHashAnnotation. encoding/json writes map keys sorted, so equal objects hash equally.
func ObjectHash(obj any) (string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("hash the object: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:32], nil
}

func itoa32(v int32) string { return strconv.FormatInt(int64(v), 10) }
