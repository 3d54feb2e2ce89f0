/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthServerSpec is the desired state of an Authly OAuth 2.1 / OpenID Connect server.
//
// The number of replicas comes either from spec.replicas (which the scale subresource and a
// HorizontalPodAutoscaler write) or from spec.capacity (which the operator turns into a plan),
// never both. With neither, the server runs one replica.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.capacity))",message="replicas and capacity are exclusive: set replicas (or let an autoscaler scale it) or declare capacity, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || !isURL(self.issuer) || url(self.issuer).getHostname() == self.ingress.host",message="ingress.host must be the issuer's host: clients reach the server at the issuer URL",fieldPath=".ingress.host"
type AuthServerSpec struct {
	// issuer is the server's absolute http(s) URL as clients reach it. It is the `iss` of
	// every token and the base of the discovery document, so it must match the Ingress or
	// whatever else fronts the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="issuer must be an absolute http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="issuer must not contain a query or fragment (OpenID Connect Discovery 1.0, section 3)"
	Issuer string `json:"issuer"`

	// image of the server. Empty means the operator's own image, which runs `authly server`
	// and therefore always agrees with the operator on the database schema.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// database is the Postgres database the server keeps its clients, scopes, keys and
	// refresh tokens in, and the share of its connections this server may use.
	// +required
	Database DatabaseSpec `json:"database"`

	// tokens sets token lifetimes and signing algorithms.
	// +optional
	// +kubebuilder:default={}
	Tokens *TokenSpec `json:"tokens,omitempty"`

	// replicas is a fixed number of server pods. It is the scale subresource's spec path, so
	// `kubectl scale` and a HorizontalPodAutoscaler work on it. Exclusive with capacity.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Replicas *int32 `json:"replicas,omitempty"`

	// capacity declares the expected load; the operator plans replicas and database pool
	// sizes from it and raises the plan when it observes more load. Exclusive with replicas.
	// +optional
	Capacity *CapacitySpec `json:"capacity,omitempty"`

	// rateLimits protects the token and login endpoints.
	// +optional
	// +kubebuilder:default={}
	RateLimits *RateLimitSpec `json:"rateLimits,omitempty"`

	// resources of the server container. resources.requests.cpu is also the CPU per replica
	// the capacity planner assumes, unless capacity.cpuPerReplica says otherwise. The
	// server's GOMAXPROCS is the replica's CPU rounded up: its CPU limit if set, else the
	// planned CPU per replica, else its CPU request.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// podTemplate adds to the pods the operator creates.
	// +optional
	PodTemplate *PodTemplateOverrides `json:"podTemplate,omitempty"`

	// clientKeys configures how the server reads the keys of private_key_jwt clients.
	// +optional
	ClientKeys *ClientKeysSpec `json:"clientKeys,omitempty"`

	// tls makes the server itself serve HTTPS with the certificate in a kubernetes.io/tls
	// Secret. Without it the server speaks plain HTTP behind whatever terminates TLS.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// ingress renders an Ingress for the issuer's host.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// keyEncryptionKeySecretRef selects the key that encrypts the signing keys' private parts
	// in the database. Without it the operator generates one into a Secret it owns. Losing
	// this key means losing the signing keys: back it up with the database.
	// +optional
	KeyEncryptionKeySecretRef *KeySecretRef `json:"keyEncryptionKeySecretRef,omitempty"`
}

// DatabaseSpec locates the server's Postgres database and bounds its connection use.
// +kubebuilder:validation:XValidation:rule="!has(self.reservedConnections) || !has(self.maxConnections) || self.reservedConnections < self.maxConnections",message="reservedConnections must be less than maxConnections: the server's pods need connections too",fieldPath=".reservedConnections"
type DatabaseSpec struct {
	// secretRef selects the Secret key holding a postgres:// connection URL.
	// +required
	SecretRef DatabaseSecretRef `json:"secretRef"`

	// maxConnections is this server's share of the database's connections: the sum over all
	// its pods' pools, plus reservedConnections, never exceeds it.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=10
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// reservedConnections of maxConnections are kept free of the pods' pools, for the
	// operator's migrations and client sync, `authly admin` and a person's psql session.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	ReservedConnections *int32 `json:"reservedConnections,omitempty"`
}

