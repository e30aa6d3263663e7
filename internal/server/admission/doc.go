// Package admission is a Kubernetes validating admission webhook
// (AdmissionReview v1) that admits workloads only when every container
// image comes from an allowed registry, has a COMPLETE scan in this
// registry, and has no findings at or above a severity threshold (only
// fixable ones, optionally), with exemptions by namespace (name or labels)
// and by image digest with an expiry.
//
// It judges Pods (also their ephemeralcontainers subresource), Deployments,
// StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
// PodTemplates, Jobs and CronJobs, reading every container list
// (initContainers, containers, ephemeralContainers). Other kinds are allowed
// with a warning. Only CREATE and UPDATE are judged.
//
// The decision reads the current scan result, so a finding added by a
// continuous rescan takes effect at the next admission of any workload
// using the image. A tag is resolved to the digest it points to now; the
// runtime may pull later (time of check, time of use): reference images by
// digest. When the policy cannot decide (store unreachable, timeout,
// namespace lookup failed) its failurePolicy answers: closed (the default)
// denies, open allows with a warning and an audit annotation.
//
// See docs/admission.md.
package admission
