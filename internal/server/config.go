package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/jobs"
	"github.com/stowaway-scanner/stowaway/internal/server/metrics"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
)

// Re-exported types so callers need only this package.
type (
	// Scanner scans one image; the CLI adapts the scan pipeline to it.
	Scanner = jobs.Scanner
	// ScanResult is what a Scanner returns (ECR's findings shape).
	ScanResult = scanning.Result
	// Finding is a basic finding.
	Finding = scanning.Finding
	// Attribute is a finding attribute.
	Attribute = scanning.Attribute
	// ScanStatus is COMPLETE, FAILED, UNSUPPORTED_IMAGE, ...
	ScanStatus = scanning.Status
	// User is a registry user with per-repository grants.
	User = auth.User
	// AccessKey is an API access key pair with grants.
	AccessKey = auth.AccessKey
	// RegistryCredential is a named upstream login (the auth config's
	// registry_credentials).
	RegistryCredential = auth.RegistryCredential
	// Grant gives pull, push or admin on matching repositories.
	Grant = auth.Grant
	// Metrics is the server's Prometheus metric set.
	Metrics = metrics.Metrics
)

// Scan statuses a Scanner may return.
const (
	StatusComplete    = scanning.StatusComplete
	StatusFailed      = scanning.StatusFailed
	StatusUnsupported = scanning.StatusUnsupported
)

// LoadAuthConfig reads, validates and resolves an --auth-config file
// (docs/auth.md).
func LoadAuthConfig(path string) ([]User, []AccessKey, error) { return auth.LoadConfig(path) }

// LoadRegistryCredentials reads the registry_credentials of an
// --auth-config file (docs/auth.md).
func LoadRegistryCredentials(path string) ([]auth.RegistryCredential, error) {
	return auth.LoadCredentials(path)
}

// MaxAuthConfigSize bounds an --auth-config file.
const MaxAuthConfigSize = auth.MaxConfigSize

// NewMetrics creates a metric set; see Config.Metrics.
func NewMetrics() *Metrics { return metrics.New() }

