package store

// Read-only queries of the web console (internal/server/console). They read
// the core tables and, when present, the rescan feature's tables
// (inventories, finding_history, image_pulls); a page whose table is missing
// asks ConsoleHasTable first and degrades with a note.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// consoleSchema adds the index the images page sorts by.
func (s *SQL) consoleSchema() []string {
	return []string{
		`CREATE INDEX IF NOT EXISTS console_images_pushed ON images (repo, pushed_at, digest)`,
	}
}

// ConsoleRepo is a repository with its image counts.
type ConsoleRepo struct {
	Repository
	// Images counts the repository's manifests (as DescribeImages lists
	// them); Scanned those with a scan row, Complete those whose scan is
	// COMPLETE.
	Images, Scanned, Complete int
}

// ConsoleRepositories lists every repository by name with its counts.
func (s *SQL) ConsoleRepositories(ctx context.Context) ([]ConsoleRepo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.name, r.created_at, r.scan_on_push, r.tag_immutable,
			COALESCE(c.images, 0), COALESCE(c.scanned, 0), COALESCE(c.complete, 0)
		FROM repositories r LEFT JOIN (
			SELECT i.repo AS repo, COUNT(*) AS images, COUNT(sc.digest) AS scanned,
				SUM(CASE WHEN sc.status = 'COMPLETE' THEN 1 ELSE 0 END) AS complete
			FROM images i LEFT JOIN scans sc ON sc.repo = i.repo AND sc.digest = i.digest
			GROUP BY i.repo) c ON c.repo = r.name
		ORDER BY r.name`)
	if err != nil {
		return nil, fmt.Errorf("store: console repositories: %w", err)
	}
	defer rows.Close()
	var out []ConsoleRepo
	for rows.Next() {
		var r ConsoleRepo
		var created, sop, imm int64
		if err := rows.Scan(&r.Name, &created, &sop, &imm, &r.Images, &r.Scanned, &r.Complete); err != nil {
			return nil, fmt.Errorf("store: console repositories: %w", err)
		}
		r.CreatedAt, r.ScanOnPush, r.TagImmutable = fromMS(created), sop != 0, imm != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: console repositories: %w", err)
	}
	return out, nil
}

// ConsoleImageQuery selects a page of a repository's images.
type ConsoleImageQuery struct {
	Repository string
	// Search keeps images whose digest starts with it or with a tag
	// containing it.
	Search string
	// OldestFirst sorts by push time ascending (default: newest first);
	// ties are broken by digest.
	OldestFirst   bool
	Offset, Limit int
}

// ConsoleImage is an image with its scan summary.
type ConsoleImage struct {
	Image
	// ScanStatus is "" when the image was never scanned.
	ScanStatus, ScanDescription string
	// SeverityCounts are the scan result's findingSeverityCounts.
	SeverityCounts map[string]int
	CompletedAt    time.Time
	// LastPulledAt is zero when unknown (or image_pulls is missing).
	LastPulledAt time.Time
}

// likeEscape escapes LIKE wildcards; queries use ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ConsoleImages returns one page of images and the number of images the
// query matches.
func (s *SQL) ConsoleImages(ctx context.Context, q ConsoleImageQuery) ([]ConsoleImage, int, error) {
	where := `i.repo = ?`
	args := []any{q.Repository}
	if q.Search != "" {
		where += ` AND (i.digest LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM tags t WHERE t.repo = i.repo AND t.digest = i.digest AND t.tag LIKE ? ESCAPE '\'))`
		e := likeEscape(q.Search)
		args = append(args, e+"%", "%"+e+"%")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM images i WHERE `+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: console images: count: %w", err)
	}
	pulls, err := s.ConsoleHasTable(ctx, "image_pulls")
	if err != nil {
		return nil, 0, err
	}
	pulled, join := `0`, ``
	if pulls {
		pulled, join = `COALESCE(p.last_pulled_at, 0)`, ` LEFT JOIN image_pulls p ON p.repo = i.repo AND p.digest = i.digest`
	}
	order := `i.pushed_at DESC, i.digest DESC`
	if q.OldestFirst {
		order = `i.pushed_at, i.digest`
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT i.repo, i.digest, i.media_type, i.artifact_media_type, i.size, i.pushed_at,
			COALESCE(sc.status, ''), COALESCE(sc.description, ''), COALESCE(sc.result, ''), `+pulled+`
		FROM images i LEFT JOIN scans sc ON sc.repo = i.repo AND sc.digest = i.digest`+join+`
		WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`), append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: console images: %w", err)
	}
	defer rows.Close()
	var out []ConsoleImage
	for rows.Next() {
		var ci ConsoleImage
		var pushed, pulledAt int64
		var result string
		if err := rows.Scan(&ci.Repository, &ci.Digest, &ci.MediaType, &ci.ArtifactMediaType, &ci.Size, &pushed,
			&ci.ScanStatus, &ci.ScanDescription, &result, &pulledAt); err != nil {
			return nil, 0, fmt.Errorf("store: console images: %w", err)
		}
		ci.PushedAt, ci.LastPulledAt = fromMS(pushed), fromMS(pulledAt)
		if result != "" {
			var sum struct {
				Counts      map[string]int `json:"findingSeverityCounts"`
				CompletedAt time.Time      `json:"completedAt"`
			}
			if err := json.Unmarshal([]byte(result), &sum); err != nil {
				return nil, 0, fmt.Errorf("store: console images: scan result of %s: %w", ci.Digest, err)
			}
			ci.SeverityCounts, ci.CompletedAt = sum.Counts, sum.CompletedAt
		}
		out = append(out, ci)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: console images: %w", err)
	}
	if len(out) == 0 {
		return out, total, nil
	}
	// Tags of this page only.
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(out)), ", ")
	targs := []any{q.Repository}
	idx := map[string]int{}
	for i, ci := range out {
		targs = append(targs, ci.Digest)
		idx[ci.Digest] = i
	}
	trows, err := s.db.QueryContext(ctx, s.q(`SELECT digest, tag FROM tags WHERE repo = ? AND digest IN (`+marks+`) ORDER BY tag`), targs...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: console images: tags: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var d, tag string
		if err := trows.Scan(&d, &tag); err != nil {
			return nil, 0, fmt.Errorf("store: console images: tags: %w", err)
		}
		out[idx[d]].Tags = append(out[idx[d]].Tags, tag)
	}
	if err := trows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: console images: tags: %w", err)
	}
	return out, total, nil
}

