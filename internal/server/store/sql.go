package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// dollar placeholders ($1...) instead of '?'.
	dollar bool
	// idColumn is the auto-increment primary key definition.
	idColumn string
	// skipLocked is appended to the job-claiming subquery.
	skipLocked string
	// migrateLock is run first in the migration transaction, if not empty.
	migrateLock string
}

// SQL is the Store over database/sql (SQLite or PostgreSQL). Feature
// packages add their own tables and methods in files of their own here
// (see schemaParts) and consume them through interfaces they define.
type SQL struct {
	db *sql.DB
	d  dialect
}

func (s *SQL) q(query string) string {
	if !s.d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := range len(query) {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// schemaParts is the explicit list of the baseline schema's parts (schema
// version 1, see migrate.go): the core tables below, then one function per
// feature file. Statements are idempotent (CREATE ... IF NOT EXISTS) and
// valid in both dialects. These are a shipped migration: never change them;
// a schema change is a new migration in migrate.go.
func (s *SQL) schemaParts() []func() []string {
	return []func() []string{
		s.coreSchema,
		s.scanResultSchema,
		s.lifecycleSchema,
		s.inventorySchema,
		s.findingsSchema,
		s.pullsSchema,
		s.consoleSchema,
	}
}

func (s *SQL) schema() []string {
	var out []string
	for _, part := range s.schemaParts() {
		out = append(out, part()...)
	}
	return out
}

func (s *SQL) coreSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS repositories (
			name TEXT PRIMARY KEY,
			created_at BIGINT NOT NULL,
			scan_on_push INTEGER NOT NULL DEFAULT 0,
			tag_immutable INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS images (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			media_type TEXT NOT NULL,
			artifact_media_type TEXT NOT NULL,
			size BIGINT NOT NULL,
			pushed_at BIGINT NOT NULL,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS tags (
			repo TEXT NOT NULL,
			tag TEXT NOT NULL,
			digest TEXT NOT NULL,
			PRIMARY KEY (repo, tag))`,
		`CREATE INDEX IF NOT EXISTS tags_digest ON tags (repo, digest)`,
		`CREATE TABLE IF NOT EXISTS referrers (
			repo TEXT NOT NULL,
			subject TEXT NOT NULL,
			digest TEXT NOT NULL,
			media_type TEXT NOT NULL,
			artifact_type TEXT NOT NULL,
			size BIGINT NOT NULL,
			annotations TEXT NOT NULL,
			PRIMARY KEY (repo, subject, digest))`,
		`CREATE TABLE IF NOT EXISTS scans (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			status TEXT NOT NULL,
			description TEXT NOT NULL,
			started_at BIGINT NOT NULL,
			result TEXT NOT NULL,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS jobs (
			id ` + s.d.idColumn + `,
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			enhanced INTEGER NOT NULL,
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			run_after BIGINT NOT NULL,
			lease_until BIGINT NOT NULL DEFAULT 0,
			worker TEXT NOT NULL DEFAULT '',
			last_error TEXT NOT NULL DEFAULT '',
			created_at BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (state, run_after)`,
		`CREATE TABLE IF NOT EXISTS settings (
			name TEXT PRIMARY KEY,
			value TEXT NOT NULL)`,
	}
}

func (s *SQL) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (s *SQL) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	return nil
}

func (s *SQL) Close() error { return s.db.Close() }

// isConflict reports a primary-key violation in either database.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

func (s *SQL) CreateRepository(ctx context.Context, r Repository) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO repositories (name, created_at, scan_on_push, tag_immutable) VALUES (?, ?, ?, ?)`),
		r.Name, ms(r.CreatedAt), b2i(r.ScanOnPush), b2i(r.TagImmutable))
	if isConflict(err) {
		return fmt.Errorf("store: repository %q: %w", r.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: create repository: %w", err)
	}
	return nil
}

func (s *SQL) EnsureRepository(ctx context.Context, r Repository) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO repositories (name, created_at, scan_on_push, tag_immutable) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		r.Name, ms(r.CreatedAt), b2i(r.ScanOnPush), b2i(r.TagImmutable))
	if err != nil {
		return false, fmt.Errorf("store: ensure repository: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: ensure repository: %w", err)
	}
	return n == 1, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRepo(row scanner) (Repository, error) {
	var r Repository
	var created, sop, imm int64
	if err := row.Scan(&r.Name, &created, &sop, &imm); err != nil {
		return r, err
	}
	r.CreatedAt, r.ScanOnPush, r.TagImmutable = fromMS(created), sop != 0, imm != 0
	return r, nil
}

func (s *SQL) GetRepository(ctx context.Context, name string) (Repository, error) {
	r, err := scanRepo(s.db.QueryRowContext(ctx, s.q(`SELECT name, created_at, scan_on_push, tag_immutable FROM repositories WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: repository %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get repository: %w", err)
	}
	return r, nil
}

func (s *SQL) ListRepositories(ctx context.Context) ([]Repository, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, created_at, scan_on_push, tag_immutable FROM repositories ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list repositories: %w", err)
	}
	defer rows.Close()
	var out []Repository
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list repositories: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list repositories: %w", err)
	}
	return out, nil
}

func (s *SQL) UpdateRepository(ctx context.Context, r Repository) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE repositories SET scan_on_push = ?, tag_immutable = ? WHERE name = ?`),
		b2i(r.ScanOnPush), b2i(r.TagImmutable), r.Name)
	if err != nil {
		return fmt.Errorf("store: update repository: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: repository %q: %w", r.Name, ErrNotFound)
	}
	return nil
}

func (s *SQL) DeleteRepository(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM repositories WHERE name = ?`), name)
		if err != nil {
			return fmt.Errorf("store: delete repository: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: repository %q: %w", name, ErrNotFound)
		}
		for _, table := range []string{"images", "tags", "referrers", "scans", "jobs", "inventories", "inventory_keys", "finding_history", "image_pulls", "scan_result_split", "scan_result_chunks"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE repo = ?`), name); err != nil {
				return fmt.Errorf("store: delete repository %s: %w", table, err)
			}
		}
		return nil
	})
}

