package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LifecyclePolicy is a repository's stored lifecycle policy text.
type LifecyclePolicy struct {
	Repository      string
	Text            string
	UpdatedAt       time.Time
	LastEvaluatedAt time.Time
}

// LifecyclePreview is the latest lifecycle policy preview of a repository.
type LifecyclePreview struct {
	Repository string
	PolicyText string
	// Status is IN_PROGRESS, COMPLETE or FAILED.
	Status    string
	StartedAt time.Time
	// Results is the previewer's JSON (a list of expiring images).
	Results json.RawMessage
}

// ErrInProgress is returned by BeginLifecyclePreview while another preview
// of the repository runs.
var ErrInProgress = errors.New("in progress")

// lifecycleSchema: policy and preview rows carry the repository's created_at,
// so a repository deleted and created again does not inherit them (stale
// rows are invisible and overwritten). The lease row elects the one replica
// that runs the scheduled pass.
func (s *SQL) lifecycleSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS lifecycle_policies (
			repo TEXT PRIMARY KEY,
			repo_created_at BIGINT NOT NULL,
			policy TEXT NOT NULL,
			updated_at BIGINT NOT NULL,
			last_evaluated_at BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS lifecycle_previews (
			repo TEXT PRIMARY KEY,
			repo_created_at BIGINT NOT NULL,
			policy TEXT NOT NULL,
			status TEXT NOT NULL,
			started_at BIGINT NOT NULL,
			results TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS lifecycle_leases (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			until BIGINT NOT NULL)`,
	}
}

// PutLifecyclePolicy sets the repository's policy (ErrNotFound without the
// repository). lastEvaluatedAt is kept when the policy is replaced.
func (s *SQL) PutLifecyclePolicy(ctx context.Context, repo, text string, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.putLifecyclePolicy(ctx, tx, repo, text, now) })
}

func (s *SQL) putLifecyclePolicy(ctx context.Context, tx *sql.Tx, repo, text string, now time.Time) error {
	var created int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT created_at FROM repositories WHERE name = ?`), repo).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: repository %q: %w", repo, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: put lifecycle policy: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO lifecycle_policies (repo, repo_created_at, policy, updated_at, last_evaluated_at) VALUES (?, ?, ?, ?, 0)
		ON CONFLICT (repo) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at,
			last_evaluated_at = CASE WHEN lifecycle_policies.repo_created_at = excluded.repo_created_at THEN lifecycle_policies.last_evaluated_at ELSE 0 END,
			repo_created_at = excluded.repo_created_at`),
		repo, created, text, ms(now)); err != nil {
		return fmt.Errorf("store: put lifecycle policy: %w", err)
	}
	return nil
}

const lifecyclePolicyQuery = `SELECT p.repo, p.policy, p.updated_at, p.last_evaluated_at FROM lifecycle_policies p
	JOIN repositories r ON r.name = p.repo AND r.created_at = p.repo_created_at`

func scanLifecyclePolicy(row scanner) (LifecyclePolicy, error) {
	var p LifecyclePolicy
	var updated, evaluated int64
	err := row.Scan(&p.Repository, &p.Text, &updated, &evaluated)
	p.UpdatedAt, p.LastEvaluatedAt = fromMS(updated), fromMS(evaluated)
	return p, err
}

// GetLifecyclePolicy returns the repository's policy, or ErrNotFound.
func (s *SQL) GetLifecyclePolicy(ctx context.Context, repo string) (LifecyclePolicy, error) {
	p, err := scanLifecyclePolicy(s.db.QueryRowContext(ctx, s.q(lifecyclePolicyQuery+` WHERE p.repo = ?`), repo))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: lifecycle policy of %q: %w", repo, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: get lifecycle policy: %w", err)
	}
	return p, nil
}

// DeleteLifecyclePolicy removes and returns the repository's policy, or
// ErrNotFound.
func (s *SQL) DeleteLifecyclePolicy(ctx context.Context, repo string) (LifecyclePolicy, error) {
	var p LifecyclePolicy
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanLifecyclePolicy(tx.QueryRowContext(ctx, s.q(lifecyclePolicyQuery+` WHERE p.repo = ?`), repo))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: lifecycle policy of %q: %w", repo, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: delete lifecycle policy: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM lifecycle_policies WHERE repo = ?`), repo); err != nil {
			return fmt.Errorf("store: delete lifecycle policy: %w", err)
		}
		return nil
	})
	return p, err
}