// TokenSpec sets token lifetimes and signing algorithms.
type TokenSpec struct {
	// accessTokenTTL is the lifetime of an access token, a Go duration such as "15m".
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="accessTokenTTL must be a positive duration such as 15m"
	AccessTokenTTL *metav1.Duration `json:"accessTokenTTL,omitempty"`

	// refreshTokenTTL is the lifetime of a refresh token, a Go duration such as "720h".
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="refreshTokenTTL must be a positive duration such as 720h"
	RefreshTokenTTL *metav1.Duration `json:"refreshTokenTTL,omitempty"`

	// refreshTokenReuseInterval is how long after a refresh token's rotation its client may
	// present it again without its grant being revoked, for a client whose response was lost
	// (a dropped connection, a restarted pod, a proxy timeout). The token then rotates again
	// and the token issued the first time is revoked. Unset or "0s" is strict: any second
	// use revokes the grant. At most "5m".
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('5m')",message="refreshTokenReuseInterval must be a duration from 0s to 5m"
	RefreshTokenReuseInterval *metav1.Duration `json:"refreshTokenReuseInterval,omitempty"`

	// accessTokenAlgorithm signs access tokens.
	// +optional
	// +kubebuilder:default=ES256
	AccessTokenAlgorithm SigningAlgorithm `json:"accessTokenAlgorithm,omitempty"`

	// idTokenAlgorithm signs ID tokens unless a client asks for another with
	// idTokenSignedResponseAlg. OpenID Connect requires RS256 to be available.
	// +optional
	// +kubebuilder:default=RS256
	IDTokenAlgorithm SigningAlgorithm `json:"idTokenAlgorithm,omitempty"`
}

// CapacitySpec is the declared load the operator plans replicas and pool sizes for.
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",message="minReplicas must not exceed maxReplicas",fieldPath=".minReplicas"
type CapacitySpec struct {
	// expectedDailyRequests is the number of requests a day, all endpoints together.
	// +required
	// +kubebuilder:validation:Minimum=1
	ExpectedDailyRequests int64 `json:"expectedDailyRequests"`

	// peakMultiplier is the ratio of the busiest moment's request rate to the day's average,
	// a decimal written as a string such as "4" or "2.5".
	// +optional
	// +kubebuilder:default="5"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +kubebuilder:validation:XValidation:rule="double(self) >= 1.0",message="peakMultiplier must be a decimal of at least 1"
	PeakMultiplier string `json:"peakMultiplier,omitempty"`

	// operationMix is the share of each kind of request. Without it the planner uses token
	// generation 0.3, token validation 0.4, authorization 0.2, discovery 0.1.
	// +optional
	OperationMix *OperationMix `json:"operationMix,omitempty"`

	// minReplicas is the fewest replicas the plan may choose, failover included.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most replicas the plan may choose. The database pool of each pod
	// is sized so that this many pods fit the connection budget, so scaling up never needs a
	// restart.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// failoverReplicas are added to what the load needs, so that losing that many pods still
	// serves the peak.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	FailoverReplicas *int32 `json:"failoverReplicas,omitempty"`

	// cpuPerReplica is the CPU one replica's throughput is planned for. Without it the
	// planner uses resources.requests.cpu, else one core.
	// +optional
	CPUPerReplica *resource.Quantity `json:"cpuPerReplica,omitempty"`
}