// ConsoleImageTags returns an image's tags, sorted.
func (s *SQL) ConsoleImageTags(ctx context.Context, repo, digest string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag`), repo, digest)
	if err != nil {
		return nil, fmt.Errorf("store: console tags: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("store: console tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ConsoleHasTable reports whether a table exists (in the search path under
// PostgreSQL).
func (s *SQL) ConsoleHasTable(ctx context.Context, name string) (bool, error) {
	var n int
	var err error
	if s.d.dollar {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))`, name).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("store: console: look up table %s: %w", name, err)
	}
	return n > 0, nil
}

// ConsoleInventory returns the stored inventory of an image (zstd JSON as
// the rescan feature stores it), preferring an enhanced one, then the
// newest. ErrNotFound when none is stored.
func (s *SQL) ConsoleInventory(ctx context.Context, repo, digest string) (data []byte, enhanced bool, storedAt time.Time, err error) {
	var enh, stored int64
	err = s.db.QueryRowContext(ctx, s.q(`SELECT data, enhanced, stored_at FROM inventories WHERE repo = ? AND digest = ? ORDER BY enhanced DESC, stored_at DESC LIMIT 1`), repo, digest).
		Scan(&data, &enh, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, time.Time{}, fmt.Errorf("store: inventory of %s@%s: %w", repo, digest, ErrNotFound)
	}
	if err != nil {
		return nil, false, time.Time{}, fmt.Errorf("store: console inventory: %w", err)
	}
	return data, enh != 0, fromMS(stored), nil
}

// ConsoleScope limits the dashboard to some repositories; nil means all.
type ConsoleScope []string

