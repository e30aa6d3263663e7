package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditRecord is one entry of the audit trail (internal/server/audit): a
// change (push, tag move, delete, configuration or policy change) or a
// denied request.
type AuditRecord struct {
	// ID orders the records (increasing in insertion order); ListAudit's
	// paging cursor.
	ID   int64
	Time time.Time
	// Principal is who acted: a user name, "key:<id>", or for a failed
	// authentication the name the caller claimed.
	Principal string
	// Source is the caller's network address (IP).
	Source string
	// Action is the IAM-style action, e.g. ecr:PutImage.
	Action     string
	Repository string
	Digest     string
	Tag        string
	// Decision is "allow" or "deny".
	Decision  string
	Reason    string
	RequestID string
}

// AuditFilter selects audit records; zero fields select everything.
type AuditFilter struct {
	Repository string
	Principal  string
	// Since and Until bound the record time: Since <= time < Until.
	Since, Until time.Time
	// Decision is "allow" or "deny" ("" for both).
	Decision string
	// Before pages backwards: only records with ID < Before (0 = from
	// the newest).
	Before int64
	// Limit bounds the page (default and maximum MaxAuditPage).
	Limit int
}

// MaxAuditPage is the largest page ListAudit returns.
const MaxAuditPage = 1000

// auditSchema is migration 6's table.
func (s *SQL) auditSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS audit (
			id ` + s.d.idColumn + `,
			at BIGINT NOT NULL,
			principal TEXT NOT NULL,
			source TEXT NOT NULL,
			action TEXT NOT NULL,
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			tag TEXT NOT NULL,
			decision TEXT NOT NULL,
			reason TEXT NOT NULL,
			request_id TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_repo ON audit (repo, id)`,
		`CREATE INDEX IF NOT EXISTS audit_principal ON audit (principal, id)`,
		`CREATE INDEX IF NOT EXISTS audit_at ON audit (at)`,
	}
}

// AppendAudit writes audit records (their ID is assigned by the store).
func (s *SQL) AppendAudit(ctx context.Context, recs ...AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO audit (at, principal, source, action, repo, digest, tag, decision, reason, request_id) VALUES `)
	args := make([]any, 0, 10*len(recs))
	for i, r := range recs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, ms(r.Time), r.Principal, r.Source, r.Action, r.Repository, r.Digest, r.Tag, r.Decision, r.Reason, r.RequestID)
	}
	if _, err := s.db.ExecContext(ctx, s.q(b.String()), args...); err != nil {
		return fmt.Errorf("store: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the records f selects, newest first, at most f.Limit;
// the next page is f.Before = the last record's ID.
func (s *SQL) ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Repository != "" {
		add("repo = ?", f.Repository)
	}
	if f.Principal != "" {
		add("principal = ?", f.Principal)
	}
	if !f.Since.IsZero() {
		add("at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ms(f.Until))
	}
	if f.Decision != "" {
		add("decision = ?", f.Decision)
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxAuditPage {
		limit = MaxAuditPage
	}
	query := `SELECT id, at, principal, source, action, repo, digest, tag, decision, reason, request_id FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Principal, &r.Source, &r.Action, &r.Repository, &r.Digest, &r.Tag, &r.Decision, &r.Reason, &r.RequestID); err != nil {
			return nil, fmt.Errorf("store: list audit: %w", err)
		}
		r.Time = fromMS(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the records older than before and returns how many.
func (s *SQL) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM audit WHERE at < ?`), ms(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune audit: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune audit: %w", err)
	}
	return n, nil
}
