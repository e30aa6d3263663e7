package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Stored inventories (continuous rescans). The schema is a contract other
// features read:
//
//	inventories(repo, digest, enhanced, data, stored_at, db_built_at)
//	    data is the zstd-compressed inventory JSON (see rescan.Codec);
//	    db_built_at is the build time (Unix ms) of the vulnerability DB the
//	    image's current findings were matched against, 0 when unknown.
//	inventory_keys(namespace, package, repo, digest)
//	    the (namespace, package) pairs the inventory's match looks up.
//	leases(name, holder, until)  (lease.go)
//	    one row per singleton job (the rescan pass) shared by replicas.

// InventoryKey is one (namespace, package) lookup of an inventory.
type InventoryKey struct {
	Namespace string
	Package   string
}

// StoredInventory is one image's stored inventory.
type StoredInventory struct {
	Repository string
	Digest     string
	Enhanced   bool
	// Data is the zstd-compressed inventory JSON.
	Data      []byte
	StoredAt  time.Time
	DBBuiltAt time.Time
}

// InventoryTarget is what a rescan needs to decide about one image.
type InventoryTarget struct {
	Repository   string
	Digest       string
	Enhanced     bool
	PushedAt     time.Time
	LastPulledAt time.Time // zero when never pulled
	DBBuiltAt    time.Time
	ScanStatus   string // "" when the image has no scan row
}

func (s *SQL) blobType() string {
	if s.d.name == "postgres" {
		return "BYTEA"
	}
	return "BLOB"
}

func (s *SQL) inventorySchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS inventories (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			enhanced INTEGER NOT NULL,
			data ` + s.blobType() + ` NOT NULL,
			stored_at BIGINT NOT NULL,
			db_built_at BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS inventory_keys (
			namespace TEXT NOT NULL,
			package TEXT NOT NULL,
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			PRIMARY KEY (namespace, package, repo, digest))`,
		`CREATE INDEX IF NOT EXISTS inventory_keys_image ON inventory_keys (repo, digest)`,
		`CREATE TABLE IF NOT EXISTS rescan_leases (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			until BIGINT NOT NULL)`,
	}
}

// keyChunk bounds the rows of one multi-row INSERT (4 parameters each).
const keyChunk = 200

// PutInventory stores an image's inventory and replaces its keys, in tx.
func (s *SQL) PutInventory(ctx context.Context, tx *Tx, inv StoredInventory, keys []InventoryKey) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO inventories (repo, digest, enhanced, data, stored_at, db_built_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo, digest) DO UPDATE SET enhanced = excluded.enhanced, data = excluded.data, stored_at = excluded.stored_at, db_built_at = excluded.db_built_at`,
		inv.Repository, inv.Digest, b2i(inv.Enhanced), inv.Data, ms(inv.StoredAt), ms(inv.DBBuiltAt)); err != nil {
		return fmt.Errorf("store: put inventory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM inventory_keys WHERE repo = ? AND digest = ?`, inv.Repository, inv.Digest); err != nil {
		return fmt.Errorf("store: put inventory keys: %w", err)
	}
	seen := make(map[InventoryKey]bool, len(keys))
	uniq := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	for start := 0; start < len(uniq); start += keyChunk {
		chunk := uniq[start:min(start+keyChunk, len(uniq))]
		var b strings.Builder
		b.WriteString(`INSERT INTO inventory_keys (namespace, package, repo, digest) VALUES `)
		args := make([]any, 0, 4*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			args = append(args, k.Namespace, k.Package, inv.Repository, inv.Digest)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: put inventory keys: %w", err)
		}
	}
	return nil
}