func (sc ConsoleScope) where(col string, args []any) (string, []any) {
	if sc == nil {
		return "", args
	}
	if len(sc) == 0 {
		return ` AND 1 = 0`, args
	}
	for _, r := range sc {
		args = append(args, r)
	}
	return ` AND ` + col + ` IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(sc)), ", ") + `)`, args
}

// ConsoleTotals are registry-wide counts.
type ConsoleTotals struct {
	Repositories, Images, Scanned int
}

// ConsoleTotals counts repositories, images and scanned images in scope.
func (s *SQL) ConsoleTotals(ctx context.Context, scope ConsoleScope) (ConsoleTotals, error) {
	var t ConsoleTotals
	w, args := scope.where("name", nil)
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM repositories WHERE 1 = 1`+w), args...).Scan(&t.Repositories); err != nil {
		return t, fmt.Errorf("store: console totals: %w", err)
	}
	w, args = scope.where("i.repo", nil)
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COUNT(sc.digest) FROM images i LEFT JOIN scans sc ON sc.repo = i.repo AND sc.digest = i.digest WHERE 1 = 1`+w), args...).
		Scan(&t.Images, &t.Scanned); err != nil {
		return t, fmt.Errorf("store: console totals: %w", err)
	}
	return t, nil
}

// ConsoleSpan is a number of findings of one severity that appeared on day
// FirstDay and were resolved on day ResolvedDay (days since the Unix epoch,
// UTC; ResolvedDay -1 = still open).
type ConsoleSpan struct {
	Severity              string
	FirstDay, ResolvedDay int64
	N                     int
}

const dayMS = 24 * 60 * 60 * 1000

// ConsoleFindingSpans aggregates finding_history into spans, leaving out
// findings resolved before since.
func (s *SQL) ConsoleFindingSpans(ctx context.Context, scope ConsoleScope, since time.Time) ([]ConsoleSpan, error) {
	w, args := scope.where("repo", []any{ms(since)})
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT severity, first_seen / `+fmt.Sprint(dayMS)+`,
			CASE WHEN resolved_at = 0 THEN -1 ELSE resolved_at / `+fmt.Sprint(dayMS)+` END, COUNT(*)
		FROM finding_history WHERE (resolved_at = 0 OR resolved_at >= ?)`+w+`
		GROUP BY 1, 2, 3`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: console finding history: %w", err)
	}
	defer rows.Close()
	var out []ConsoleSpan
	for rows.Next() {
		var sp ConsoleSpan
		if err := rows.Scan(&sp.Severity, &sp.FirstDay, &sp.ResolvedDay, &sp.N); err != nil {
			return nil, fmt.Errorf("store: console finding history: %w", err)
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// sevCols sums open findings per ECR severity.
const sevCols = `SUM(CASE WHEN f.severity = 'CRITICAL' THEN 1 ELSE 0 END) AS c,
	SUM(CASE WHEN f.severity = 'HIGH' THEN 1 ELSE 0 END) AS h,
	SUM(CASE WHEN f.severity = 'MEDIUM' THEN 1 ELSE 0 END) AS m,
	SUM(CASE WHEN f.severity = 'LOW' THEN 1 ELSE 0 END) AS l,
	SUM(CASE WHEN f.severity = 'INFORMATIONAL' THEN 1 ELSE 0 END) AS i,
	SUM(CASE WHEN f.severity NOT IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL') THEN 1 ELSE 0 END) AS u,
	COUNT(*) AS n`

// ConsoleSeverityCounts are open findings per ECR severity.
type ConsoleSeverityCounts struct {
	Critical, High, Medium, Low, Informational, Undefined, Total int
}

// Map returns the counts keyed by ECR severity, zeros left out.
func (c ConsoleSeverityCounts) Map() map[string]int {
	m := map[string]int{}
	for k, v := range map[string]int{"CRITICAL": c.Critical, "HIGH": c.High, "MEDIUM": c.Medium, "LOW": c.Low, "INFORMATIONAL": c.Informational, "UNDEFINED": c.Undefined} {
		if v > 0 {
			m[k] = v
		}
	}
	return m
}

func (c *ConsoleSeverityCounts) dest() []any {
	return []any{&c.Critical, &c.High, &c.Medium, &c.Low, &c.Informational, &c.Undefined, &c.Total}
}

// ConsoleOpenCounts counts open findings (finding_history) of images that
// still exist.
func (s *SQL) ConsoleOpenCounts(ctx context.Context, scope ConsoleScope) (ConsoleSeverityCounts, error) {
	var c ConsoleSeverityCounts
	w, args := scope.where("f.repo", nil)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT CAST(COALESCE(SUM(c), 0) AS BIGINT), CAST(COALESCE(SUM(h), 0) AS BIGINT), CAST(COALESCE(SUM(m), 0) AS BIGINT), CAST(COALESCE(SUM(l), 0) AS BIGINT),
			CAST(COALESCE(SUM(i), 0) AS BIGINT), CAST(COALESCE(SUM(u), 0) AS BIGINT), CAST(COALESCE(SUM(n), 0) AS BIGINT)
		FROM (SELECT f.repo AS repo, f.digest AS digest, `+sevCols+` FROM finding_history f WHERE f.resolved_at = 0`+w+` GROUP BY f.repo, f.digest) g
		JOIN images im ON im.repo = g.repo AND im.digest = g.digest`), args...).Scan(c.dest()...)
	if err != nil {
		return c, fmt.Errorf("store: console open findings: %w", err)
	}
	return c, nil
}

// ConsoleImageFindings is an image with its open findings per severity.
type ConsoleImageFindings struct {
	Repository, Digest string
	Counts             ConsoleSeverityCounts
}

// ConsoleTopImages ranks images that still exist by open findings: most
// critical first, then high, medium, low, then the total. It returns one
// page and the number of ranked images.
func (s *SQL) ConsoleTopImages(ctx context.Context, scope ConsoleScope, offset, limit int) ([]ConsoleImageFindings, int, error) {
	w, args := scope.where("f.repo", nil)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT g.repo, g.digest, g.c, g.h, g.m, g.l, g.i, g.u, g.n, COUNT(*) OVER ()
		FROM (SELECT f.repo AS repo, f.digest AS digest, `+sevCols+` FROM finding_history f WHERE f.resolved_at = 0`+w+` GROUP BY f.repo, f.digest) g
		JOIN images im ON im.repo = g.repo AND im.digest = g.digest
		ORDER BY g.c DESC, g.h DESC, g.m DESC, g.l DESC, g.n DESC, g.repo, g.digest LIMIT ? OFFSET ?`), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: console top images: %w", err)
	}
	defer rows.Close()
	var out []ConsoleImageFindings
	total := 0
	for rows.Next() {
		var r ConsoleImageFindings
		if err := rows.Scan(append([]any{&r.Repository, &r.Digest}, append(r.Counts.dest(), &total)...)...); err != nil {
			return nil, 0, fmt.Errorf("store: console top images: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: console top images: %w", err)
	}
	if len(out) == 0 && offset > 0 {
		// Past the end: the window count is not available; count apart.
		err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT f.repo, f.digest FROM finding_history f
			JOIN images im ON im.repo = f.repo AND im.digest = f.digest WHERE f.resolved_at = 0`+w+` GROUP BY f.repo, f.digest) g`), args...).Scan(&total)
		if err != nil {
			return nil, 0, fmt.Errorf("store: console top images: count: %w", err)
		}
	}
	return out, total, nil
}

// ConsoleCVE is a vulnerability with the number of images and findings
// (packages) where it is open.
type ConsoleCVE struct {
	Name     string
	Severity string // the highest seen
	Images   int
	Findings int
}

// ConsoleTopCVEs ranks vulnerabilities by the images they are open in, then
// by findings, then by name. It returns one page and the number ranked.
func (s *SQL) ConsoleTopCVEs(ctx context.Context, scope ConsoleScope, offset, limit int) ([]ConsoleCVE, int, error) {
	w, args := scope.where("f.repo", nil)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT f.name, MAX(CASE f.severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 WHEN 'INFORMATIONAL' THEN 1 ELSE 0 END),
			COUNT(DISTINCT f.repo || '@' || f.digest), COUNT(*), COUNT(*) OVER ()
		FROM finding_history f JOIN images im ON im.repo = f.repo AND im.digest = f.digest
		WHERE f.resolved_at = 0`+w+`
		GROUP BY f.name ORDER BY 3 DESC, 4 DESC, f.name LIMIT ? OFFSET ?`), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: console top vulnerabilities: %w", err)
	}
	defer rows.Close()
	var out []ConsoleCVE
	total := 0
	for rows.Next() {
		var c ConsoleCVE
		var rank int
		if err := rows.Scan(&c.Name, &rank, &c.Images, &c.Findings, &total); err != nil {
			return nil, 0, fmt.Errorf("store: console top vulnerabilities: %w", err)
		}
		c.Severity = []string{"UNDEFINED", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}[rank]
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: console top vulnerabilities: %w", err)
	}
	if len(out) == 0 && offset > 0 {
		err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(DISTINCT f.name) FROM finding_history f JOIN images im ON im.repo = f.repo AND im.digest = f.digest
			WHERE f.resolved_at = 0`+w), args...).Scan(&total)
		if err != nil {
			return nil, 0, fmt.Errorf("store: console top vulnerabilities: count: %w", err)
		}
	}
	return out, total, nil
}