// OperationMix gives each kind of request's share of the load as a decimal string between 0
// and 1. The shares add up to 1; an omitted share is 0.
// +kubebuilder:validation:XValidation:rule="(has(self.tokenGeneration) ? double(self.tokenGeneration) : 0.0) + (has(self.tokenValidation) ? double(self.tokenValidation) : 0.0) + (has(self.authorization) ? double(self.authorization) : 0.0) + (has(self.discovery) ? double(self.discovery) : 0.0) >= 0.999 && (has(self.tokenGeneration) ? double(self.tokenGeneration) : 0.0) + (has(self.tokenValidation) ? double(self.tokenValidation) : 0.0) + (has(self.authorization) ? double(self.authorization) : 0.0) + (has(self.discovery) ? double(self.discovery) : 0.0) <= 1.001",message="the operation shares must add up to 1"
type OperationMix struct {
	// tokenGeneration is the share of token requests (POST /api/v1/oauth/token).
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	TokenGeneration string `json:"tokenGeneration,omitempty"`

	// tokenValidation is the share of introspection, userinfo and revocation requests.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	TokenValidation string `json:"tokenValidation,omitempty"`

	// authorization is the share of authorization requests (login and consent pages).
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	Authorization string `json:"authorization,omitempty"`

	// discovery is the share of discovery and JWKS requests.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	Discovery string `json:"discovery,omitempty"`
}

// RateLimitSpec limits request rates per client and per address.
type RateLimitSpec struct {
	// tokenPerClientPerSecond is how many token requests one client may make a second.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	TokenPerClientPerSecond int32 `json:"tokenPerClientPerSecond,omitempty"`

	// tokenPerIPPerSecond is how many requests one IP address may make a second to the
	// token, introspection, revocation and device authorization endpoints together (the
	// server's default, 100, when unset). Like every limit it is shared out among the
	// replicas, and a client's keep-alive connections may all land on one replica: raise
	// it for a gateway or NAT that sends many clients' requests from one address.
	// +optional
	// +kubebuilder:validation:Minimum=1
	TokenPerIPPerSecond int32 `json:"tokenPerIPPerSecond,omitempty"`

	// loginPerIPPerMinute is how many login attempts one IP address may make a minute.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	LoginPerIPPerMinute int32 `json:"loginPerIPPerMinute,omitempty"`
}

