// Package jobs runs scan jobs: a pool of workers claims leased jobs from the
// store's durable queue, opens the image from registry storage, calls the
// injected Scanner and stores the result.
//
// Reliability rules:
//   - A worker extends its lease every Lease/3 while it scans; if the lease is
//     lost (another worker took the job over after an expiry) the scan is
//     cancelled and its result discarded by the store's fencing.
//   - Each attempt runs under ScanTimeout (serve --scan-timeout, default
//     10m; 0 = none), image open included. When it expires the scan's
//     context is cancelled and the job ends FAILED at once with the
//     description "scan timed out after D (--scan-timeout)": an image that
//     took that long once will take it again, so it is not retried. The
//     deadline relies on the Scanner honouring its context (the scan
//     pipeline checks it between tar entries); the lease heartbeat keeps
//     running until the Scanner returns, so a slow scan is never taken over
//     by another worker while it still runs.
//   - A failed attempt whose error is permanent (errors.As finds a value
//     with a Permanent() bool method that returns true; the indexer returns
//     such errors for image content problems: forged digests, corrupt
//     layers, limits exceeded) ends FAILED at once with the error as its
//     description. The first value in the chain with the method decides, so
//     a wrapper can declare an error transient again.
//   - Any other failed attempt (storage I/O, the DB swapped under the scan,
//     a store error) is retried with exponential backoff until MaxAttempts,
//     then the scan is FAILED with the error as its description. A worker
//     that dies leaves its job leased; once the lease expires another worker
//     (in this process or another replica) claims it; after MaxAttempts the
//     store marks it FAILED. No scan stays IN_PROGRESS.
//   - On shutdown workers stop claiming, in-flight scans get ShutdownGrace to
//     finish, then they are cancelled and their jobs handed back to the
//     queue (the attempt counts). A scan whose deadline expired before the
//     shutdown cancelled it is FAILED, not requeued.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Scanner scans one image.
type Scanner interface {
	Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*scanning.Result, error)
}

// Images opens stored images. It returns an error wrapping ErrNotImage
// (given in Options) for manifests that cannot be scanned.
type Images interface {
	Image(ctx context.Context, repo, digest string) (v1.Image, error)
}

// Queue is the part of the store the workers use.
type Queue interface {
	ClaimJob(ctx context.Context, worker string, now time.Time, lease time.Duration, maxAttempts int) (*store.Job, error)
	ExtendLease(ctx context.Context, j *store.Job, until time.Time) error
	CompleteJob(ctx context.Context, j *store.Job, out store.JobOutcome, now time.Time) error
	RetryJob(ctx context.Context, j *store.Job, runAfter time.Time, reason string) error
}

// Options configures a Pool. Zero values get the defaults noted.
type Options struct {
	Queue   Queue
	Images  Images
	Scanner Scanner
	// ErrNotImage marks images to report as UNSUPPORTED_IMAGE.
	ErrNotImage error
	// WorkerID prefixes worker names in the job table (default "worker").
	WorkerID string
	Workers  int           // default 2
	Lease    time.Duration // default 2m
	// MaxAttempts bounds attempts per job (default 3).
	MaxAttempts int
	// RetryBackoff is the first retry delay, doubled per attempt (default 10s).
	RetryBackoff time.Duration
	// PollInterval is how often idle workers look for work (default 1s).
	PollInterval time.Duration
	// ShutdownGrace is how long in-flight scans may run after Run's context
	// ends (default 30s).
	ShutdownGrace time.Duration
	// ScanTimeout bounds one attempt, from opening the image to the
	// Scanner's return; 0 means no deadline. An attempt that exceeds it
	// ends FAILED without retry.
	ScanTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	// Prepare hooks run in order before a final outcome is written. They
	// may append to out.InTx to write in the completing transaction (the
	// inventory, outbox events). res is nil when the scan failed for good.
	// An error fails the write, and the job is retried like a failed scan.
	Prepare []PrepareFunc
	// After hooks run in order once the outcome is committed (the SBOM
	// referrer, wake-ups). They own their errors.
	After []AfterFunc
	// Observe is called after each attempt with its outcome status
	// (COMPLETE, FAILED, UNSUPPORTED_IMAGE, RETRY) and duration.
	Observe func(status string, d time.Duration)
	// BasicScanTypeVersion, when set, returns the BASIC_SCAN_TYPE_VERSION
	// account setting, recorded in the result of each basic scan.
	BasicScanTypeVersion func(ctx context.Context) (string, error)
}