func (s *SQL) PutImage(ctx context.Context, img Image, tag string) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO images (repo, digest, media_type, artifact_media_type, size, pushed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest) DO NOTHING`),
			img.Repository, img.Digest, img.MediaType, img.ArtifactMediaType, img.Size, ms(img.PushedAt))
		if err != nil {
			return fmt.Errorf("store: put image: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: put image: %w", err)
		}
		created = n == 1
		if tag == "" {
			return nil
		}
		var old string
		err = tx.QueryRowContext(ctx, s.q(`SELECT digest FROM tags WHERE repo = ? AND tag = ?`), img.Repository, tag).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: put image: read tag: %w", err)
		case old == img.Digest:
			return nil
		default:
			var imm int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT tag_immutable FROM repositories WHERE name = ?`), img.Repository).Scan(&imm); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: put image: read repository: %w", err)
			}
			if imm != 0 {
				return fmt.Errorf("store: tag %q in %q: %w", tag, img.Repository, ErrTagImmutable)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tags (repo, tag, digest) VALUES (?, ?, ?) ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest`),
			img.Repository, tag, img.Digest); err != nil {
			return fmt.Errorf("store: put image: tag: %w", err)
		}
		return nil
	})
	return created, err
}

func (s *SQL) tagsOf(ctx context.Context, repo string) (map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT digest, tag FROM tags WHERE repo = ? ORDER BY tag`), repo)
	if err != nil {
		return nil, fmt.Errorf("store: list tags: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var d, t string
		if err := rows.Scan(&d, &t); err != nil {
			return nil, fmt.Errorf("store: list tags: %w", err)
		}
		out[d] = append(out[d], t)
	}
	return out, rows.Err()
}

const imageCols = `repo, digest, media_type, artifact_media_type, size, pushed_at`

func scanImage(row scanner) (Image, error) {
	var img Image
	var pushed int64
	err := row.Scan(&img.Repository, &img.Digest, &img.MediaType, &img.ArtifactMediaType, &img.Size, &pushed)
	img.PushedAt = fromMS(pushed)
	return img, err
}

