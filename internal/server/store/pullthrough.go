package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Pull-through cache rules (ECR's CreatePullThroughCacheRule ...) and the
// record of when each cached tag was last checked against its upstream.

// ErrTooManyRules: the registry already has the most pull-through cache
// rules it may have.
var ErrTooManyRules = errors.New("too many pull-through cache rules")

// pullThroughSchema is the migration of the pull-through cache: its rules
// and, per cached repository and tag, the upstream digest last seen and
// when it was checked.
func (s *SQL) pullThroughSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS pull_through_rules (
			prefix TEXT PRIMARY KEY,
			upstream_url TEXT NOT NULL,
			upstream_registry TEXT NOT NULL DEFAULT '',
			upstream_prefix TEXT NOT NULL DEFAULT '',
			credential_arn TEXT NOT NULL DEFAULT '',
			custom_role_arn TEXT NOT NULL DEFAULT '',
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS pull_through_tags (
			repo TEXT NOT NULL,
			tag TEXT NOT NULL,
			digest TEXT NOT NULL,
			checked_at BIGINT NOT NULL,
			PRIMARY KEY (repo, tag))`,
	}
}

// PullThroughRule is a pull-through cache rule: repositories named
// Prefix + "/" + rest (any name for ROOT) are cached copies of
// UpstreamPrefix + "/" + rest (rest alone when UpstreamPrefix is ROOT or
// empty) at the registry UpstreamURL.
type PullThroughRule struct {
	// Prefix is ecrRepositoryPrefix without a trailing "/", or ROOT.
	Prefix string
	// UpstreamURL is the upstream registry's host[:port] (ECR's
	// upstreamRegistryUrl).
	UpstreamURL string
	// UpstreamRegistry is ECR's name of the upstream (docker-hub, quay,
	// ...); "" for a registry ECR has no name for.
	UpstreamRegistry string
	// UpstreamPrefix is upstreamRepositoryPrefix without a trailing "/"
	// ("" is ROOT).
	UpstreamPrefix string
	// CredentialARN names the upstream credentials (docs/auth.md:
	// registry_credentials); "" pulls anonymously.
	CredentialARN string
	CustomRoleARN string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const pullThroughCols = `prefix, upstream_url, upstream_registry, upstream_prefix, credential_arn, custom_role_arn, created_at, updated_at`

func scanPullThroughRule(row scanner) (PullThroughRule, error) {
	var r PullThroughRule
	var created, updated int64
	err := row.Scan(&r.Prefix, &r.UpstreamURL, &r.UpstreamRegistry, &r.UpstreamPrefix, &r.CredentialARN, &r.CustomRoleARN, &created, &updated)
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
	return r, err
}

// CreatePullThroughRule stores a new rule: ErrExists when one has its
// prefix, ErrTooManyRules when the registry has max rules already.
func (s *SQL) CreatePullThroughRule(ctx context.Context, r PullThroughRule, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pull_through_rules`).Scan(&n); err != nil {
			return fmt.Errorf("store: create pull-through rule: count: %w", err)
		}
		var same int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM pull_through_rules WHERE prefix = ?`), r.Prefix).Scan(&same); err != nil {
			return fmt.Errorf("store: create pull-through rule: %w", err)
		}
		if same > 0 {
			return fmt.Errorf("store: pull-through rule %q: %w", r.Prefix, ErrExists)
		}
		if n >= max {
			return fmt.Errorf("store: %d pull-through rules (at most %d): %w", n, max, ErrTooManyRules)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO pull_through_rules (`+pullThroughCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.Prefix, r.UpstreamURL, r.UpstreamRegistry, r.UpstreamPrefix, r.CredentialARN, r.CustomRoleARN, ms(r.CreatedAt), ms(r.UpdatedAt))
		if isConflict(err) {
			return fmt.Errorf("store: pull-through rule %q: %w", r.Prefix, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("store: create pull-through rule: %w", err)
		}
		return nil
	})
}

// GetPullThroughRule returns the rule of that prefix, or ErrNotFound.
func (s *SQL) GetPullThroughRule(ctx context.Context, prefix string) (PullThroughRule, error) {
	r, err := scanPullThroughRule(s.db.QueryRowContext(ctx, s.q(`SELECT `+pullThroughCols+` FROM pull_through_rules WHERE prefix = ?`), prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: pull-through rule %q: %w", prefix, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get pull-through rule: %w", err)
	}
	return r, nil
}

// ListPullThroughRules returns every rule, sorted by prefix.
func (s *SQL) ListPullThroughRules(ctx context.Context) ([]PullThroughRule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pullThroughCols+` FROM pull_through_rules ORDER BY prefix`)
	if err != nil {
		return nil, fmt.Errorf("store: list pull-through rules: %w", err)
	}
	defer rows.Close()
	var out []PullThroughRule
	for rows.Next() {
		r, err := scanPullThroughRule(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list pull-through rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list pull-through rules: %w", err)
	}
	return out, nil
}

// UpdatePullThroughRule replaces the credentials and role of the rule of
// r.Prefix and its update time (ErrNotFound without one); the other
// members are fixed when the rule is created, as in ECR.
func (s *SQL) UpdatePullThroughRule(ctx context.Context, r PullThroughRule) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE pull_through_rules SET credential_arn = ?, custom_role_arn = ?, updated_at = ? WHERE prefix = ?`),
		r.CredentialARN, r.CustomRoleARN, ms(r.UpdatedAt), r.Prefix)
	if err != nil {
		return fmt.Errorf("store: update pull-through rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: pull-through rule %q: %w", r.Prefix, ErrNotFound)
	}
	return nil
}

// DeletePullThroughRule removes the rule of that prefix and returns it
// (ErrNotFound without one). The repositories it created stay, as in ECR.
func (s *SQL) DeletePullThroughRule(ctx context.Context, prefix string) (PullThroughRule, error) {
	var r PullThroughRule
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanPullThroughRule(tx.QueryRowContext(ctx, s.q(`SELECT `+pullThroughCols+` FROM pull_through_rules WHERE prefix = ?`), prefix))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: pull-through rule %q: %w", prefix, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: delete pull-through rule: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM pull_through_rules WHERE prefix = ?`), prefix); err != nil {
			return fmt.Errorf("store: delete pull-through rule: %w", err)
		}
		return nil
	})
	return r, err
}

// PullThroughTag is when a cached tag was last checked against the
// upstream and the digest the upstream named then.
type PullThroughTag struct {
	Digest    string
	CheckedAt time.Time
}

// GetPullThroughTag returns the last check of repo:tag, or ErrNotFound
// when it was never checked.
func (s *SQL) GetPullThroughTag(ctx context.Context, repo, tag string) (PullThroughTag, error) {
	var t PullThroughTag
	var checked int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT digest, checked_at FROM pull_through_tags WHERE repo = ? AND tag = ?`), repo, tag).Scan(&t.Digest, &checked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("store: pull-through tag %s:%s: %w", repo, tag, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("store: get pull-through tag: %w", err)
	}
	t.CheckedAt = fromMS(checked)
	return t, nil
}

// PutPullThroughTag records a check of repo:tag against the upstream.
func (s *SQL) PutPullThroughTag(ctx context.Context, repo, tag string, t PullThroughTag) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO pull_through_tags (repo, tag, digest, checked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest, checked_at = excluded.checked_at`),
		repo, tag, t.Digest, ms(t.CheckedAt)); err != nil {
		return fmt.Errorf("store: put pull-through tag: %w", err)
	}
	return nil
}
