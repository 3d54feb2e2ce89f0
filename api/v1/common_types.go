/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package v1

// Names shared by the three kinds: the finalizer, annotations, condition types and reasons.
const (
	// Finalizer is set on OAuthClients and Scopes so that deleting one removes it from the
	// server's database (unless its deletionPolicy is Orphan) before Kubernetes forgets it.
	Finalizer = "oauth.authly.dev/finalizer"

	// RotateSecretAnnotation on an OAuthClient asks for a new client secret. Any new value
	// (a timestamp, say) rotates once; the previous secret stays valid for the client's
	// secretRotationGracePeriod.
	RotateSecretAnnotation = "oauth.authly.dev/rotate-secret"

	// RotateSecretGracePeriodAnnotation on an OAuthClient is the grace period, a Go duration
	// such as "1h", of the rotations asked for while it is present, in place of
	// spec.secretRotationGracePeriod. `kubectl authly rotate --grace` writes it together with
	// the rotate-secret annotation, so that one rotation can have its own grace period
	// without a change of the spec.
	RotateSecretGracePeriodAnnotation = "oauth.authly.dev/rotate-secret-grace-period"
)

// Condition types, set with observedGeneration on every kind's status.
//
// Ready, Reconciling and Stalled follow the kstatus conventions
// (sigs.k8s.io/cli-utils/pkg/kstatus), which Flux, Argo CD and `kubectl wait` rely on:
// once status.observedGeneration equals metadata.generation, exactly one of the three is
// True. Reconciling and Stalled are present only while True.
const (
	// ConditionReady is True when the object does what its spec asks at its current
	// generation: an AuthServer's Deployment is rolled out with every replica available,
	// an OAuthClient or Scope is registered in its server's database. When False, its
	// reason and message are those of Reconciling or Stalled.
	ConditionReady = "Ready"
	// ConditionReconciling is True while work towards the spec is under way or waits for
	// something that will come without a change of spec (a rollout, a database that is
	// down, an AuthServer not created yet); kstatus reads it as InProgress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot go on until a person changes the
	// spec or an object it names (an invalid spec, a connection budget too small, a Secret
	// owned by someone else); kstatus reads it as Failed. Its message names the field.
	ConditionStalled = "Stalled"
	// ConditionProgressing is True while the operator is moving towards the spec (a rollout,
	// a migration, a first registration). It is kept for people and tools that read it;
	// Reconciling is the condition kstatus reads.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when something that used to work has stopped working.
	ConditionDegraded = "Degraded"
	// ConditionDatabaseReady is True on an AuthServer once its database is reachable and
	// migrated to the schema this operator's image expects. OAuthClients and Scopes wait for
	// it, not for running pods.
	ConditionDatabaseReady = "DatabaseReady"
	// ConditionCapacityLimited is True on an AuthServer when maxReplicas or the database
	// connection budget keeps the plan below what the declared or observed load needs.
	ConditionCapacityLimited = "CapacityLimited"
)

