package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Repository policies and the registry policy (ECR's SetRepositoryPolicy
// and PutRegistryPolicy), schema version 5. The texts are stored as given
// (the ECR API validates them with iampolicy before storing); a
// repository's policy is deleted with the repository.

// PolicyText is a stored policy document.
type PolicyText struct {
	// Repository is the repository the policy belongs to; "" for the
	// registry policy.
	Repository string
	Text       string
	UpdatedAt  time.Time
}

// registryPolicyID is the key of registry_policy's one row.
const registryPolicyID = 1

func (s *SQL) policySchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS repository_policies (
			repo TEXT PRIMARY KEY,
			policy TEXT NOT NULL,
			updated_at BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_policy (
			id INTEGER PRIMARY KEY,
			policy TEXT NOT NULL,
			updated_at BIGINT NOT NULL)`,
	}
}

// PutRepositoryPolicy sets (or replaces) the repository's policy
// (ErrNotFound without the repository).
func (s *SQL) PutRepositoryPolicy(ctx context.Context, repo, text string, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := repoExists(ctx, s, tx, repo); err != nil {
			return err
		}
		return s.putRepositoryPolicy(ctx, tx, repo, text, now)
	})
}

func (s *SQL) putRepositoryPolicy(ctx context.Context, tx *sql.Tx, repo, text string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO repository_policies (repo, policy, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (repo) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`),
		repo, text, ms(now)); err != nil {
		return fmt.Errorf("store: put repository policy: %w", err)
	}
	return nil
}

func scanPolicy(row scanner, repo string) (PolicyText, error) {
	p := PolicyText{Repository: repo}
	var updated int64
	err := row.Scan(&p.Text, &updated)
	p.UpdatedAt = fromMS(updated)
	return p, err
}

// GetRepositoryPolicy returns the repository's policy, or ErrNotFound.
func (s *SQL) GetRepositoryPolicy(ctx context.Context, repo string) (PolicyText, error) {
	p, err := scanPolicy(s.db.QueryRowContext(ctx, s.q(`SELECT policy, updated_at FROM repository_policies WHERE repo = ?`), repo), repo)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: repository policy of %q: %w", repo, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: get repository policy: %w", err)
	}
	return p, nil
}

// DeleteRepositoryPolicy removes and returns the repository's policy, or
// ErrNotFound.
func (s *SQL) DeleteRepositoryPolicy(ctx context.Context, repo string) (PolicyText, error) {
	var p PolicyText
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPolicy(tx.QueryRowContext(ctx, s.q(`SELECT policy, updated_at FROM repository_policies WHERE repo = ?`), repo), repo)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: repository policy of %q: %w", repo, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: delete repository policy: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM repository_policies WHERE repo = ?`), repo); err != nil {
			return fmt.Errorf("store: delete repository policy: %w", err)
		}
		return nil
	})
	return p, err
}

// PutRegistryPolicy sets (or replaces) the registry policy.
func (s *SQL) PutRegistryPolicy(ctx context.Context, text string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO registry_policy (id, policy, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`),
		registryPolicyID, text, ms(now)); err != nil {
		return fmt.Errorf("store: put registry policy: %w", err)
	}
	return nil
}

// GetRegistryPolicy returns the registry policy, or ErrNotFound.
func (s *SQL) GetRegistryPolicy(ctx context.Context) (PolicyText, error) {
	p, err := scanPolicy(s.db.QueryRowContext(ctx, s.q(`SELECT policy, updated_at FROM registry_policy WHERE id = ?`), registryPolicyID), "")
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: registry policy: %w", ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: get registry policy: %w", err)
	}
	return p, nil
}

// DeleteRegistryPolicy removes and returns the registry policy, or
// ErrNotFound.
func (s *SQL) DeleteRegistryPolicy(ctx context.Context) (PolicyText, error) {
	var p PolicyText
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPolicy(tx.QueryRowContext(ctx, s.q(`SELECT policy, updated_at FROM registry_policy WHERE id = ?`), registryPolicyID), "")
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: registry policy: %w", ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: delete registry policy: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM registry_policy WHERE id = ?`), registryPolicyID); err != nil {
			return fmt.Errorf("store: delete registry policy: %w", err)
		}
		return nil
	})
	return p, err
}
