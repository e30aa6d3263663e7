package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Scans and the scan job queue (see the package doc for the lease and
// fencing rules).

// GetScan reads an image's scan with its whole result (see
// ScanFindingsPage to read a page of its findings).
func (s *SQL) GetScan(ctx context.Context, repo, digest string) (Scan, error) {
	return s.getScan(ctx, s.db, repo, digest)
}

// StartScan sets the image's scan IN_PROGRESS and enqueues a job, unless
// a scan of it started less than minInterval before now (ErrRateLimited).
func (s *SQL) StartScan(ctx context.Context, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.startScan(ctx, tx, repo, digest, enhanced, now, minInterval) })
}

// StartScan is the store's StartScan in the transaction (a scan on push,
// enqueued with the push). ErrRateLimited is returned before anything is
// written, so the transaction may go on.
func (t *Tx) StartScan(ctx context.Context, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error {
	return t.s.startScan(ctx, t.tx, repo, digest, enhanced, now, minInterval)
}

func (s *SQL) startScan(ctx context.Context, tx *sql.Tx, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error {
	var started int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT started_at FROM scans WHERE repo = ? AND digest = ?`), repo, digest).Scan(&started)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("store: start scan: %w", err)
	case now.Sub(fromMS(started)) < minInterval:
		return fmt.Errorf("store: scan of %s@%s started %s: %w", repo, digest, fromMS(started).Format(time.RFC3339), ErrRateLimited)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO scans (repo, digest, status, description, started_at, result) VALUES (?, ?, 'IN_PROGRESS', '', ?, '')
		ON CONFLICT (repo, digest) DO UPDATE SET status = 'IN_PROGRESS', description = '', started_at = excluded.started_at, result = ''`),
		repo, digest, ms(now)); err != nil {
		return fmt.Errorf("store: start scan: %w", err)
	}
	if err := s.deleteResult(ctx, tx, repo, digest); err != nil {
		return fmt.Errorf("store: start scan: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO jobs (repo, digest, enhanced, state, run_after, created_at) VALUES (?, ?, ?, 'queued', ?, ?)`),
		repo, digest, b2i(enhanced), ms(now), ms(now)); err != nil {
		return fmt.Errorf("store: enqueue job: %w", err)
	}
	return nil
}

// ClaimJob claims the oldest runnable job for lease, or returns nil.
// Expired jobs that have used maxAttempts are failed first.
func (s *SQL) ClaimJob(ctx context.Context, worker string, now time.Time, lease time.Duration, maxAttempts int) (*Job, error) {
	var job *Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Fail jobs whose last allowed attempt was abandoned.
		rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM jobs WHERE state = 'running' AND lease_until < ? AND attempts >= ? RETURNING repo, digest, attempts`), ms(now), maxAttempts)
		if err != nil {
			return fmt.Errorf("store: fail abandoned jobs: %w", err)
		}
		type dead struct {
			repo, digest string
			attempts     int
		}
		var deads []dead
		for rows.Next() {
			var d dead
			if err := rows.Scan(&d.repo, &d.digest, &d.attempts); err != nil {
				rows.Close()
				return fmt.Errorf("store: fail abandoned jobs: %w", err)
			}
			deads = append(deads, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: fail abandoned jobs: %w", err)
		}
		for _, d := range deads {
			desc := fmt.Sprintf("scan abandoned: no worker finished it in %d attempts", d.attempts)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE scans SET status = 'FAILED', description = ? WHERE repo = ? AND digest = ?`), desc, d.repo, d.digest); err != nil {
				return fmt.Errorf("store: fail abandoned jobs: %w", err)
			}
		}
		j := &Job{}
		var enhanced int64
		err = tx.QueryRowContext(ctx, s.q(`UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?
			WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_after <= ?) OR (state = 'running' AND lease_until < ?)
				ORDER BY run_after, id LIMIT 1`+s.d.skipLocked+`)
			RETURNING id, repo, digest, enhanced, attempts`),
			worker, ms(now.Add(lease)), ms(now), ms(now)).Scan(&j.ID, &j.Repository, &j.Digest, &enhanced, &j.Attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: claim job: %w", err)
		}
		j.Enhanced = enhanced != 0
		job = j
		return nil
	})
	return job, err
}

func (s *SQL) ExtendLease(ctx context.Context, j *Job, until time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET lease_until = ? WHERE id = ? AND attempts = ? AND state = 'running'`), ms(until), j.ID, j.Attempt)
	if err != nil {
		return fmt.Errorf("store: extend lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: job %d attempt %d: %w", j.ID, j.Attempt, ErrLeaseLost)
	}
	return nil
}

// CompleteJob stores the outcome as the image's scan and ends the job.
func (s *SQL) CompleteJob(ctx context.Context, j *Job, out JobOutcome, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM jobs WHERE id = ? AND attempts = ? AND state = 'running'`), j.ID, j.Attempt)
		if err != nil {
			return fmt.Errorf("store: complete job: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: job %d attempt %d: %w", j.ID, j.Attempt, ErrLeaseLost)
		}
		result, err := s.putResult(ctx, tx, j.Repository, j.Digest, out.Result)
		if err != nil {
			return fmt.Errorf("store: complete job: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE scans SET status = ?, description = ?, result = ? WHERE repo = ? AND digest = ?`),
			out.Status, out.Description, result, j.Repository, j.Digest); err != nil {
			return fmt.Errorf("store: complete job: save scan: %w", err)
		}
		t := &Tx{tx: tx, s: s}
		for i, fn := range out.InTx {
			if err := fn(ctx, t); err != nil {
				return fmt.Errorf("store: complete job: hook %d: %w", i, err)
			}
		}
		return nil
	})
}

// RetryJob hands the job back to the queue, runnable at runAfter.
func (s *SQL) RetryJob(ctx context.Context, j *Job, runAfter time.Time, reason string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'queued', run_after = ?, lease_until = 0, worker = '', last_error = ? WHERE id = ? AND attempts = ? AND state = 'running'`),
		ms(runAfter), reason, j.ID, j.Attempt)
	if err != nil {
		return fmt.Errorf("store: retry job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: job %d attempt %d: %w", j.ID, j.Attempt, ErrLeaseLost)
	}
	return nil
}

// QueueDepth counts jobs waiting or running.
func (s *SQL) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: queue depth: %w", err)
	}
	return n, nil
}