// Condition reasons. A reason is a CamelCase word that a program can switch on; the
// condition's message says the rest to a person.
const (
	// ReasonReconciled: the object matches its spec.
	ReasonReconciled = "Reconciled"
	// ReasonReconciling: work towards the spec is under way.
	ReasonReconciling = "Reconciling"
	// ReasonInvalidSpec: the spec passed the schema but cannot be carried out (for example
	// an operation mix whose shares do not add up to 1).
	ReasonInvalidSpec = "InvalidSpec"

	// ReasonAuthServerNotFound: the referenced AuthServer does not exist (yet).
	ReasonAuthServerNotFound = "AuthServerNotFound"
	// ReasonAuthServerNotReady: the referenced AuthServer's database is not ready (yet).
	ReasonAuthServerNotReady = "AuthServerNotReady"

	// ReasonDatabaseSecretNotFound: the Secret or key named by database.secretRef is missing.
	ReasonDatabaseSecretNotFound = "DatabaseSecretNotFound"
	// ReasonDatabaseUnreachable: the database refused or timed out.
	ReasonDatabaseUnreachable = "DatabaseUnreachable"
	// ReasonMigrating: the schema migration is running.
	ReasonMigrating = "Migrating"
	// ReasonMigrationFailed: the schema migration failed; the message says why.
	ReasonMigrationFailed = "MigrationFailed"
	// ReasonMigrated: the database is at the expected schema version.
	ReasonMigrated = "Migrated"

	// ReasonDeploymentProgressing: the server's Deployment is rolling out.
	ReasonDeploymentProgressing = "DeploymentProgressing"
	// ReasonDeploymentAvailable: every desired replica of the server is ready.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentUnavailable: fewer replicas are ready than the spec asks for.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"

	// ReasonWithinLimits: the capacity plan fits maxReplicas and the connection budget.
	ReasonWithinLimits = "WithinLimits"
	// ReasonMaxReplicas: the load needs more replicas than capacity.maxReplicas.
	ReasonMaxReplicas = "MaxReplicasReached"
	// ReasonConnectionBudget: database.maxConnections minus reservedConnections is too
	// small for the replicas or pool sizes the load needs.
	ReasonConnectionBudget = "ConnectionBudgetExhausted"

	// ReasonSynced: the client or scope in the database matches the spec.
	ReasonSynced = "Synced"
	// ReasonSyncFailed: writing the client or scope to the database failed.
	ReasonSyncFailed = "SyncFailed"
	// ReasonServiceAccountNotFound: the ServiceAccount named by an OAuthClient's
	// spec.serviceAccountName does not exist (yet); no token is accepted for the client.
	ReasonServiceAccountNotFound = "ServiceAccountNotFound"
	// ReasonIssuerUnavailable: the cluster's ServiceAccount issuer discovery document or
	// keys could not be read from the API server.
	ReasonIssuerUnavailable = "ServiceAccountIssuerUnavailable"
	// ReasonSecretConflict: a Secret the operator would write exists but cannot be used (for
	// example a client's Secret owned by another OAuthClient or holding a client_id other
	// than the one registered, or an AuthServer's key-encryption-key Secret that someone
	// else owns).
	ReasonSecretConflict = "SecretConflict"
	// ReasonResourceConflict: an object an AuthServer would own (its Deployment, Service,
	// ...) exists and is controlled by someone else; the operator does not take it over.
	ReasonResourceConflict = "ResourceConflict"
	// ReasonConflict: the client_id or scope name is registered in the database by someone
	// else (another OAuthClient or Scope, or another installation sharing the database);
	// the operator never overwrites it.
	ReasonConflict = "Conflict"
	// ReasonSecretRotated: a new client secret was issued; the previous one is still valid
	// for the grace period.
	ReasonSecretRotated = "SecretRotated"
	// ReasonDeleting: the finalizer is removing the object from the database.
	ReasonDeleting = "Deleting"
)

// ServerReference names an AuthServer in the same namespace.
type ServerReference struct {
	// name of the AuthServer, in the namespace of the referring object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// DatabaseSecretRef selects the key of a Secret, in the AuthServer's namespace, that holds a
// postgres:// connection URL. CloudNativePG's `<cluster>-app` Secret works unchanged with
// key "uri".
type DatabaseSecretRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key in the Secret's data whose value is the connection URL.
	// +optional
	// +kubebuilder:default=url
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// KeySecretRef selects the key of a Secret, in the object's namespace, that holds key
// material.
type KeySecretRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key in the Secret's data.
	// +optional
	// +kubebuilder:default=key
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// DeletionPolicy says what happens in the server's database when an OAuthClient or Scope is
// deleted from Kubernetes.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the entry from the database (and, for a client, revokes
	// its tokens) before the Kubernetes object goes away.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the entry in the database untouched.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// SigningAlgorithm is a JWS algorithm the server signs tokens with.
// +kubebuilder:validation:Enum=ES256;RS256
type SigningAlgorithm string

const (
	// ES256 is ECDSA with P-256 and SHA-256.
	ES256 SigningAlgorithm = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256.
	RS256 SigningAlgorithm = "RS256"
)