// Config configures a Server. Zero values get the defaults noted.
type Config struct {
	// Addr is the listen address (default "127.0.0.1:5000").
	Addr string
	// TLSCertFile and TLSKeyFile, when set, serve the main listener over
	// TLS 1.2+ with HTTP/2 (serve --tls-cert, --tls-key); both files are
	// re-read when they change, so a rotated certificate needs no restart.
	TLSCertFile, TLSKeyFile string
	// DataDir holds the SQLite database, the layer cache and, unless
	// Storage or StorageConfig names object storage, the blob storage
	// (DataDir/registry) (required).
	DataDir string
	// DatabaseURL: "" = SQLite in DataDir, "postgres://..." = PostgreSQL.
	// Replicas sharing a Postgres database must share the blob storage
	// too: object storage, or one DataDir/registry directory.
	DatabaseURL string
	// Storage is serve --storage: s3://BUCKET[/PREFIX]?region=...&
	// endpoint=...&forcepathstyle=true, blobs in S3-compatible object
	// storage through distribution's s3 driver (credentials from the
	// standard AWS environment; registry.ParseStorageURL). "" = DataDir.
	Storage string
	// StorageConfig is serve --storage-config: a YAML file with
	// distribution's storage section (registry.LoadStorageConfig). At most
	// one of Storage and StorageConfig.
	StorageConfig string
	// AccessKeys verify SigV4 on the ECR API.
	AccessKeys []AccessKey
	// Users authenticate to the registry (Basic, or Bearer with a token).
	// With no users and no access keys, authentication is off (logged),
	// unless RequireAuth.
	Users []User
	// RequireAuth keeps authentication on with no users and no keys (serve
	// --auth-config, whose file may name none until a reload).
	RequireAuth bool
	// PolicyEvaluator replaces the evaluator of the stored repository and
	// registry policies (nil: the stored policies, set by SetRepositoryPolicy
	// and PutRegistryPolicy); an explicit Deny overrides every grant, an
	// Allow adds to them (docs/auth.md).
	PolicyEvaluator auth.PolicyEvaluator
	// RegistryID is the 12-digit account id of registryId, ARNs and the
	// awsAccountId of enhanced findings (serve --account-id; default
	// DefaultAccountID).
	RegistryID string
	// Region is the SigV4 region (default "us-east-1").
	Region string
	// PublicHost is host[:port] in repository URIs and proxyEndpoint; ""
	// uses each request's Host.
	PublicHost string
	// Workers is the number of scan workers (default 2).
	Workers int
	// JobLease is the job lease (default 2m); MaxAttempts the attempts per
	// job (default 3).
	JobLease    time.Duration
	MaxAttempts int
	// ScanTimeout bounds each scan attempt (serve --scan-timeout; the CLI's
	// default is 10m); 0 means no deadline. A scan that exceeds it ends
	// FAILED with the reason and is not retried, as is one whose error is
	// permanent (see internal/server/jobs).
	ScanTimeout time.Duration
	// InstanceID names this replica's workers in the job table (default
	// "<hostname>-<pid>").
	InstanceID string
	// ShutdownTimeout bounds graceful shutdown (default 30s).
	ShutdownTimeout time.Duration
	// APITimeout bounds one ECR API call (default 30s).
	APITimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default: discard).
	Logger *slog.Logger
	// Metrics (default: a fresh set). Pass one to share its
	// LayerCacheHits counter with the scanner adapter.
	Metrics *Metrics
	// SBOMFormats lists the SBOM formats stored as OCI referrers of every
	// scanned image: "cyclonedx" (the default when empty), "cyclonedx,spdx",
	// or "none".
	SBOMFormats string
	// Rescan configures continuous rescanning; the zero value stores
	// inventories and finding history but runs no rescans.
	Rescan RescanConfig
	// Events, when set, enables scan events: the outbox in the server's
	// database, its dispatcher and the configured sinks (docs/events.md).
	Events *notify.Config
	// LifecycleInterval is the period of the scheduled lifecycle pass
	// (expire images by policy, then collect unreferenced blobs); 0 turns
	// the schedule off (the CLI's default is 24h). The first pass runs 30s
	// after Serve starts; with replicas, one holds a lease and runs it.
	LifecycleInterval time.Duration
	// GCGrace: blob garbage collection never removes a blob younger than
	// this (default 1h), so layers uploaded for a manifest not yet pushed
	// survive (docs/lifecycle.md).
	GCGrace time.Duration
	// UploadPurgeAge: upload sessions started longer ago are purged
	// (serve --upload-purge-age; default 24h), by one replica at a time.
	UploadPurgeAge time.Duration
	// MaxUploadsPerRepository and MaxUploadsPerUser cap the upload sessions
	// open at once (serve --max-uploads-per-repository, default 256, and
	// --max-uploads-per-user, default 128; negative: no cap). Over a cap,
	// /v2/ answers 429 TOOMANYREQUESTS and InitiateLayerUpload
	// LimitExceededException. The repository count is read from the blob
	// storage (all replicas); the user count is per replica
	// (internal/server/registry/uploads.go).
	MaxUploadsPerRepository, MaxUploadsPerUser int
	// Admission, when set, serves the Kubernetes validating admission
	// webhook on its own TLS listener (docs/admission.md).
	Admission *AdmissionConfig
	// AuditRetention is how long audit records are kept (serve
	// --audit-retention; default 90 days). Records past it are pruned
	// hourly, by one replica at a time.
	AuditRetention time.Duration
	// MetricsAuth puts /metrics behind authentication: a principal with
	// admin on "*" (serve --metrics-auth).
	MetricsAuth bool
	// RegistryCredentials are what the server presents to other
	// registries: a pull-through cache rule's credentialArn names one
	// (--auth-config's registry_credentials, docs/auth.md);
	// ReplaceRegistryCredentials swaps in a reloaded set.
	RegistryCredentials []auth.RegistryCredential
	// PullThroughRecheck is how long a cached tag's upstream check holds
	// (default 24 h, as ECR); tests shorten it.
	PullThroughRecheck time.Duration
	// PullThroughTransport reaches the upstream registries (default
	// go-containerregistry's remote.DefaultTransport); tests use it for
	// upstreams with a private CA.
	PullThroughTransport http.RoundTripper
	// Names are the distribution and ecosystem descriptors that build a
	// PURL an inventory lacks in stored and downloaded SBOMs (the CLI
	// passes Stowaway's lists).
	Names names.Names
	// Replication configures registry replication (docs/replication.md):
	// the destination registries and the delivery's pacing.
	Replication ReplicationConfig
}

// ReplicationDestination is a destination registry of replication: the
// ECR destination (region, registry id) it stands for, its URL and
// credentials (the auth config's replication section).
type ReplicationDestination = auth.Destination

// LoadReplicationDestinations reads the replication section of an
// --auth-config file (docs/replication.md).
func LoadReplicationDestinations(path string) ([]ReplicationDestination, error) {
	return auth.LoadReplication(path)
}

// ReplicationConfig configures replication. Zero durations and counts get
// the defaults of replication.Options (poll 1s, backoff 2s doubling to
// 5m, 200 attempts, a 15m lease per delivery).
type ReplicationConfig struct {
	// Destinations are the registries PutReplicationConfiguration's
	// destinations may name.
	Destinations []ReplicationDestination
	// Transport carries requests to destinations (default: a clone of
	// http.DefaultTransport).
	Transport               http.RoundTripper
	Poll, Lease             time.Duration
	MaxAttempts             int
	BackoffBase, BackoffMax time.Duration
}

// Upload hygiene defaults (serve's flags).
const (
	DefaultUploadPurgeAge          = registry.DefaultUploadPurgeAge
	DefaultMaxUploadsPerRepository = registry.DefaultMaxUploadsPerRepository
	DefaultMaxUploadsPerUser       = registry.DefaultMaxUploadsPerUser
)

// DefaultAccountID is the account id of a server configured with none.
const DefaultAccountID = "000000000000"

// ValidAccountID reports whether id is an AWS account id: 12 digits.
func ValidAccountID(id string) error {
	if len(id) != 12 || strings.Trim(id, "0123456789") != "" {
		return fmt.Errorf("account id %q: want 12 digits", id)
	}
	return nil
}
