// Package store is the server's durable state: repositories (with their
// resource tags, tag mutability and encryption configuration), images and
// tags, OCI referrers, scan results, the registry scanning configuration,
// account settings, repository creation templates, repository policies and
// the registry policy, server secrets and the scan job queue.
//
// A scan result's findings are stored in chunks beside the scan row, so a
// page of DescribeImageScanFindings reads about its page whatever the
// image's number of findings (scanresult.go).
//
// Two implementations share one SQL code path over database/sql and pass one
// conformance suite (storetest): SQLite (modernc.org/sqlite, the default, a
// file in the data directory) and PostgreSQL (pgx), which lets several server
// replicas share one database.
//
// Jobs are durable rows. A worker claims a job with a lease (Postgres:
// SELECT ... FOR UPDATE SKIP LOCKED inside the claiming UPDATE; SQLite: the
// same single UPDATE statement, which SQLite runs under its write lock). A
// worker extends its lease while it scans; a job whose lease expired is
// claimed again by any worker, and one that has used up its attempts is
// marked FAILED (with the image's scan status) instead, so a scan is never
// left IN_PROGRESS. Every job write is fenced by (job id, attempt): a worker
// that lost its lease cannot overwrite the result of the worker that took over.
//
// The schema is versioned (migrate.go): schema_migrations records each
// applied migration; Open applies the missing ones in order, adopts a
// database written before versioning as version 1, and refuses a database
// a newer build migrated (SchemaTooNewError). testdata/upgrade holds
// databases written by older schemas; upgrade_test.go opens them.
//
// All times are supplied by the caller (the server's injectable clock) and
// stored as Unix milliseconds.
package store

import (
	"encoding/json"
	"errors"
	"time"
)

// Errors returned by Store methods; test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrRateLimited  = errors.New("scan rate limit exceeded")
	ErrLeaseLost    = errors.New("job lease lost")
	ErrTagImmutable = errors.New("tag is immutable")
	ErrTooManyTags  = errors.New("too many tags")
)

// Repository is one repository and its settings.
type Repository struct {
	Name       string
	CreatedAt  time.Time
	ScanOnPush bool
	// TagImmutable is the mutability of the repository's tags, except
	// those matching one of TagMutabilityExclusions (wildcard filters,
	// ECR's IMMUTABLE_WITH_EXCLUSION and MUTABLE_WITH_EXCLUSION), which
	// have the other one. TagIsImmutable applies both.
	TagImmutable            bool
	TagMutabilityExclusions []string
	// Encryption is the encryption configuration as it was given at
	// creation; it is recorded, not applied (blob storage does not encrypt).
	Encryption Encryption
}

// Encryption is a repository's encryption configuration.
type Encryption struct {
	// Type is AES256, KMS or KMS_DSSE; "" (none given) means AES256.
	Type   string `json:"type,omitempty"`
	KMSKey string `json:"kmsKey,omitempty"`
}

// Tag is one key/value tag of a repository (an AWS resource tag).
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Image is one manifest stored in a repository.
type Image struct {
	Repository        string
	Digest            string
	MediaType         string
	ArtifactMediaType string
	Size              int64
	PushedAt          time.Time
	Tags              []string // sorted
}

// Referrer is a manifest whose subject is another manifest.
type Referrer struct {
	Repository   string
	Subject      string
	Digest       string
	MediaType    string
	ArtifactType string
	Size         int64
	Annotations  map[string]string
}

// Scan is the latest scan of an image.
type Scan struct {
	Repository  string
	Digest      string
	Status      string
	Description string
	StartedAt   time.Time
	// Result is the scanner's JSON result (scanning.Result); empty until the
	// scan finishes. Stored split (scanresult.go): GetScan returns it whole,
	// ScanFindingsPage without its findings.
	Result json.RawMessage
}

// Job is a claimed scan job.
type Job struct {
	ID         int64
	Repository string
	Digest     string
	Enhanced   bool
	// Attempt is the 1-based attempt this claim runs; it fences later writes.
	Attempt int
}

// JobOutcome is the final state written by CompleteJob.
type JobOutcome struct {
	Status      string
	Description string
	Result      json.RawMessage
	// InTx run in order inside CompleteJob's transaction, after the fence
	// check and the scan row write; an error rolls the whole completion back
	// (and the job is retried).
	InTx []TxFunc
}