// PrepareFunc extends a job's outcome before it is written.
type PrepareFunc func(ctx context.Context, j *store.Job, res *scanning.Result, out *store.JobOutcome) error

// AfterFunc runs after a job's outcome is committed.
type AfterFunc func(ctx context.Context, j *store.Job, res *scanning.Result, out store.JobOutcome)

// Pool is a set of scan workers.
type Pool struct {
	o    Options
	wake chan struct{}
}

// New builds a pool.
func New(o Options) *Pool {
	if o.WorkerID == "" {
		o.WorkerID = "worker"
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(string, time.Duration) {}
	}
	return &Pool{o: o, wake: make(chan struct{}, 1)}
}

// Notify wakes an idle worker (call after enqueueing).
func (p *Pool) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx ends, then drains as documented.
func (p *Pool) Run(ctx context.Context) error {
	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(p.o.ShutdownGrace, hardCancel)
	})
	defer stop()
	var wg sync.WaitGroup
	for i := range p.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, hard, fmt.Sprintf("%s-%d", p.o.WorkerID, i))
		}()
	}
	wg.Wait()
	return nil
}

func (p *Pool) loop(ctx, hard context.Context, worker string) {
	for ctx.Err() == nil {
		j, err := p.o.Queue.ClaimJob(hard, worker, p.o.Now(), p.o.Lease, p.o.MaxAttempts)
		if err != nil {
			p.o.Logger.Error("jobs: claim", "worker", worker, "err", err)
		}
		if err != nil || j == nil {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			case <-time.After(p.o.PollInterval):
			}
			continue
		}
		p.run(hard, worker, j)
	}
}

// run executes one claimed job. ctx is cancelled only at the end of the
// shutdown grace period.
func (p *Pool) run(ctx context.Context, worker string, j *store.Job) {
	start := time.Now()
	log := p.o.Logger.With("worker", worker, "repository", j.Repository, "digest", j.Digest, "attempt", j.Attempt)
	scanCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		p.heartbeat(scanCtx, j, cancel, log)
	}()
	attemptCtx, stopDeadline := scanCtx, context.CancelFunc(func() {})
	if p.o.ScanTimeout > 0 {
		attemptCtx, stopDeadline = context.WithTimeoutCause(scanCtx, p.o.ScanTimeout, &TimeoutError{Timeout: p.o.ScanTimeout})
	}
	res, err := p.scan(attemptCtx, j)
	// The deadline counts only when it fired first: a lease loss or a
	// shutdown cancels attemptCtx with their own cause.
	var timeout *TimeoutError
	if err != nil && errors.As(context.Cause(attemptCtx), &timeout) {
		err = fmt.Errorf("%w: %w", timeout, err)
	}
	stopDeadline()
	cancel(nil)
	hb.Wait()

	// Writes below use a context that survives the hard stop briefly, so a
	// cancelled scan can still hand its job back.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	if errors.Is(context.Cause(scanCtx), store.ErrLeaseLost) {
		log.Warn("jobs: lease lost; result discarded")
		p.o.Observe("RETRY", time.Since(start))
		return
	}
	if err != nil && timeout == nil && ctx.Err() != nil {
		log.Info("jobs: scan interrupted by shutdown; requeued")
		if rerr := p.o.Queue.RetryJob(wctx, j, p.o.Now(), "interrupted by shutdown"); rerr != nil {
			log.Error("jobs: requeue", "err", rerr)
		}
		p.o.Observe("RETRY", time.Since(start))
		return
	}
	var out store.JobOutcome
	switch {
	case err != nil && timeout != nil:
		log.Error("jobs: scan timed out; not retried", "err", err, "timeout", p.o.ScanTimeout)
		out = store.JobOutcome{Status: string(scanning.StatusFailed), Description: truncate(timeout.Error())}
	case err != nil && IsPermanent(err):
		log.Error("jobs: scan failed permanently; not retried", "err", err)
		out = store.JobOutcome{Status: string(scanning.StatusFailed), Description: truncate(err.Error())}
	case err != nil && j.Attempt < p.o.MaxAttempts:
		delay := p.o.RetryBackoff << (j.Attempt - 1)
		log.Warn("jobs: scan failed; will retry", "err", err, "in", delay)
		if rerr := p.o.Queue.RetryJob(wctx, j, p.o.Now().Add(delay), truncate(err.Error())); rerr != nil {
			log.Error("jobs: requeue", "err", rerr)
		}
		p.o.Observe("RETRY", time.Since(start))
		return
	case err != nil:
		log.Error("jobs: scan failed; giving up", "err", err)
		out = store.JobOutcome{Status: string(scanning.StatusFailed), Description: truncate(err.Error())}
	default:
		if res.Status == "" {
			res.Status = scanning.StatusComplete
		}
		if res.CompletedAt.IsZero() {
			res.CompletedAt = p.o.Now().UTC()
		}
		if !j.Enhanced && p.o.BasicScanTypeVersion != nil {
			v, verr := p.o.BasicScanTypeVersion(wctx)
			if verr != nil {
				p.fail(wctx, j, fmt.Errorf("read BASIC_SCAN_TYPE_VERSION: %w", verr), log, start)
				return
			}
			res.BasicScanTypeVersion = v
		}
		b, merr := json.Marshal(res)
		if merr != nil {
			out = store.JobOutcome{Status: string(scanning.StatusFailed), Description: "encoding scan result: " + merr.Error()}
			break
		}
		out = store.JobOutcome{Status: string(res.Status), Description: res.Description, Result: b}
	}
	if err != nil {
		res = nil
	}
	for _, prep := range p.o.Prepare {
		if perr := prep(wctx, j, res, &out); perr != nil {
			p.fail(wctx, j, fmt.Errorf("prepare outcome: %w", perr), log, start)
			return
		}
	}
	if err := p.o.Queue.CompleteJob(wctx, j, out, p.o.Now()); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("jobs: lease lost; result discarded")
			p.o.Observe("RETRY", time.Since(start))
			return
		}
		p.fail(wctx, j, fmt.Errorf("complete: %w", err), log, start)
		return
	}
	for _, after := range p.o.After {
		after(wctx, j, res, out)
	}
	log.Info("jobs: scan finished", "status", out.Status, "duration", time.Since(start))
	p.o.Observe(out.Status, time.Since(start))
}

