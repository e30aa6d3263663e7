// Package events builds the events Stowaway announces and delivers them.
//
// # Shapes
//
// Every event is an Amazon EventBridge envelope (version "0", id, detail-type,
// source, account, time, region, resources, detail). ScanCompleted builds the
// exact "ECR Image Scan" event that Amazon ECR emits for a basic scan
// (BasicScanCompleted adds Stowaway's basic-scan-type-version to it);
// InspectorScan the "Inspector2 Scan" event (source aws.inspector2,
// repository-name as an ARN, counts with TOTAL) that ECR's enhanced scanning
// emits through Amazon Inspector.
// NewFindings builds Stowaway's own "ECR Image Scan Findings Change" event
// (source "aws.ecr", resources [repository ARN]), emitted when a continuous
// rescan finds new findings or resolves old ones. Its detail is:
//
//	repository-name, image-digest, image-tags[],
//	new-findings[]{name, severity, package-name, package-version},
//	resolved-findings[] (same shape),
//	finding-severity-counts (the image's counts after the rescan, non-zero keys only)
//
// # Delivery
//
// Delivery is a stack of small Sink wrappers, in the manner of
// distribution/distribution's notifications: HTTPSink (HMAC-signed webhook)
// or NATSSink (JetStream publish), wrapped by Retry (exponential backoff with
// full jitter and an optional circuit Breaker), wrapped by Filter
// (repository WILDCARD filters and a minimum severity). The durable queue is
// the Outbox: events are enqueued in the caller's transaction, one row per
// sink, and a Dispatcher claims due rows and writes them through each sink's
// stack. Delivery is at least once; consumers dedupe on the event id, which
// is carried in the body, in X-Stowaway-Event-Id and in Nats-Msg-Id.
//
// Policy choices: a 2xx answer is delivered; 4xx other than 408 and 429 is a
// permanent failure (the row is kept with its error and not retried); any
// other failure is retried. A Filter that drops an event reports success, so
// the outbox row counts as delivered.
package events
