package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/wildcard"
)

// Repository and registry settings: resource tags, tag mutability
// exclusions, encryption configuration, account settings and repository
// creation templates (schema version 4).

func (s *SQL) repoConfigSchema() []string {
	return []string{
		`ALTER TABLE repositories ADD COLUMN tag_mutability_exclusions TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE repositories ADD COLUMN encryption_type TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE repositories ADD COLUMN kms_key TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE IF NOT EXISTS repository_tags (
			repo TEXT NOT NULL,
			tag_key TEXT NOT NULL,
			tag_value TEXT NOT NULL,
			PRIMARY KEY (repo, tag_key))`,
		`CREATE TABLE IF NOT EXISTS repository_creation_templates (
			prefix TEXT PRIMARY KEY,
			template TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL)`,
	}
}

// TagIsImmutable says whether tag, once it names an image, cannot be moved
// to another one.
func (r Repository) TagIsImmutable(tag string) bool {
	for _, f := range r.TagMutabilityExclusions {
		if wildcard.Match(f, tag) {
			return !r.TagImmutable
		}
	}
	return r.TagImmutable
}

func encodeExclusions(filters []string) (string, error) {
	if len(filters) == 0 {
		return "", nil
	}
	b, err := json.Marshal(filters)
	return string(b), err
}

func decodeExclusions(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, fmt.Errorf("tag mutability exclusions: %w", err)
	}
	return out, nil
}

// ListRepositoryTags returns the repository's resource tags sorted by key
// (ErrNotFound without the repository).
func (s *SQL) ListRepositoryTags(ctx context.Context, repo string) ([]Tag, error) {
	var out []Tag
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := repoExists(ctx, s, tx, repo); err != nil {
			return err
		}
		var err error
		out, err = s.repositoryTags(ctx, tx, repo)
		return err
	})
	return out, err
}

func (s *SQL) repositoryTags(ctx context.Context, tx *sql.Tx, repo string) ([]Tag, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT tag_key, tag_value FROM repository_tags WHERE repo = ? ORDER BY tag_key`), repo)
	if err != nil {
		return nil, fmt.Errorf("store: list repository tags: %w", err)
	}
	defer rows.Close()
	out := []Tag{}
	for rows.Next() {
		var t Tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, fmt.Errorf("store: list repository tags: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list repository tags: %w", err)
	}
	return out, nil
}

func repoExists(ctx context.Context, s *SQL, tx *sql.Tx, repo string) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM repositories WHERE name = ?`), repo).Scan(&n); err != nil {
		return fmt.Errorf("store: read repository: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: repository %q: %w", repo, ErrNotFound)
	}
	return nil
}

// TagRepository adds tags to the repository, replacing the values of keys
// it has. It fails with ErrTooManyTags, changing nothing, when the
// repository would have more than max tags, and with ErrNotFound without
// the repository.
func (s *SQL) TagRepository(ctx context.Context, repo string, tags []Tag, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := repoExists(ctx, s, tx, repo); err != nil {
			return err
		}
		return s.putRepositoryTags(ctx, tx, repo, tags, max)
	})
}

func (s *SQL) putRepositoryTags(ctx context.Context, tx *sql.Tx, repo string, tags []Tag, max int) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO repository_tags (repo, tag_key, tag_value) VALUES (?, ?, ?)
			ON CONFLICT (repo, tag_key) DO UPDATE SET tag_value = excluded.tag_value`), repo, t.Key, t.Value); err != nil {
			return fmt.Errorf("store: tag repository: %w", err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM repository_tags WHERE repo = ?`), repo).Scan(&n); err != nil {
		return fmt.Errorf("store: tag repository: count: %w", err)
	}
	if n > max {
		return fmt.Errorf("store: repository %q would have %d tags (at most %d): %w", repo, n, max, ErrTooManyTags)
	}
	return nil
}