// GetInventory returns an image's stored inventory.
func (s *SQL) GetInventory(ctx context.Context, repo, digest string) (StoredInventory, error) {
	inv := StoredInventory{Repository: repo, Digest: digest}
	var enh, stored, built int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT enhanced, data, stored_at, db_built_at FROM inventories WHERE repo = ? AND digest = ?`), repo, digest).
		Scan(&enh, &inv.Data, &stored, &built)
	if errors.Is(err, sql.ErrNoRows) {
		return inv, fmt.Errorf("store: inventory of %s@%s: %w", repo, digest, ErrNotFound)
	}
	if err != nil {
		return inv, fmt.Errorf("store: get inventory: %w", err)
	}
	inv.Enhanced, inv.StoredAt, inv.DBBuiltAt = enh != 0, fromMS(stored), fromMS(built)
	return inv, nil
}

// InventoryKeys returns an image's keys, sorted.
func (s *SQL) InventoryKeys(ctx context.Context, repo, digest string) ([]InventoryKey, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT namespace, package FROM inventory_keys WHERE repo = ? AND digest = ? ORDER BY namespace, package`), repo, digest)
	if err != nil {
		return nil, fmt.Errorf("store: inventory keys: %w", err)
	}
	defer rows.Close()
	var out []InventoryKey
	for rows.Next() {
		var k InventoryKey
		if err := rows.Scan(&k.Namespace, &k.Package); err != nil {
			return nil, fmt.Errorf("store: inventory keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

const targetCols = `i.repo, i.digest, i.enhanced, im.pushed_at, COALESCE(p.last_pulled_at, 0), i.db_built_at, COALESCE(sc.status, '')`

const targetFrom = ` FROM inventories i
	JOIN images im ON im.repo = i.repo AND im.digest = i.digest
	LEFT JOIN image_pulls p ON p.repo = i.repo AND p.digest = i.digest
	LEFT JOIN scans sc ON sc.repo = i.repo AND sc.digest = i.digest`

func scanTargets(rows *sql.Rows, out map[[2]string]InventoryTarget) error {
	defer rows.Close()
	for rows.Next() {
		var t InventoryTarget
		var enh, pushed, pulled, built int64
		if err := rows.Scan(&t.Repository, &t.Digest, &enh, &pushed, &pulled, &built, &t.ScanStatus); err != nil {
			return err
		}
		t.Enhanced, t.PushedAt, t.LastPulledAt, t.DBBuiltAt = enh != 0, fromMS(pushed), fromMS(pulled), fromMS(built)
		out[[2]string{t.Repository, t.Digest}] = t
	}
	return rows.Err()
}

func sortedTargets(m map[[2]string]InventoryTarget) []InventoryTarget {
	out := make([]InventoryTarget, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Digest < out[j].Digest
	})
	return out
}

// AllInventoryTargets lists every image with a stored inventory, sorted by
// repository and digest.
func (s *SQL) AllInventoryTargets(ctx context.Context) ([]InventoryTarget, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+targetCols+targetFrom)
	if err != nil {
		return nil, fmt.Errorf("store: inventory targets: %w", err)
	}
	m := map[[2]string]InventoryTarget{}
	if err := scanTargets(rows, m); err != nil {
		return nil, fmt.Errorf("store: inventory targets: %w", err)
	}
	return sortedTargets(m), nil
}

// pkgChunk bounds the IN list of one key lookup.
const pkgChunk = 500

// InventoryTargetsByKeys lists the images whose inventories hold any of
// keys, sorted by repository and digest. The lookups are grouped by
// namespace and chunked, each an index range scan on inventory_keys.
func (s *SQL) InventoryTargetsByKeys(ctx context.Context, keys []InventoryKey) ([]InventoryTarget, error) {
	byNS := map[string][]string{}
	for _, k := range keys {
		byNS[k.Namespace] = append(byNS[k.Namespace], k.Package)
	}
	m := map[[2]string]InventoryTarget{}
	for ns, pkgs := range byNS {
		for start := 0; start < len(pkgs); start += pkgChunk {
			chunk := pkgs[start:min(start+pkgChunk, len(pkgs))]
			args := make([]any, 0, len(chunk)+1)
			args = append(args, ns)
			for _, p := range chunk {
				args = append(args, p)
			}
			// Drive the lookup from the key index rather than scanning
			// every inventory.
			q := `SELECT ` + targetCols + targetFrom + ` JOIN (SELECT DISTINCT repo, digest FROM inventory_keys
				WHERE namespace = ? AND package IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)) k ON k.repo = i.repo AND k.digest = i.digest`
			rows, err := s.db.QueryContext(ctx, s.q(q), args...)
			if err != nil {
				return nil, fmt.Errorf("store: inventory targets by keys: %w", err)
			}
			if err := scanTargets(rows, m); err != nil {
				return nil, fmt.Errorf("store: inventory targets by keys: %w", err)
			}
		}
	}
	return sortedTargets(m), nil
}

// SetInventoryBuilt records, in tx, the DB build time an image's findings
// were matched against.
func (s *SQL) SetInventoryBuilt(ctx context.Context, tx *Tx, repo, digest string, builtAt time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE inventories SET db_built_at = ? WHERE repo = ? AND digest = ?`, ms(builtAt), repo, digest); err != nil {
		return fmt.Errorf("store: set inventory build: %w", err)
	}
	return nil
}

// AdvanceInventoriesBuilt moves, in tx, every inventory matched against
// the build of time from to the build of time to: a rescan pass found
// their matches unaffected by the change between the two.
func (s *SQL) AdvanceInventoriesBuilt(ctx context.Context, tx *Tx, from, to time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE inventories SET db_built_at = ? WHERE db_built_at = ?`, ms(to), ms(from))
	if err != nil {
		return 0, fmt.Errorf("store: advance inventory builds: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// RescanSetting returns a settings row ("" and false when absent).
func (s *SQL) RescanSetting(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: get setting %s: %w", name, err)
	}
	return v, true, nil
}

// PutRescanSetting writes a settings row in tx.
func (s *SQL) PutRescanSetting(ctx context.Context, tx *Tx, name, value string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	return nil
}