// ListLifecyclePolicies lists the policies of existing repositories by name.
func (s *SQL) ListLifecyclePolicies(ctx context.Context) ([]LifecyclePolicy, error) {
	rows, err := s.db.QueryContext(ctx, lifecyclePolicyQuery+` ORDER BY p.repo`)
	if err != nil {
		return nil, fmt.Errorf("store: list lifecycle policies: %w", err)
	}
	defer rows.Close()
	var out []LifecyclePolicy
	for rows.Next() {
		p, err := scanLifecyclePolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list lifecycle policies: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetLifecycleEvaluated records when the repository's policy was last run.
func (s *SQL) SetLifecycleEvaluated(ctx context.Context, repo string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repo = ?`), ms(at), repo); err != nil {
		return fmt.Errorf("store: set lifecycle evaluated: %w", err)
	}
	return nil
}

// BeginLifecyclePreview records a preview IN_PROGRESS, replacing the last
// one, unless a preview started less than stale before now is still in
// progress (ErrInProgress). ErrNotFound without the repository.
func (s *SQL) BeginLifecyclePreview(ctx context.Context, repo, policyText string, now time.Time, stale time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT created_at FROM repositories WHERE name = ?`), repo).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: repository %q: %w", repo, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: begin lifecycle preview: %w", err)
		}
		var status string
		var started, prevCreated int64
		err = tx.QueryRowContext(ctx, s.q(`SELECT status, started_at, repo_created_at FROM lifecycle_previews WHERE repo = ?`), repo).Scan(&status, &started, &prevCreated)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: begin lifecycle preview: %w", err)
		case status == "IN_PROGRESS" && prevCreated == created && now.Sub(fromMS(started)) < stale:
			return fmt.Errorf("store: lifecycle preview of %q: %w", repo, ErrInProgress)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO lifecycle_previews (repo, repo_created_at, policy, status, started_at, results) VALUES (?, ?, ?, 'IN_PROGRESS', ?, '')
			ON CONFLICT (repo) DO UPDATE SET repo_created_at = excluded.repo_created_at, policy = excluded.policy, status = excluded.status,
				started_at = excluded.started_at, results = excluded.results`),
			repo, created, policyText, ms(now)); err != nil {
			return fmt.Errorf("store: begin lifecycle preview: %w", err)
		}
		return nil
	})
}

// FinishLifecyclePreview stores the outcome of the preview begun at
// startedAt; a newer preview is left alone.
func (s *SQL) FinishLifecyclePreview(ctx context.Context, repo string, startedAt time.Time, status string, results json.RawMessage) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE lifecycle_previews SET status = ?, results = ? WHERE repo = ? AND started_at = ? AND status = 'IN_PROGRESS'`),
		status, string(results), repo, ms(startedAt)); err != nil {
		return fmt.Errorf("store: finish lifecycle preview: %w", err)
	}
	return nil
}

// GetLifecyclePreview returns the repository's latest preview, or
// ErrNotFound.
func (s *SQL) GetLifecyclePreview(ctx context.Context, repo string) (LifecyclePreview, error) {
	p := LifecyclePreview{Repository: repo}
	var started int64
	var results string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT v.policy, v.status, v.started_at, v.results FROM lifecycle_previews v
		JOIN repositories r ON r.name = v.repo AND r.created_at = v.repo_created_at WHERE v.repo = ?`), repo).
		Scan(&p.PolicyText, &p.Status, &started, &results)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: lifecycle preview of %q: %w", repo, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: get lifecycle preview: %w", err)
	}
	p.StartedAt = fromMS(started)
	if results != "" {
		p.Results = json.RawMessage(results)
	}
	return p, nil
}

// ListRepositoryReferrers lists every referrer entry of a repository
// (subject → artifact manifest), ordered by subject and digest.
func (s *SQL) ListRepositoryReferrers(ctx context.Context, repo string) ([]Referrer, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT subject, digest, media_type, artifact_type, size FROM referrers WHERE repo = ? ORDER BY subject, digest`), repo)
	if err != nil {
		return nil, fmt.Errorf("store: list repository referrers: %w", err)
	}
	defer rows.Close()
	var out []Referrer
	for rows.Next() {
		r := Referrer{Repository: repo}
		if err := rows.Scan(&r.Subject, &r.Digest, &r.MediaType, &r.ArtifactType, &r.Size); err != nil {
			return nil, fmt.Errorf("store: list repository referrers: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
