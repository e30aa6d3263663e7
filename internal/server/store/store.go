// Package store is the server's durable state: repositories, images and
// tags, OCI referrers, scan results, the registry scanning configuration,
// server secrets and the scan job queue.
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
	"context"
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
)

// Repository is one repository and its settings.
type Repository struct {
	Name         string
	CreatedAt    time.Time
	ScanOnPush   bool
	TagImmutable bool
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

// Store is the server's persistence. Implementations are safe for
// concurrent use.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	CreateRepository(ctx context.Context, r Repository) error
	// EnsureRepository creates r unless a repository of that name exists.
	EnsureRepository(ctx context.Context, r Repository) (created bool, err error)
	GetRepository(ctx context.Context, name string) (Repository, error)
	ListRepositories(ctx context.Context) ([]Repository, error)
	UpdateRepository(ctx context.Context, r Repository) error
	// DeleteRepository removes the repository and everything in it.
	DeleteRepository(ctx context.Context, name string) error

	// PutImage records a pushed manifest and, when tag is not empty, points
	// tag at it (moving it from another image). created reports a new image.
	// On a tag-immutable repository moving an existing tag is ErrTagImmutable.
	PutImage(ctx context.Context, img Image, tag string) (created bool, err error)
	GetImage(ctx context.Context, repo, digest string) (Image, error)
	ResolveTag(ctx context.Context, repo, tag string) (digest string, err error)
	ListImages(ctx context.Context, repo string) ([]Image, error)
	// DeleteImage removes the image, its tags, its scan, its jobs and its
	// referrer entry.
	DeleteImage(ctx context.Context, repo, digest string) error
	DeleteTag(ctx context.Context, repo, tag string) error

	PutReferrer(ctx context.Context, r Referrer) error
	// ListReferrers lists the referrers of subject; artifactType "" means all.
	ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]Referrer, error)

	GetScan(ctx context.Context, repo, digest string) (Scan, error)
	// ScanFindingsPage reads the scan and only the items [start,
	// start+limit) of its findings followed by its enhanced findings (see
	// FindingsPage); limit 0 reads the scan's summary alone.
	ScanFindingsPage(ctx context.Context, repo, digest string, start, limit int) (FindingsPage, error)
	// StartScan sets the image's scan IN_PROGRESS and enqueues a job, unless
	// a scan of it started less than minInterval before now (ErrRateLimited).
	StartScan(ctx context.Context, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error

	// ClaimJob claims the oldest runnable job for lease, or returns nil.
	// Expired jobs that have used maxAttempts are failed first.
	ClaimJob(ctx context.Context, worker string, now time.Time, lease time.Duration, maxAttempts int) (*Job, error)
	ExtendLease(ctx context.Context, j *Job, until time.Time) error
	// CompleteJob stores the outcome as the image's scan and ends the job.
	CompleteJob(ctx context.Context, j *Job, out JobOutcome, now time.Time) error
	// RetryJob hands the job back to the queue, runnable at runAfter.
	RetryJob(ctx context.Context, j *Job, runAfter time.Time, reason string) error
	// QueueDepth counts jobs waiting or running.
	QueueDepth(ctx context.Context) (int, error)

	GetScanningConfig(ctx context.Context) (json.RawMessage, error)
	PutScanningConfig(ctx context.Context, cfg json.RawMessage) error

	// Secret returns the named server secret, creating it from gen when
	// absent, so that replicas sharing a database share it.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}