// PodTemplateOverrides are added to the server pods the operator creates. Labels the
// operator selects pods by cannot be overridden.
type PodTemplateOverrides struct {
	// labels added to the pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// nodeSelector of the pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the pods.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints of the pods.
	// +optional
	// +listType=atomic
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// priorityClassName of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// serviceAccountName the pods run as. Empty means one the operator creates.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// TLSSpec makes the server serve HTTPS itself.
type TLSSpec struct {
	// secretName of a kubernetes.io/tls Secret in the AuthServer's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// IngressSpec describes the Ingress the operator renders in front of the server.
type IngressSpec struct {
	// className is the IngressClass. Empty means the cluster's default class.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClassName string `json:"className,omitempty"`

	// host is the issuer's host name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// tlsSecretName is a kubernetes.io/tls Secret for the Ingress to terminate TLS with.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// annotations of the Ingress, for the ingress controller's or cert-manager's settings.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AuthServerStatus is what the operator observed.
type AuthServerStatus struct {
	// conditions: Ready, Reconciling, Stalled (the kstatus three), Progressing, Degraded,
	// DatabaseReady, CapacityLimited.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of server pods asked for (the scale subresource's status path).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of server pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// selector selects the server pods, as a label selector string, for the scale
	// subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// endpoints are the URLs clients use, derived from the issuer.
	// +optional
	Endpoints *Endpoints `json:"endpoints,omitempty"`

	// capacity shows the capacity plan's inputs, result and the observed load.
	// +optional
	Capacity *CapacityStatus `json:"capacity,omitempty"`

	// databaseSchemaVersion is the schema version the database was migrated to.
	// +optional
	DatabaseSchemaVersion int32 `json:"databaseSchemaVersion,omitempty"`
}

// Endpoints are the server's URLs as its discovery document advertises them.
type Endpoints struct {
	// +optional
	Issuer string `json:"issuer,omitempty"`
	// +optional
	Discovery string `json:"discovery,omitempty"`
	// +optional
	Token string `json:"token,omitempty"`
	// +optional
	Authorize string `json:"authorize,omitempty"`
	// +optional
	JWKS string `json:"jwks,omitempty"`
	// +optional
	Userinfo string `json:"userinfo,omitempty"`
	// +optional
	Introspection string `json:"introspection,omitempty"`
	// +optional
	Revocation string `json:"revocation,omitempty"`
}

// CapacityStatus is the capacity plan as last evaluated. Rates are requests per second,
// written as decimal strings.
type CapacityStatus struct {
	// averageRPS is expectedDailyRequests spread evenly over the day.
	// +optional
	AverageRPS string `json:"averageRPS,omitempty"`
	// peakRPS is averageRPS times peakMultiplier.
	// +optional
	PeakRPS string `json:"peakRPS,omitempty"`
	// cpuPerReplica is the CPU one replica was planned with.
	// +optional
	CPUPerReplica string `json:"cpuPerReplica,omitempty"`
	// capacityPerReplicaRPS is what one replica serves at the declared operation mix.
	// +optional
	CapacityPerReplicaRPS string `json:"capacityPerReplicaRPS,omitempty"`
	// plannedReplicas is what the declared load needs, failover included, within the
	// bounds.
	// +optional
	PlannedReplicas int32 `json:"plannedReplicas,omitempty"`
	// replicas is what runs: plannedReplicas, or more when the observed load asks for more.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// connectionBudget is database.maxConnections minus reservedConnections.
	// +optional
	ConnectionBudget int32 `json:"connectionBudget,omitempty"`
	// poolMinConns is each pod's minimum number of open database connections.
	// +optional
	PoolMinConns int32 `json:"poolMinConns,omitempty"`
	// poolMaxConns is each pod's maximum number of database connections.
	// +optional
	PoolMaxConns int32 `json:"poolMaxConns,omitempty"`
	// observedRPS is the peak request rate last read from the pods' /metrics.
	// +optional
	ObservedRPS string `json:"observedRPS,omitempty"`
	// limitedBy is maxReplicas or connectionBudget when that keeps the plan below what the
	// load needs, else empty.
	// +optional
	LimitedBy string `json:"limitedBy,omitempty"`
	// message explains the plan to a person.
	// +optional
	Message string `json:"message,omitempty"`
	// lastEvaluated is when the plan was last computed.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
	// lastObserved is when observedRPS was last read from the pods.
	// +optional
	LastObserved *metav1.Time `json:"lastObserved,omitempty"`
	// recommendations are the replica counts the observed load asked for within the
	// scale-down stabilisation window, newest last. They live in status so that an operator
	// restart does not forget a recent peak and scale down early.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Recommendations []ReplicaRecommendation `json:"recommendations,omitempty"`
}

// ReplicaRecommendation is the replica count the observed load asked for at a time.
type ReplicaRecommendation struct {
	// replicas recommended.
	// +required
	Replicas int32 `json:"replicas"`
	// time of the observation.
	// +required
	Time metav1.Time `json:"time"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:categories=authly
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name="Peak-RPS",type=string,JSONPath=`.status.capacity.peakRPS`
// +kubebuilder:printcolumn:name="Pool",type=integer,JSONPath=`.status.capacity.poolMaxConns`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AuthServer runs an Authly OAuth 2.1 / OpenID Connect server against a Postgres database.
type AuthServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AuthServerSpec `json:"spec"`
	// status is what the operator observed. It starts with observedGeneration 0, which no
	// generation has, so that an object the operator has not seen yet reads as "in
	// progress" to kstatus (Flux, Argo CD) rather than as done for want of conditions.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status AuthServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AuthServerList is a list of AuthServers.
type AuthServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthServer `json:"items"`
}

func init() {
	register(&AuthServer{}, &AuthServerList{})
}

// ClientKeysSpec configures private_key_jwt client authentication.
type ClientKeysSpec struct {
	// allowedHosts are host names, IP addresses or CIDRs that a client's jwksUri may reach
	// although they are loopback, link-local, private or cluster-internal, which the
	// server refuses otherwise (a jwksUri is a request chosen by whoever registers a
	// client).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|[0-9a-fA-F:.]+(/[0-9]{1,3})?)$`
	// +listType=set
	AllowedHosts []string `json:"allowedHosts,omitempty"`

	// maxAssertionLifetime bounds how far ahead a client assertion's exp may be, a Go
	// duration (default 5m, at most 1h).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('1h')",message="maxAssertionLifetime must be a duration from 1s to 1h"
	MaxAssertionLifetime *metav1.Duration `json:"maxAssertionLifetime,omitempty"`
}
