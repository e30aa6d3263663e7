package store

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

// Finding history (continuous rescans). The schema is a contract other
// features read:
//
//	finding_history(repo, digest, finding_key, name, package_name,
//	    package_version, severity, first_seen, resolved_at)
//
// finding_key is FindingKey(name, package_name, package_version): the three
// joined by U+001F (PostgreSQL text cannot hold NUL); one row per finding
// ever reported for the image; resolved_at 0 means still open.

// FindingKey is the identity of a finding in an image.
func FindingKey(name, pkgName, pkgVersion string) string {
	return name + "\x1f" + pkgName + "\x1f" + pkgVersion
}

// FindingRecord is one finding_history row.
type FindingRecord struct {
	Name           string
	PackageName    string
	PackageVersion string
	Severity       severity.Severity
	FirstSeen      time.Time
	ResolvedAt     time.Time // zero while open
}

// Key is the record's FindingKey.
func (r FindingRecord) Key() string { return FindingKey(r.Name, r.PackageName, r.PackageVersion) }

// FindingsDiff is what RecordFindings changed.
type FindingsDiff struct {
	// Added are findings not open before: new ones and reopened ones.
	Added []FindingRecord
	// Resolved are findings open before and absent now.
	Resolved []FindingRecord
	// Rerated counts open findings whose severity changed.
	Rerated int
}

// Changed reports whether the findings differ from the open ones before.
func (d FindingsDiff) Changed() bool { return len(d.Added)+len(d.Resolved)+d.Rerated > 0 }

func (s *SQL) findingsSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS finding_history (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			finding_key TEXT NOT NULL,
			name TEXT NOT NULL,
			package_name TEXT NOT NULL,
			package_version TEXT NOT NULL,
			severity TEXT NOT NULL,
			first_seen BIGINT NOT NULL,
			resolved_at BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (repo, digest, finding_key))`,
	}
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *SQL) findingHistory(ctx context.Context, q querier, query, repo, digest string) ([]FindingRecord, error) {
	rows, err := q.QueryContext(ctx, query, repo, digest)
	if err != nil {
		return nil, fmt.Errorf("store: finding history: %w", err)
	}
	return scanFindingRows(rows)
}

func scanFindingRows(rows *sql.Rows) ([]FindingRecord, error) {
	defer rows.Close()
	var out []FindingRecord
	for rows.Next() {
		var r FindingRecord
		var first, resolved int64
		if err := rows.Scan(&r.Name, &r.PackageName, &r.PackageVersion, &r.Severity, &first, &resolved); err != nil {
			return nil, fmt.Errorf("store: finding history: %w", err)
		}
		r.FirstSeen, r.ResolvedAt = fromMS(first), fromMS(resolved)
		out = append(out, r)
	}
	return out, rows.Err()
}

const historyQuery = `SELECT name, package_name, package_version, severity, first_seen, resolved_at FROM finding_history
	WHERE repo = ? AND digest = ? ORDER BY finding_key`

// FindingHistory returns every finding_history row of an image, ordered by
// finding key.
func (s *SQL) FindingHistory(ctx context.Context, repo, digest string) ([]FindingRecord, error) {
	return s.findingHistory(ctx, s.db, s.q(historyQuery), repo, digest)
}

// OpenFindingsTx returns the open finding_history rows of an image in tx,
// ordered by finding key: all of them, or with packages set only those of
// these package names (the database filters, so a rescan that checks a few
// packages of an image with thousands of findings reads a few rows).
func (s *SQL) OpenFindingsTx(ctx context.Context, tx *Tx, repo, digest string, packages ...string) ([]FindingRecord, error) {
	q := `SELECT name, package_name, package_version, severity, first_seen, resolved_at FROM finding_history
		WHERE repo = ? AND digest = ? AND resolved_at = 0`
	args := []any{repo, digest}
	if len(packages) > 0 {
		q += ` AND package_name IN (?` + strings.Repeat(`, ?`, len(packages)-1) + `)`
		for _, p := range packages {
			args = append(args, p)
		}
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY finding_key`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: open findings: %w", err)
	}
	return scanFindingRows(rows)
}

