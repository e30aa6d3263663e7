package store

// Read-only queries of the web console (internal/server/console) over the
// core tables and the rescan feature's (inventories, finding_history,
// image_pulls), which every migrated database has.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// consoleSchema adds the index the images page sorts by.
func (s *SQL) consoleSchema() []string {
	return []string{
		`CREATE INDEX IF NOT EXISTS console_images_pushed ON images (repo, pushed_at, digest)`,
		// Open findings in image order, covering the dashboard's one pass.
		`CREATE INDEX IF NOT EXISTS console_findings ON finding_history (resolved_at, repo, digest, name, severity, first_seen)`,
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
	SeverityCounts map[severity.Severity]int
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
	pulled, join := `COALESCE(p.last_pulled_at, 0)`, ` LEFT JOIN image_pulls p ON p.repo = i.repo AND p.digest = i.digest`
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
				Counts      map[severity.Severity]int `json:"findingSeverityCounts"`
				CompletedAt time.Time                 `json:"completedAt"`
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
	Severity              severity.Severity
	FirstDay, ResolvedDay int64
	N                     int
}

const dayMS = 24 * 60 * 60 * 1000

// ConsoleSeverityCounts are open findings per ECR severity.
type ConsoleSeverityCounts struct {
	Critical, High, Medium, Low, Informational, Undefined, Total int
}

// Map returns the counts keyed by ECR severity, zeros left out.
func (c ConsoleSeverityCounts) Map() map[severity.Severity]int {
	m := map[severity.Severity]int{}
	for k, v := range map[severity.Severity]int{severity.Critical: c.Critical, severity.High: c.High, severity.Medium: c.Medium, severity.Low: c.Low, severity.Informational: c.Informational, severity.Undefined: c.Undefined} {
		if v > 0 {
			m[k] = v
		}
	}
	return m
}

// ConsoleImageFindings is an image with its open findings per severity.
type ConsoleImageFindings struct {
	Repository, Digest string
	Counts             ConsoleSeverityCounts
}

// ConsoleCVE is a vulnerability with the number of images and findings
// (packages) where it is open.
type ConsoleCVE struct {
	Name     string
	Severity severity.Severity // the highest seen
	Images   int
	Findings int
}

// ConsoleDashboard is what the dashboard shows of finding_history, from
// one pass over the open findings and one over those resolved since.
type ConsoleDashboard struct {
	Open ConsoleSeverityCounts
	// Images are the images with open findings, CVEs the open
	// vulnerabilities, both unordered.
	Images []ConsoleImageFindings
	CVEs   []ConsoleCVE
	// Spans are open findings per (severity, first day) and findings
	// resolved since the given time per (severity, first day, resolved day).
	Spans []ConsoleSpan
}

// ConsoleDashboardData reads the dashboard's aggregates in two queries.
func (s *SQL) ConsoleDashboardData(ctx context.Context, scope ConsoleScope, since time.Time) (ConsoleDashboard, error) {
	var d ConsoleDashboard
	w, args := scope.where("f.repo", nil)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT f.repo, f.digest, f.name, f.severity, f.first_seen FROM finding_history f
		WHERE f.resolved_at = 0`+w+` ORDER BY f.repo, f.digest`), args...)
	if err != nil {
		return d, fmt.Errorf("store: console dashboard: %w", err)
	}
	defer rows.Close()
	type cveAgg struct {
		i         int // index in d.CVEs
		lastImage int
	}
	cves := map[string]*cveAgg{}
	type spanKey struct {
		sev severity.Severity
		day int64
	}
	spans := map[spanKey]int{}
	var repo, digest, name string
	var sev severity.Severity
	var first int64
	for rows.Next() {
		if err := rows.Scan(&repo, &digest, &name, &sev, &first); err != nil {
			return d, fmt.Errorf("store: console dashboard: %w", err)
		}
		n := len(d.Images)
		if n == 0 || d.Images[n-1].Repository != repo || d.Images[n-1].Digest != digest {
			d.Images = append(d.Images, ConsoleImageFindings{Repository: repo, Digest: digest})
			n++
		}
		d.Images[n-1].Counts.add(sev)
		d.Open.add(sev)
		c := cves[name]
		if c == nil {
			c = &cveAgg{i: len(d.CVEs)}
			cves[name] = c
			d.CVEs = append(d.CVEs, ConsoleCVE{Name: name, Severity: sev})
		} else if d.CVEs[c.i].Severity = maxSeverity(d.CVEs[c.i].Severity, sev); c.lastImage == n {
			d.CVEs[c.i].Findings++
			spans[spanKey{sev, first / dayMS}]++
			continue
		}
		c.lastImage = n
		d.CVEs[c.i].Images++
		d.CVEs[c.i].Findings++
		spans[spanKey{sev, first / dayMS}]++
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("store: console dashboard: %w", err)
	}
	for k, n := range spans {
		d.Spans = append(d.Spans, ConsoleSpan{Severity: k.sev, FirstDay: k.day, ResolvedDay: -1, N: n})
	}
	w, args = scope.where("repo", []any{ms(since)})
	rrows, err := s.db.QueryContext(ctx, s.q(`SELECT severity, first_seen / `+fmt.Sprint(dayMS)+`, resolved_at / `+fmt.Sprint(dayMS)+`, COUNT(*)
		FROM finding_history WHERE resolved_at >= ? AND resolved_at > 0`+w+` GROUP BY 1, 2, 3`), args...)
	if err != nil {
		return d, fmt.Errorf("store: console dashboard: resolved: %w", err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var sp ConsoleSpan
		if err := rrows.Scan(&sp.Severity, &sp.FirstDay, &sp.ResolvedDay, &sp.N); err != nil {
			return d, fmt.Errorf("store: console dashboard: resolved: %w", err)
		}
		d.Spans = append(d.Spans, sp)
	}
	return d, rrows.Err()
}

func (c *ConsoleSeverityCounts) add(sev severity.Severity) {
	switch sev {
	case severity.Critical:
		c.Critical++
	case severity.High:
		c.High++
	case severity.Medium:
		c.Medium++
	case severity.Low:
		c.Low++
	case severity.Informational:
		c.Informational++
	default:
		c.Undefined++
	}
	c.Total++
}

func maxSeverity(a, b severity.Severity) severity.Severity {
	if severity.Compare(b, a) > 0 {
		return b
	}
	return a
}
