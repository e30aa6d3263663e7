package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// The registry index: repositories, images, tags and OCI referrers.

func (s *SQL) CreateRepository(ctx context.Context, r Repository) error {
	excl, err := encodeExclusions(r.TagMutabilityExclusions)
	if err != nil {
		return fmt.Errorf("store: create repository: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO repositories (name, created_at, scan_on_push, tag_immutable, tag_mutability_exclusions, encryption_type, kms_key) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		r.Name, ms(r.CreatedAt), b2i(r.ScanOnPush), b2i(r.TagImmutable), excl, r.Encryption.Type, r.Encryption.KMSKey)
	if isConflict(err) {
		return fmt.Errorf("store: repository %q: %w", r.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: create repository: %w", err)
	}
	return nil
}

// EnsureRepository creates r unless a repository of that name exists.
func (s *SQL) EnsureRepository(ctx context.Context, r Repository) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		created, err = s.ensureRepository(ctx, tx, r)
		return err
	})
	return created, err
}

func (s *SQL) ensureRepository(ctx context.Context, tx *sql.Tx, r Repository) (bool, error) {
	excl, err := encodeExclusions(r.TagMutabilityExclusions)
	if err != nil {
		return false, fmt.Errorf("store: ensure repository: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO repositories (name, created_at, scan_on_push, tag_immutable, tag_mutability_exclusions, encryption_type, kms_key) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		r.Name, ms(r.CreatedAt), b2i(r.ScanOnPush), b2i(r.TagImmutable), excl, r.Encryption.Type, r.Encryption.KMSKey)
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

// repoCols are the columns scanRepo reads.
const repoCols = `name, created_at, scan_on_push, tag_immutable, tag_mutability_exclusions, encryption_type, kms_key`

func scanRepo(row scanner) (Repository, error) {
	var r Repository
	var created, sop, imm int64
	var excl string
	if err := row.Scan(&r.Name, &created, &sop, &imm, &excl, &r.Encryption.Type, &r.Encryption.KMSKey); err != nil {
		return r, err
	}
	r.CreatedAt, r.ScanOnPush, r.TagImmutable = fromMS(created), sop != 0, imm != 0
	var err error
	if r.TagMutabilityExclusions, err = decodeExclusions(excl); err != nil {
		return r, fmt.Errorf("repository %q: %w", r.Name, err)
	}
	return r, nil
}

func (s *SQL) GetRepository(ctx context.Context, name string) (Repository, error) {
	r, err := scanRepo(s.db.QueryRowContext(ctx, s.q(`SELECT `+repoCols+` FROM repositories WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: repository %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get repository: %w", err)
	}
	return r, nil
}

func (s *SQL) ListRepositories(ctx context.Context) ([]Repository, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+repoCols+` FROM repositories ORDER BY name`)
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
	excl, err := encodeExclusions(r.TagMutabilityExclusions)
	if err != nil {
		return fmt.Errorf("store: update repository: %w", err)
	}
	// The encryption configuration is set at creation only, as in ECR.
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE repositories SET scan_on_push = ?, tag_immutable = ?, tag_mutability_exclusions = ? WHERE name = ?`),
		b2i(r.ScanOnPush), b2i(r.TagImmutable), excl, r.Name)
	if err != nil {
		return fmt.Errorf("store: update repository: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: repository %q: %w", r.Name, ErrNotFound)
	}
	return nil
}

// DeleteRepository removes the repository and everything in it.
func (s *SQL) DeleteRepository(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM repositories WHERE name = ?`), name)
		if err != nil {
			return fmt.Errorf("store: delete repository: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: repository %q: %w", name, ErrNotFound)
		}
		for _, table := range []string{"images", "tags", "referrers", "scans", "jobs", "inventories", "inventory_keys", "finding_history", "image_pulls", "scan_result_split", "scan_result_chunks", "repository_tags", "repository_policies", "pull_through_tags"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE repo = ?`), name); err != nil {
				return fmt.Errorf("store: delete repository %s: %w", table, err)
			}
		}
		return nil
	})
}

// PushFunc is work run inside PutImage's transaction, after the image and
// its tag are written; created is PutImage's result. Under SQLite the
// store has a single connection: a PushFunc must use tx only, never the
// store itself (read what it needs before PutImage).
type PushFunc func(ctx context.Context, tx *Tx, created bool) error

// PutImage records a pushed manifest and, when tag is not empty, points
// tag at it (moving it from another image). created reports a new image.
// Moving an existing tag that the repository's mutability setting makes
// immutable (Repository.TagIsImmutable) is ErrTagImmutable. Each of inTx
// then runs in order in the same transaction (the push's outbox rows, its
// scan job): an error from one rolls the whole push back, so the image is
// recorded with all of them or not at all.
func (s *SQL) PutImage(ctx context.Context, img Image, tag string, inTx ...PushFunc) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if created, err = s.putImage(ctx, tx, img, tag); err != nil {
			return err
		}
		for _, fn := range inTx {
			if err := fn(ctx, &Tx{tx: tx, s: s}, created); err != nil {
				return fmt.Errorf("store: put image %s@%s: %w", img.Repository, img.Digest, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// putImage is PutImage's writes, in tx.
func (s *SQL) putImage(ctx context.Context, tx *sql.Tx, img Image, tag string) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO images (repo, digest, media_type, artifact_media_type, size, pushed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest) DO NOTHING`),
		img.Repository, img.Digest, img.MediaType, img.ArtifactMediaType, img.Size, ms(img.PushedAt))
	if err != nil {
		return false, fmt.Errorf("store: put image: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: put image: %w", err)
	}
	created := n == 1
	if tag == "" {
		return created, nil
	}
	var old string
	err = tx.QueryRowContext(ctx, s.q(`SELECT digest FROM tags WHERE repo = ? AND tag = ?`), img.Repository, tag).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("store: put image: read tag: %w", err)
	case old == img.Digest:
		return created, nil
	default:
		r, err := scanRepo(tx.QueryRowContext(ctx, s.q(`SELECT `+repoCols+` FROM repositories WHERE name = ?`), img.Repository))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("store: put image: read repository: %w", err)
		}
		if err == nil && r.TagIsImmutable(tag) {
			return false, fmt.Errorf("store: tag %q in %q: %w", tag, img.Repository, ErrTagImmutable)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tags (repo, tag, digest) VALUES (?, ?, ?) ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest`),
		img.Repository, tag, img.Digest); err != nil {
		return false, fmt.Errorf("store: put image: tag: %w", err)
	}
	return created, nil
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

// DeleteImage removes the image, its tags, its scan, its jobs and its
// referrer entry.
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

// ListReferrers lists the referrers of subject; artifactType "" means all.
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

// ReferrerOf returns the referrer entry of the manifest dgst in repo: its
// subject and artifactType. A manifest without a subject is ErrNotFound.
func (s *SQL) ReferrerOf(ctx context.Context, repo, dgst string) (Referrer, error) {
	r := Referrer{Repository: repo, Digest: dgst}
	var ann string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT subject, media_type, artifact_type, size, annotations FROM referrers WHERE repo = ? AND digest = ? ORDER BY subject LIMIT 1`), repo, dgst).
		Scan(&r.Subject, &r.MediaType, &r.ArtifactType, &r.Size, &ann)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: referrer %s@%s: %w", repo, dgst, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: referrer of: %w", err)
	}
	if err := json.Unmarshal([]byte(ann), &r.Annotations); err != nil {
		return r, fmt.Errorf("store: referrer of: annotations: %w", err)
	}
	return r, nil
}