func (s *SQL) GetImage(ctx context.Context, repo, digest string) (Image, error) {
	img, err := scanImage(s.db.QueryRowContext(ctx, s.q(`SELECT `+imageCols+` FROM images WHERE repo = ? AND digest = ?`), repo, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return img, fmt.Errorf("store: image %s@%s: %w", repo, digest, ErrNotFound)
	}
	if err != nil {
		return img, fmt.Errorf("store: get image: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag`), repo, digest)
	if err != nil {
		return img, fmt.Errorf("store: get image tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return img, fmt.Errorf("store: get image tags: %w", err)
		}
		img.Tags = append(img.Tags, t)
	}
	return img, rows.Err()
}

func (s *SQL) ResolveTag(ctx context.Context, repo, tag string) (string, error) {
	var d string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT digest FROM tags WHERE repo = ? AND tag = ?`), repo, tag).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: tag %s:%s: %w", repo, tag, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: resolve tag: %w", err)
	}
	return d, nil
}

func (s *SQL) ListImages(ctx context.Context, repo string) ([]Image, error) {
	tags, err := s.tagsOf(ctx, repo)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+imageCols+` FROM images WHERE repo = ? ORDER BY pushed_at, digest`), repo)
	if err != nil {
		return nil, fmt.Errorf("store: list images: %w", err)
	}
	defer rows.Close()
	var out []Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list images: %w", err)
		}
		img.Tags = tags[img.Digest]
		out = append(out, img)
	}
	return out, rows.Err()
}

func (s *SQL) DeleteImage(ctx context.Context, repo, digest string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM images WHERE repo = ? AND digest = ?`), repo, digest)
		if err != nil {
			return fmt.Errorf("store: delete image: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: image %s@%s: %w", repo, digest, ErrNotFound)
		}
		for _, stmt := range []string{
			`DELETE FROM tags WHERE repo = ? AND digest = ?`,
			`DELETE FROM scans WHERE repo = ? AND digest = ?`,
			`DELETE FROM jobs WHERE repo = ? AND digest = ?`,
			`DELETE FROM referrers WHERE repo = ? AND digest = ?`,
			`DELETE FROM inventories WHERE repo = ? AND digest = ?`,
			`DELETE FROM inventory_keys WHERE repo = ? AND digest = ?`,
			`DELETE FROM finding_history WHERE repo = ? AND digest = ?`,
			`DELETE FROM image_pulls WHERE repo = ? AND digest = ?`,
			`DELETE FROM scan_result_split WHERE repo = ? AND digest = ?`,
			`DELETE FROM scan_result_chunks WHERE repo = ? AND digest = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(stmt), repo, digest); err != nil {
				return fmt.Errorf("store: delete image: %w", err)
			}
		}
		return nil
	})
}

func (s *SQL) DeleteTag(ctx context.Context, repo, tag string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM tags WHERE repo = ? AND tag = ?`), repo, tag)
	if err != nil {
		return fmt.Errorf("store: delete tag: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: tag %s:%s: %w", repo, tag, ErrNotFound)
	}
	return nil
}

func (s *SQL) PutReferrer(ctx context.Context, r Referrer) error {
	ann, err := json.Marshal(r.Annotations)
	if err != nil {
		return fmt.Errorf("store: put referrer: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO referrers (repo, subject, digest, media_type, artifact_type, size, annotations) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo, subject, digest) DO UPDATE SET media_type = excluded.media_type, artifact_type = excluded.artifact_type, size = excluded.size, annotations = excluded.annotations`),
		r.Repository, r.Subject, r.Digest, r.MediaType, r.ArtifactType, r.Size, string(ann))
	if err != nil {
		return fmt.Errorf("store: put referrer: %w", err)
	}
	return nil
}

func (s *SQL) ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]Referrer, error) {
	query := `SELECT digest, media_type, artifact_type, size, annotations FROM referrers WHERE repo = ? AND subject = ?`
	args := []any{repo, subject}
	if artifactType != "" {
		query += ` AND artifact_type = ?`
		args = append(args, artifactType)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY digest`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list referrers: %w", err)
	}
	defer rows.Close()
	var out []Referrer
	for rows.Next() {
		r := Referrer{Repository: repo, Subject: subject}
		var ann string
		if err := rows.Scan(&r.Digest, &r.MediaType, &r.ArtifactType, &r.Size, &ann); err != nil {
			return nil, fmt.Errorf("store: list referrers: %w", err)
		}
		if err := json.Unmarshal([]byte(ann), &r.Annotations); err != nil {
			return nil, fmt.Errorf("store: list referrers: annotations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetScan reads an image's scan with its whole result (see
// ScanFindingsPage to read a page of its findings).
func (s *SQL) GetScan(ctx context.Context, repo, digest string) (Scan, error) {
	return s.getScan(ctx, s.db, repo, digest)
}

func (s *SQL) StartScan(ctx context.Context, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
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
	})
}

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

func (s *SQL) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: queue depth: %w", err)
	}
	return n, nil
}

const scanningConfigKey = "registry-scanning-configuration"

func (s *SQL) GetScanningConfig(ctx context.Context) (json.RawMessage, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), scanningConfigKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: get scanning configuration: %w", err)
	}
	return json.RawMessage(v), nil
}

func (s *SQL) PutScanningConfig(ctx context.Context, cfg json.RawMessage) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		scanningConfigKey, string(cfg)); err != nil {
		return fmt.Errorf("store: put scanning configuration: %w", err)
	}
	return nil
}

func (s *SQL) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	key := "secret:" + name
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), key).Scan(&v)
	if err == nil {
		return []byte(v), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: read secret: %w", err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("store: generate secret: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), key, string(fresh)); err != nil {
		return nil, fmt.Errorf("store: write secret: %w", err)
	}
	// Read back: another replica may have won the race.
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), key).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: read secret: %w", err)
	}
	return []byte(v), nil
}
