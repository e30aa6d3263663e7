// Package rescan keeps the findings of stored images current without
// reading their layers again (continuous scanning, ECR's CONTINUOUS_SCAN).
//
// Recording: Recorder is a jobs.PrepareFunc. For every completed scan that
// indexed the image it stores, in the scan's completing transaction, the
// inventory (zstd-compressed JSON), its (namespace, package) keys exactly as
// match.Keys lists the lookups Match makes (language packages only for
// ENHANCED scans), and the finding history: a finding's identity is its
// vulnerability id, package name and package version (the basic findings'
// package_name/package_version attributes; for enhanced findings
// packageVulnerabilityDetails.vulnerablePackages, one identity per package).
//
// Policy choices:
//
//   - What triggers a pass: the vulnerability DB directory's build id
//     (CURRENT) differing from the last build a pass completed, polled every
//     Options.Poll (after a `db update`, a `db pull`, or the scheduled update
//     inside serve). The last processed build is a settings row, so a
//     restart or another replica does not redo it; a lease row
//     (the store's leases table) lets one replica run a pass at a time.
//     Only a newer build (built_at later than the last processed one's)
//     moves: replicas on several hosts each have their own DB directory,
//     updated apart, and one whose DB is older than the last processed
//     build (another replica's) runs no pass, which would re-match every
//     image against the older DB, have the other replica re-match them
//     again at its next poll, and so on (logged once per pair of builds;
//     its own scans still use its DB). A DB rolled back on purpose is
//     therefore not rescanned against until a newer build arrives.
//   - What counts as changed: the (namespace, package) pairs of the new DB's
//     recorded change set when its base is the last processed build and it
//     is complete; otherwise the pairs whose record hashes differ from the
//     last processed build's file when it is still in the DB directory;
//     otherwise every stored inventory (the log says why). Images whose
//     inventory holds a changed pair are re-matched, as are images matched
//     against a build other than the last processed one or the new one (a
//     scan that raced an update), and images never matched against a known
//     build. An image already matched against the new build is skipped.
//   - Who is re-matched: images of repositories whose effective scanning is
//     CONTINUOUS_SCAN and that are eligible: pushed or pulled within
//     Options.Window (default 30 days, as ECR; 0 = lifetime). Affected images
//     of other repositories are marked stale so they are re-matched if their
//     repository later becomes continuous.
//   - Eligibility: each tick, a CONTINUOUS_SCAN image whose last activity
//     (max of push and last pull) is older than the window goes to
//     SCAN_ELIGIBILITY_EXPIRED. Its stored findings are kept in the result
//     (DescribeImageScanFindings still shows the last known findings, as
//     they were true when last evaluated) but it is no longer re-matched. A
//     later pull makes it eligible again: the next tick re-matches it fully
//     and sets COMPLETE (we keep COMPLETE rather than Inspector's ACTIVE so
//     one status means "findings are current" for basic and enhanced scans).
//   - What is written: per image, in its batch's transaction, the finding history
//     (new: first_seen = now; gone: resolved_at = now; reappearing: reopened
//     with a new first_seen), the scan row when its set of findings or
//     severities changed (then with the new findings, counts,
//     vulnerabilitySourceUpdatedAt and completedAt; an image whose findings
//     did not change keeps its scan row byte for byte), and the announcement
//     (Announcer, only when findings were added or resolved). A scan that is
//     IN_PROGRESS or FAILED is left to its job.
//   - Enrichment-only changes (an NVD CVSS score or description) are stored
//     outside (namespace, package) pairs and do not appear in change sets:
//     they reach an image's findings at its next re-match or scan. This is a
//     known gap; closing it needs the DB to record changed enrichment ids.
//     Exploit context (KEV entries, EPSS scores) is enrichment too: a
//     rescan writes the exploitAvailable and EPSS of the moment only when it
//     rewrites the scan row (its findings or severities changed).
//   - Enhanced findings' firstObservedAt is the completion of the scan that
//     produced the result; the finding history holds the true first sight.
//
// Matching: a pass opens ONE vulndb handle and hands it to the Matcher,
// whose Pass memoizes Candidates, Enrichment and Advisory lookups across
// every image of the pass, and the findings of each distinct package
// (match.PackageMemo, keyed by namespace and the fields matching reads):
// fleets share base images, so most packages of a pass are matched once.
//
// A package whose version its scheme cannot parse does not fail a pass or
// its image (package match): its findings that depend on the version are
// UNKNOWN_VERSION, the memo keeps that outcome, and the stored description
// names the degraded packages as a scan's does (scan.DegradedDescription).
//
// A pass decides from identities alone: Rematched carries the findings'
// identities and severities, and the finding history's diff says whether
// anything changed. Only then is the full result built (every enhanced
// finding encoded) and the scan row rewritten.
//
// Batches: a pass writes up to Options.Batch images per transaction
// (batch.go): a feeder reads the batch's inventories with one query,
// workers decode and match them, and the batch's scan statuses, open
// findings and finding history are each read with one statement joined to
// the batch's image list; history changes are multi-row upserts and the
// matched build one update. Only an image whose findings changed writes
// its scan row (and announcement) on its own. inventories.findings_hash,
// the hash of an image's open findings kept by every history writer, says
// whether a re-match changed anything without reading the history. A batch
// that fails is written again image by image, so one bad image fails
// alone; a pass killed midway leaves each image done or still matched
// against its old build, which the next pass selects.
//
// Views: the rescanner keeps the inventories it decoded (view.go) as ids
// into a table of the fleet's distinct packages, keyed by the SHA-256 of
// the stored bytes and bounded by Options.ViewRefs, so later passes do not
// decompress and parse them again. A full re-match of a view builds the
// image's records from its packages each matched alone, once per pass,
// when matching cannot combine packages (no symbol tables, no two
// packages with one PURL and path, no identity found with two
// severities); otherwise, and whenever the result is stored, the whole
// inventory is matched.
//
// Change passes go package first: for an image selected by changed keys,
// only the packages looked up under those keys (match.Touching) are matched
// and compared with the open findings of the same packages. When they agree
// the image is recorded as matched against the new build and nothing else
// is read or written; otherwise the whole inventory is matched (its other
// packages come from the memo) and written as above. Stale images and
// revived ones are always matched whole.
package rescan