// fail hands a job whose outcome could not be written back to the queue
// with backoff or, on its last attempt, marks the scan FAILED without hooks.
func (p *Pool) fail(ctx context.Context, j *store.Job, err error, log *slog.Logger, start time.Time) {
	if j.Attempt >= p.o.MaxAttempts {
		log.Error("jobs: writing the outcome failed; giving up", "err", err)
		out := store.JobOutcome{Status: string(scanning.StatusFailed), Description: truncate(err.Error())}
		if cerr := p.o.Queue.CompleteJob(ctx, j, out, p.o.Now()); cerr != nil {
			log.Error("jobs: complete", "err", cerr)
		}
		p.o.Observe(out.Status, time.Since(start))
		return
	}
	delay := p.o.RetryBackoff << (j.Attempt - 1)
	log.Error("jobs: writing the outcome failed; will retry", "err", err, "in", delay)
	if rerr := p.o.Queue.RetryJob(ctx, j, p.o.Now().Add(delay), truncate(err.Error())); rerr != nil {
		log.Error("jobs: requeue", "err", rerr)
	}
	p.o.Observe("RETRY", time.Since(start))
}

func (p *Pool) scan(ctx context.Context, j *store.Job) (*scanning.Result, error) {
	img, err := p.o.Images.Image(ctx, j.Repository, j.Digest)
	if err != nil && p.o.ErrNotImage != nil && errors.Is(err, p.o.ErrNotImage) {
		return &scanning.Result{Status: scanning.StatusUnsupported, Description: "The operation is not supported for this type of image: " + err.Error()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	res, err := p.o.Scanner.Scan(ctx, img, j.Digest, j.Enhanced)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if res == nil {
		return nil, errors.New("scan: scanner returned no result")
	}
	return res, nil
}

func (p *Pool) heartbeat(ctx context.Context, j *store.Job, cancel context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(p.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := p.o.Queue.ExtendLease(ctx, j, p.o.Now().Add(p.o.Lease))
			if errors.Is(err, store.ErrLeaseLost) {
				cancel(store.ErrLeaseLost)
				return
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("jobs: extend lease", "err", err)
			}
		}
	}
}

// permanent is what jobs asks of an error to know that retrying cannot help;
// the indexer's errors for image content problems implement it.
type permanent interface{ Permanent() bool }

// IsPermanent reports whether err, or the first error in its chain that has
// a Permanent() bool method, says it is permanent. Such an attempt ends
// FAILED without retry.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}

// TimeoutError is the cause of an attempt cancelled by Options.ScanTimeout.
// It is permanent: the same image would take as long again.
type TimeoutError struct {
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("scan timed out after %s (--scan-timeout)", e.Timeout)
}

// Permanent implements the permanent interface.
func (e *TimeoutError) Permanent() bool { return true }

func truncate(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
