package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Blob references: the fence between manifest PUTs and blob garbage
// collection across replicas (registry/gc.go). A manifest PUT records, for
// every blob its manifest names, the time it named it, before it checks
// that the blobs exist; a collection keeps any blob named at or after its
// start (less a margin), whatever replica it runs on. One row per digest:
// the latest time it was named.

// blobRefChunk bounds the digests of one statement (2 parameters a row
// when writing, 1 when reading: far below SQLite's and PostgreSQL's
// limits).
const blobRefChunk = 500

// MaxBlobRefs bounds the digests of one RecordBlobRefs call: a 4 MiB
// manifest names at most about 50,000 descriptors.
const MaxBlobRefs = 100_000

func (s *SQL) blobRefSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS gc_blob_refs (
			digest TEXT PRIMARY KEY,
			referenced_at BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS gc_blob_refs_at ON gc_blob_refs (referenced_at)`,
	}
}

// RecordBlobRefs records that the digests were referenced at the time at,
// in one transaction of ceil(n/500) statements. Duplicates are allowed; a
// digest's time only moves forward.
func (s *SQL) RecordBlobRefs(ctx context.Context, digests []string, at time.Time) error {
	ds := dedup(digests)
	if len(ds) == 0 {
		return nil
	}
	if len(ds) > MaxBlobRefs {
		return fmt.Errorf("store: record blob references: %d digests, at most %d", len(ds), MaxBlobRefs)
	}
	when := ms(at)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(ds); start += blobRefChunk {
			c := ds[start:min(start+blobRefChunk, len(ds))]
			var b strings.Builder
			b.WriteString(`INSERT INTO gc_blob_refs (digest, referenced_at) VALUES `)
			args := make([]any, 0, 2*len(c))
			for i, d := range c {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?)")
				args = append(args, d, when)
			}
			b.WriteString(` ON CONFLICT (digest) DO UPDATE SET referenced_at = excluded.referenced_at
				WHERE gc_blob_refs.referenced_at < excluded.referenced_at`)
			if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record blob references: %w", err)
	}
	return nil
}

// BlobRefsSince returns which of the digests were referenced at or after
// since, in ceil(n/500) queries.
func (s *SQL) BlobRefsSince(ctx context.Context, digests []string, since time.Time) (map[string]bool, error) {
	ds := dedup(digests)
	out := map[string]bool{}
	for start := 0; start < len(ds); start += blobRefChunk {
		c := ds[start:min(start+blobRefChunk, len(ds))]
		args := make([]any, 0, len(c)+1)
		args = append(args, ms(since))
		for _, d := range c {
			args = append(args, d)
		}
		q := `SELECT digest FROM gc_blob_refs WHERE referenced_at >= ? AND digest IN (?` + strings.Repeat(", ?", len(c)-1) + `)`
		if err := func() error {
			rows, err := s.db.QueryContext(ctx, s.q(q), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var d string
				if err := rows.Scan(&d); err != nil {
					return err
				}
				out[d] = true
			}
			return rows.Err()
		}(); err != nil {
			return nil, fmt.Errorf("store: read blob references: %w", err)
		}
	}
	return out, nil
}

// PruneBlobRefs deletes the references older than before and returns how
// many it deleted.
func (s *SQL) PruneBlobRefs(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM gc_blob_refs WHERE referenced_at < ?`), ms(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune blob references: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune blob references: %w", err)
	}
	return n, nil
}

// dedup returns the distinct non-empty strings of ss, in first-seen order.
func dedup(ss []string) []string {
	seen := make(map[string]struct{}, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s == "" {
			continue
		}
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}