// RecordFindings updates an image's finding history in tx from the
// findings of a scan completed at now (Name, PackageName, PackageVersion,
// Severity are read): a finding never seen gets first_seen = now; an open
// finding absent from current gets resolved_at = now; a resolved finding
// that reappears is reopened (resolved_at = 0, first_seen = now); an open
// one keeps its first_seen and takes the current severity. It stores the
// hash of current as the image's inventories.findings_hash (findingsbatch.go).
// RecordFindingsBatch does the same for many images.
func (s *SQL) RecordFindings(ctx context.Context, tx *Tx, repo, digest string, current []FindingRecord, now time.Time) (FindingsDiff, error) {
	prev, err := s.findingHistory(ctx, tx, historyQuery, repo, digest)
	if err != nil {
		return FindingsDiff{}, err
	}
	diff, rows := findingsDiff(prev, current, now)
	ref := ImageRef{Repository: repo, Digest: digest}
	for i := range rows {
		rows[i].ref = ref
	}
	if err := s.upsertHistory(ctx, tx, rows); err != nil {
		return FindingsDiff{}, fmt.Errorf("store: record findings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE inventories SET findings_hash = ? WHERE repo = ? AND digest = ?`, FindingsHash(current), repo, digest); err != nil {
		return FindingsDiff{}, fmt.Errorf("store: record findings: hash: %w", err)
	}
	return diff, nil
}

// ScanStatusTx reads the status of an image's scan row in tx, without its
// result.
func (s *SQL) ScanStatusTx(ctx context.Context, tx *Tx, repo, digest string) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM scans WHERE repo = ? AND digest = ?`, repo, digest).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: scan of %s@%s: %w", repo, digest, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: scan status: %w", err)
	}
	return status, nil
}

// ScanTx reads an image's scan row in tx, with its whole result.
func (s *SQL) ScanTx(ctx context.Context, tx *Tx, repo, digest string) (Scan, error) {
	return s.getScan(ctx, tx.tx, repo, digest)
}

// UpdateScanResult overwrites, in tx, a finished scan's status, description
// and result (a rescan). It changes nothing unless the row's status is one
// of fromStatuses (a scan IN_PROGRESS or FAILED is left alone) and reports
// whether it wrote. A nil result keeps the stored one.
func (s *SQL) UpdateScanResult(ctx context.Context, tx *Tx, repo, digest, status, description string, result json.RawMessage, fromStatuses ...string) (bool, error) {
	if result == nil {
		return s.UpdateScanResultPrepared(ctx, tx, repo, digest, status, description, nil, fromStatuses...)
	}
	p := PrepareResult(result)
	return s.UpdateScanResultPrepared(ctx, tx, repo, digest, status, description, &p, fromStatuses...)
}

// UpdateScanResultPrepared is UpdateScanResult with the result already
// cut (PrepareResult, which a caller can run outside tx); nil keeps the
// stored one.
func (s *SQL) UpdateScanResultPrepared(ctx context.Context, tx *Tx, repo, digest, status, description string, result *PreparedResult, fromStatuses ...string) (bool, error) {
	if len(fromStatuses) == 0 {
		return false, errors.New("store: update scan result: no statuses to update from")
	}
	in := "?"
	for range fromStatuses[1:] {
		in += ", ?"
	}
	query := `UPDATE scans SET status = ?, description = ?`
	args := []any{status, description}
	query += ` WHERE repo = ? AND digest = ? AND status IN (` + in + `)`
	args = append(args, repo, digest)
	for _, st := range fromStatuses {
		args = append(args, st)
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("store: update scan result: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: update scan result: %w", err)
	}
	if n != 1 || result == nil {
		return n == 1, nil
	}
	head, err := s.putPrepared(ctx, tx.tx, repo, digest, *result)
	if err != nil {
		return false, fmt.Errorf("store: update scan result: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE scans SET result = ? WHERE repo = ? AND digest = ?`, head, repo, digest); err != nil {
		return false, fmt.Errorf("store: update scan result: %w", err)
	}
	return true, nil
}
