// Package server is `stowaway serve`: an OCI registry that scans what is
// pushed to it and answers Amazon ECR's API, so `docker push`, skopeo and
// `aws ecr --endpoint-url` work against it unchanged.
//
// Architecture (one process; every part is replaceable behind a small
// interface defined where it is consumed):
//
//	          ┌──────────── Handler ────────────────────────────────┐
//	/v2/...   │ registry: distribution/v3 (filesystem or s3 driver) │
//	          │   + auth, referrers API, push/delete hooks ─────────┼──► store: images, tags, referrers
//	POST /    │ ecrapi: SigV4, ECR JSON 1.1 actions ────────────────┼──► store: repositories, config, scans
//	/_ecr/    │ ecrapi: GetDownloadUrlForLayer's signed layer URLs  │
//	/console/ │ console: server-rendered web UI (GET / redirects)   │
//	/healthz  │ liveness; /readyz pings the store; /metrics         │
//	          └─────────────────────────────────────────────────────┘
//	admission │ own TLS listener (Config.Admission): Kubernetes validating webhook
//	push ─► PreparePush reads the replication rules and scanning; in PutImage's transaction:
//	        replication outbox rows, and when SCAN_ON_PUSH/CONTINUOUS_SCAN say so Tx.StartScan (job row, IN_PROGRESS)
//	jobs.Pool workers ─► ClaimJob (lease) ─► registry.Image (v1.Image from blob storage)
//	                 ─► Scanner.Scan ─► CompleteJob (result JSON = ECR findings shape)
//	                    in its transaction: rescan.Recorder (inventory, finding history),
//	                    sbomref (SBOM referrer), notify (events into the outbox)
//	DB build changes ─► rescan.Rescanner re-matches stored inventories (CONTINUOUS_SCAN)
//	lifecycle.Service (every LifecycleInterval) ─► expire images ─► garbage-collect blobs
//
// Packages:
//
//   - internal/server/registry embeds distribution/distribution v3 and adds
//     what it lacks (referrers, OCI-Subject), per-repository auth, immutable
//     tags, the push hooks, and upload hygiene: interrupted uploads purged
//     after UploadPurgeAge by one replica at a time, open uploads capped by
//     MaxUploadsPerRepository and MaxUploadsPerUser.
//   - internal/server/ecrapi implements the ECR actions with SigV4; its
//     image and layer operations (BatchGetImage, PutImage, the layer
//     uploads and downloads, ListImageReferrers) work on the registry's
//     storage, a PutImage being a manifest PUT (docs/ecr-images.md).
//   - internal/server/store is SQLite (default, DataDir/stowaway.db) or
//     PostgreSQL; both pass storetest's conformance suite. Scan jobs are
//     durable leased rows: a crashed worker's job is taken over after its
//     lease, retried up to MaxAttempts, then FAILED, never stuck IN_PROGRESS.
//   - internal/server/jobs runs the scan workers; the scanner is injected
//     (Scanner), so this package does not depend on the scan pipeline. Each
//     scan runs under ScanTimeout (--scan-timeout, default 10m); a scan
//     that times out, or fails with a permanent error (image content the
//     indexer refuses), ends FAILED at once without retry.
//   - internal/server/auth holds users, access keys, grants, the
//     stateless ECR authorization tokens, the --auth-config file format,
//     the throttle of failed authentications and the Authorizer that
//     decides every IAM action from the grants and the policies
//     (internal/server/policyeval; docs/auth.md).
//   - internal/server/audit is the audit trail (changes and denials, in the
//     store and the log, pruned after AuditRetention).
//   - internal/server/tlsconf builds the TLS configuration of the main
//     listener (TLSCertFile/TLSKeyFile) and the admission listener.
//   - internal/server/scanning holds the result types and the registry
//     scanning rules (ECR's filter semantics).
//   - internal/server/metrics is a private Prometheus registry.
//   - internal/server/lifecycle implements ECR lifecycle policies (parse,
//     evaluate, preview) and the scheduled runner that expires images and
//     garbage-collects blobs.
//   - internal/server/rescan records each scan's inventory and finding
//     history and, when Config.Rescan.DBDir is set, re-matches stored
//     inventories whenever the vulnerability DB build changes.
//   - internal/server/notify sends events (scan complete, findings change,
//     ...) through a durable outbox to the sinks of Config.Events.
//   - internal/server/admission is the Kubernetes validating admission
//     webhook, served on its own TLS listener when Config.Admission is set.
//   - internal/server/console is the web console under /console/.
//   - internal/server/sbomref stores each scanned image's SBOM as an OCI
//     referrer and offers it to clients instead of indexing again.
//
// Replicas: point several servers at one PostgreSQL database and one blob
// storage (Config.Storage: an S3 bucket, or one shared DataDir/registry
// directory); jobs are claimed with FOR UPDATE SKIP LOCKED, and the upload,
// token and layer-URL secrets live in the database. With object storage the
// DataDir keeps only the SQLite database (without PostgreSQL) and the
// per-replica layer cache. A replica that dies holds its scans until
// JobLease (serve --job-lease) ends; each replica may keep its own
// vulnerability DB, and a rescan pass runs for the newest build only
// (internal/server/rescan). internal/server/multihost tests two replicas on
// two network namespaces sharing PostgreSQL and S3.
//
// Security (docs/security.md): authentication is enforced as soon as any
// user or access key is configured (with none, the server logs that it is
// open). The main listener is 127.0.0.1:5000 unless Addr says otherwise, and
// TLS 1.2+ with HTTP/2 when TLSCertFile is set; the admission listener
// beyond loopback needs a client CA (or Insecure). Failed authentications
// are throttled per (user, address); changes and denials are audited;
// /metrics can require admin on "*" (MetricsAuth). Request bodies are
// bounded (1 MiB API, 4 MiB manifests), headers time out after 10 s, API
// calls after APITimeout, scans after ScanTimeout (so a hostile image holds
// a worker for at most that long), and shutdown drains HTTP and in-flight
// scans.
// Secrets are never logged: distribution's request logs are routed to slog at
// Debug with query strings (upload state) stripped, and credentials are
// compared as SHA-256 digests in constant time.
package server