// UntagRepository removes the tags of those keys (absent keys are no
// error; ErrNotFound without the repository).
func (s *SQL) UntagRepository(ctx context.Context, repo string, keys []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := repoExists(ctx, s, tx, repo); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM repository_tags WHERE repo = ? AND tag_key = ?`), repo, k); err != nil {
				return fmt.Errorf("store: untag repository: %w", err)
			}
		}
		return nil
	})
}

// Account settings (ECR's GetAccountSetting/PutAccountSetting), kept in
// the settings table.

const accountSettingPrefix = "account-setting:"

// GetAccountSetting returns the stored value of an account setting, or ""
// when it was never set.
func (s *SQL) GetAccountSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), accountSettingPrefix+name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: get account setting %s: %w", name, err)
	}
	return v, nil
}

// PutAccountSetting stores the value of an account setting.
func (s *SQL) PutAccountSetting(ctx context.Context, name, value string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		accountSettingPrefix+name, value); err != nil {
		return fmt.Errorf("store: put account setting %s: %w", name, err)
	}
	return nil
}

// Repository creation templates.

// Creation template purposes (ECR's RCTAppliedFor).
const (
	AppliedForCreateOnPush     = "CREATE_ON_PUSH"
	AppliedForPullThroughCache = "PULL_THROUGH_CACHE"
	AppliedForReplication      = "REPLICATION"
)

// RootTemplatePrefix is the prefix of the template that applies to
// repositories no other template matches.
const RootTemplatePrefix = "ROOT"

// CreationTemplate is a repository creation template: the settings given
// to the repositories the registry creates itself whose names start with
// Prefix + "/" (any name for ROOT).
type CreationTemplate struct {
	Prefix                  string   `json:"-"`
	Description             string   `json:"description,omitempty"`
	AppliedFor              []string `json:"appliedFor"`
	TagImmutable            bool     `json:"tagImmutable,omitempty"`
	TagMutabilityExclusions []string `json:"tagMutabilityExclusions,omitempty"`
	RepositoryPolicy        string   `json:"repositoryPolicy,omitempty"`
	// RepositoryPolicyChecked says the ECR API validated RepositoryPolicy
	// as a repository policy (iampolicy) when it stored it; only then is
	// it applied to the repositories the template creates (templates
	// stored before policies were served hold texts checked as JSON only).
	RepositoryPolicyChecked bool       `json:"repositoryPolicyChecked,omitempty"`
	LifecyclePolicy         string     `json:"lifecyclePolicy,omitempty"`
	ResourceTags            []Tag      `json:"resourceTags,omitempty"`
	Encryption              Encryption `json:"encryption"`
	CustomRoleARN           string     `json:"customRoleArn,omitempty"`
	CreatedAt               time.Time  `json:"-"`
	UpdatedAt               time.Time  `json:"-"`
}

// Matches says whether the template applies to a repository of that name
// created for purpose, and how specific it is (the longest prefix wins;
// ROOT is 0).
func (t CreationTemplate) Matches(repo, purpose string) (int, bool) {
	applies := false
	for _, a := range t.AppliedFor {
		applies = applies || a == purpose
	}
	if !applies {
		return 0, false
	}
	if t.Prefix == RootTemplatePrefix {
		return 0, true
	}
	p := strings.TrimSuffix(t.Prefix, "/")
	if !strings.HasPrefix(repo, p+"/") {
		return 0, false
	}
	return len(p), true
}

// BestTemplate is the template of ts applying to a repository of that name
// created for purpose: the one of the longest matching prefix, else ROOT.
func BestTemplate(ts []CreationTemplate, repo, purpose string) (CreationTemplate, bool) {
	best, bestLen, found := CreationTemplate{}, -1, false
	for _, t := range ts {
		if n, ok := t.Matches(repo, purpose); ok && n > bestLen {
			best, bestLen, found = t, n, true
		}
	}
	return best, found
}

// CreateCreationTemplate stores a new template (ErrExists when one has
// its prefix).
func (s *SQL) CreateCreationTemplate(ctx context.Context, t CreationTemplate) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("store: create creation template: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO repository_creation_templates (prefix, template, created_at, updated_at) VALUES (?, ?, ?, ?)`),
		t.Prefix, string(body), ms(t.CreatedAt), ms(t.UpdatedAt))
	if isConflict(err) {
		return fmt.Errorf("store: creation template %q: %w", t.Prefix, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: create creation template: %w", err)
	}
	return nil
}

// UpdateCreationTemplate replaces the template of t's prefix, keeping its
// creation time (ErrNotFound when there is none).
func (s *SQL) UpdateCreationTemplate(ctx context.Context, t CreationTemplate) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("store: update creation template: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE repository_creation_templates SET template = ?, updated_at = ? WHERE prefix = ?`),
		string(body), ms(t.UpdatedAt), t.Prefix)
	if err != nil {
		return fmt.Errorf("store: update creation template: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: creation template %q: %w", t.Prefix, ErrNotFound)
	}
	return nil
}

const templateCols = `prefix, template, created_at, updated_at`

func scanTemplate(row scanner) (CreationTemplate, error) {
	var t CreationTemplate
	var prefix, body string
	var created, updated int64
	if err := row.Scan(&prefix, &body, &created, &updated); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(body), &t); err != nil {
		return t, fmt.Errorf("creation template %q: %w", prefix, err)
	}
	t.Prefix, t.CreatedAt, t.UpdatedAt = prefix, fromMS(created), fromMS(updated)
	return t, nil
}

// GetCreationTemplate returns the template of that prefix, or ErrNotFound.
func (s *SQL) GetCreationTemplate(ctx context.Context, prefix string) (CreationTemplate, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx, s.q(`SELECT `+templateCols+` FROM repository_creation_templates WHERE prefix = ?`), prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("store: creation template %q: %w", prefix, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("store: get creation template: %w", err)
	}
	return t, nil
}

// ListCreationTemplates returns every template, sorted by prefix.
func (s *SQL) ListCreationTemplates(ctx context.Context) ([]CreationTemplate, error) {
	return s.listCreationTemplates(ctx, s.db)
}

func (s *SQL) listCreationTemplates(ctx context.Context, q querier) ([]CreationTemplate, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+templateCols+` FROM repository_creation_templates`)
	if err != nil {
		return nil, fmt.Errorf("store: list creation templates: %w", err)
	}
	defer rows.Close()
	var out []CreationTemplate
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list creation templates: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list creation templates: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out, nil
}

// DeleteCreationTemplate removes the template of that prefix and returns
// it (ErrNotFound when there is none).
func (s *SQL) DeleteCreationTemplate(ctx context.Context, prefix string) (CreationTemplate, error) {
	var t CreationTemplate
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTemplate(tx.QueryRowContext(ctx, s.q(`SELECT `+templateCols+` FROM repository_creation_templates WHERE prefix = ?`), prefix))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: creation template %q: %w", prefix, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: delete creation template: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM repository_creation_templates WHERE prefix = ?`), prefix); err != nil {
			return fmt.Errorf("store: delete creation template: %w", err)
		}
		return nil
	})
	return t, err
}

// EnsureRepositoryFromTemplate creates the repository r names unless it
// exists, as EnsureRepository, and gives a repository it creates the
// settings of the creation template for purpose that matches it best
// (BestTemplate): tag mutability, encryption, resource tags, lifecycle
// policy and repository policy (when RepositoryPolicyChecked), in the same
// transaction. The template's role is not applied.
func (s *SQL) EnsureRepositoryFromTemplate(ctx context.Context, r Repository, purpose string) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ts, err := s.listCreationTemplates(ctx, tx)
		if err != nil {
			return err
		}
		t, ok := BestTemplate(ts, r.Name, purpose)
		if ok {
			r.TagImmutable, r.TagMutabilityExclusions, r.Encryption = t.TagImmutable, t.TagMutabilityExclusions, t.Encryption
		}
		created, err = s.ensureRepository(ctx, tx, r)
		if err != nil || !created || !ok {
			return err
		}
		if err := s.putRepositoryTags(ctx, tx, r.Name, t.ResourceTags, len(t.ResourceTags)); err != nil {
			return err
		}
		if t.LifecyclePolicy != "" {
			if err := s.putLifecyclePolicy(ctx, tx, r.Name, t.LifecyclePolicy, r.CreatedAt); err != nil {
				return err
			}
		}
		if t.RepositoryPolicy != "" && t.RepositoryPolicyChecked {
			if err := s.putRepositoryPolicy(ctx, tx, r.Name, t.RepositoryPolicy, r.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	return created, err
}
