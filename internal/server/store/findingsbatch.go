package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Batched rescan writes. A continuous rescan handles many images per
// transaction with a few set-based statements per batch (the images are a
// VALUES list joined to the tables, the writes multi-row upserts) instead
// of a few statements per image and per finding.
//
// inventories.findings_hash (migration findingsHashSchema) is FindingsHash
// of the image's open finding_history rows, or '' when unknown (rows written
// before the column, or by an older build). Every writer of finding_history
// (RecordFindings, RecordFindingsBatch; deleting an image removes both)
// keeps it, so a re-match whose findings hash to it changed nothing, and
// the history need not be read.

// ImageRef names one image.
type ImageRef struct {
	Repository string
	Digest     string
}

// findingsHashSchema is the migration adding inventories.findings_hash
// and an index of the open findings by image and package (the change-pass
// shortcut reads an image's open findings of a few packages; without it
// every open finding of the image is read to filter them).
func (s *SQL) findingsHashSchema() []string {
	return []string{
		`ALTER TABLE inventories ADD COLUMN findings_hash TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX IF NOT EXISTS finding_history_open_package ON finding_history (repo, digest, package_name) WHERE resolved_at = 0`,
	}
}

// FindingsHash is the digest of a set of open findings: their identities
// and severities, one per FindingKey (the last of a key wins, as in
// RecordFindings), in key order.
func FindingsHash(records []FindingRecord) string {
	sorted := true
	for i := 1; i < len(records) && sorted; i++ {
		sorted = compareKeys(&records[i-1], &records[i]) < 0
	}
	if !sorted {
		byKey := make(map[string]FindingRecord, len(records))
		for _, r := range records {
			byKey[r.Key()] = r
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		records = make([]FindingRecord, len(keys))
		for i, k := range keys {
			records[i] = byKey[k]
		}
	}
	h := sha256.New()
	var buf []byte
	for i := range records {
		r := &records[i]
		buf = append(buf[:0], r.Name...)
		buf = append(buf, 0x1f)
		buf = append(buf, r.PackageName...)
		buf = append(buf, 0x1f)
		buf = append(buf, r.PackageVersion...)
		buf = append(buf, 0x1e)
		buf = append(buf, r.Severity...)
		buf = append(buf, '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compareKeys compares the FindingKeys of a and b without building them.
func compareKeys(a, b *FindingRecord) int {
	ap := [5]string{a.Name, "\x1f", a.PackageName, "\x1f", a.PackageVersion}
	bp := [5]string{b.Name, "\x1f", b.PackageName, "\x1f", b.PackageVersion}
	i, j, ai, bi := 0, 0, 0, 0 // part and byte within it
	for {
		for i < 5 && ai == len(ap[i]) {
			i, ai = i+1, 0
		}
		for j < 5 && bi == len(bp[j]) {
			j, bi = j+1, 0
		}
		switch {
		case i == 5 && j == 5:
			return 0
		case i == 5:
			return -1
		case j == 5:
			return 1
		}
		if c, d := ap[i][ai], bp[j][bi]; c != d {
			if c < d {
				return -1
			}
			return 1
		}
		ai, bi = ai+1, bi+1
	}
}

// imageChunk bounds the images of one batched statement (2 parameters
// each, with a few more).
const imageChunk = 500

// imagesCTE is a WITH clause naming refs as the relation v(repo, digest).
func imagesCTE(refs []ImageRef) (string, []any) {
	var b strings.Builder
	b.WriteString(`WITH v (repo, digest) AS (VALUES `)
	args := make([]any, 0, 2*len(refs))
	for i, r := range refs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, r.Repository, r.Digest)
	}
	b.WriteString(") ")
	return b.String(), args
}

// chunks calls fn for consecutive slices of refs of at most n.
func chunks(refs []ImageRef, n int, fn func([]ImageRef) error) error {
	for start := 0; start < len(refs); start += n {
		if err := fn(refs[start:min(start+n, len(refs))]); err != nil {
			return err
		}
	}
	return nil
}

// BatchInventory is one stored inventory read by GetInventories, with the
// hash of its image's open findings (” when unknown).
type BatchInventory struct {
	StoredInventory
	FindingsHash string
}

// GetInventories reads the stored inventories of refs, a few statements
// for all of them; an image without one is absent from the map.
func (s *SQL) GetInventories(ctx context.Context, refs []ImageRef) (map[ImageRef]BatchInventory, error) {
	out := make(map[ImageRef]BatchInventory, len(refs))
	err := chunks(refs, imageChunk, func(c []ImageRef) error {
		cte, args := imagesCTE(c)
		rows, err := s.db.QueryContext(ctx, s.q(cte+`SELECT i.repo, i.digest, i.enhanced, i.data, i.stored_at, i.db_built_at, i.findings_hash
			FROM v CROSS JOIN inventories i WHERE i.repo = v.repo AND i.digest = v.digest`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var inv BatchInventory
			var enh, stored, built int64
			if err := rows.Scan(&inv.Repository, &inv.Digest, &enh, &inv.Data, &stored, &built, &inv.FindingsHash); err != nil {
				return err
			}
			inv.Enhanced, inv.StoredAt, inv.DBBuiltAt = enh != 0, fromMS(stored), fromMS(built)
			out[ImageRef{inv.Repository, inv.Digest}] = inv
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: get inventories: %w", err)
	}
	return out, nil
}

// ScanStatusesTx reads, in tx, the scan status of each of refs; an image
// without a scan row is absent from the map.
func (s *SQL) ScanStatusesTx(ctx context.Context, tx *Tx, refs []ImageRef) (map[ImageRef]string, error) {
	out := make(map[ImageRef]string, len(refs))
	err := chunks(refs, imageChunk, func(c []ImageRef) error {
		cte, args := imagesCTE(c)
		rows, err := tx.QueryContext(ctx, cte+`SELECT sc.repo, sc.digest, sc.status FROM v CROSS JOIN scans sc WHERE sc.repo = v.repo AND sc.digest = v.digest`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ImageRef
			var st string
			if err := rows.Scan(&r.Repository, &r.Digest, &st); err != nil {
				return err
			}
			out[r] = st
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: scan statuses: %w", err)
	}
	return out, nil
}

// maxPackageFilter bounds the package names of OpenFindingsBatchTx's
// filter; a longer list reads every open finding of the images.
const maxPackageFilter = 500

// OpenFindingsBatchTx returns, in tx, the open finding_history rows of each
// of refs, ordered by finding key: all of them, or with packages set at
// least those of these package names (rows of other packages may be
// included: callers filter).
func (s *SQL) OpenFindingsBatchTx(ctx context.Context, tx *Tx, refs []ImageRef, packages []string) (map[ImageRef][]FindingRecord, error) {
	if len(packages) > maxPackageFilter {
		packages = nil
	}
	return s.historyBatch(ctx, tx, refs, true, packages)
}

// OpenFindingsOfPackagesTx returns, in tx, the open finding_history rows
// of each image of want whose package name is one of the image's names,
// ordered by finding key: each image is probed for its own names only.
func (s *SQL) OpenFindingsOfPackagesTx(ctx context.Context, tx *Tx, want map[ImageRef][]string) (map[ImageRef][]FindingRecord, error) {
	type probe struct {
		ref ImageRef
		pkg string
	}
	var probes []probe
	for ref, names := range want {
		seen := make(map[string]bool, len(names))
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				probes = append(probes, probe{ref, n})
			}
		}
	}
	out := make(map[ImageRef][]FindingRecord, len(want))
	const n = 3 * imageChunk / 2 // 3 parameters each
	for start := 0; start < len(probes); start += n {
		chunk := probes[start:min(start+n, len(probes))]
		var b strings.Builder
		b.WriteString(`WITH v (repo, digest, pkg) AS (VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, p := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, p.ref.Repository, p.ref.Digest, p.pkg)
		}
		b.WriteString(`) SELECT f.repo, f.digest, f.name, f.package_name, f.package_version, f.severity, f.first_seen, f.resolved_at
			FROM v CROSS JOIN finding_history f
			WHERE f.repo = v.repo AND f.digest = v.digest AND f.package_name = v.pkg AND f.resolved_at = 0`)
		if err := scanBatchRows(ctx, tx, b.String(), args, out); err != nil {
			return nil, fmt.Errorf("store: open findings: %w", err)
		}
	}
	for ref, rs := range out {
		out[ref] = sortByKey(rs)
	}
	return out, nil
}

// scanBatchRows runs a query of finding_history rows led by repo and
// digest and appends them to out by image.
func scanBatchRows(ctx context.Context, tx *Tx, q string, args []any, out map[ImageRef][]FindingRecord) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ref ImageRef
		var r FindingRecord
		var first, resolved int64
		if err := rows.Scan(&ref.Repository, &ref.Digest, &r.Name, &r.PackageName, &r.PackageVersion, &r.Severity, &first, &resolved); err != nil {
			return err
		}
		r.FirstSeen, r.ResolvedAt = fromMS(first), fromMS(resolved)
		out[ref] = append(out[ref], r)
	}
	return rows.Err()
}

// FindingHistoryBatchTx returns, in tx, every finding_history row of each
// of refs, ordered by finding key.
func (s *SQL) FindingHistoryBatchTx(ctx context.Context, tx *Tx, refs []ImageRef) (map[ImageRef][]FindingRecord, error) {
	return s.historyBatch(ctx, tx, refs, false, nil)
}

func (s *SQL) historyBatch(ctx context.Context, tx *Tx, refs []ImageRef, openOnly bool, packages []string) (map[ImageRef][]FindingRecord, error) {
	out := make(map[ImageRef][]FindingRecord, len(refs))
	n := imageChunk
	if len(packages) > 0 {
		n = max(1, imageChunk-len(packages)/2)
	}
	err := chunks(refs, n, func(c []ImageRef) error {
		cte, args := imagesCTE(c)
		q := cte + `SELECT f.repo, f.digest, f.name, f.package_name, f.package_version, f.severity, f.first_seen, f.resolved_at
			FROM v CROSS JOIN finding_history f`
		where := []string{`f.repo = v.repo AND f.digest = v.digest`}
		if openOnly {
			where = append(where, `f.resolved_at = 0`)
		}
		if len(packages) > 0 {
			where = append(where, `f.package_name IN (?`+strings.Repeat(`, ?`, len(packages)-1)+`)`)
			for _, p := range packages {
				args = append(args, p)
			}
		}
		return scanBatchRows(ctx, tx, q+` WHERE `+strings.Join(where, ` AND `), args, out)
	})
	if err != nil {
		return nil, fmt.Errorf("store: finding history: %w", err)
	}
	for ref, rs := range out {
		out[ref] = sortByKey(rs)
	}
	return out, nil
}

// sortByKey orders records by FindingKey (the order of the per-image
// reads), each key built once.
func sortByKey(rs []FindingRecord) []FindingRecord {
	type keyed struct {
		k string
		r FindingRecord
	}
	ks := make([]keyed, len(rs))
	sorted := true
	for i, r := range rs {
		ks[i] = keyed{r.Key(), r}
		sorted = sorted && (i == 0 || ks[i-1].k <= ks[i].k)
	}
	if sorted {
		return rs
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].k < ks[j].k })
	for i := range ks {
		rs[i] = ks[i].r
	}
	return rs
}

// FindingsUpdate is one image's findings for RecordFindingsBatch.
type FindingsUpdate struct {
	Image ImageRef
	// Current are the image's findings now (Name, PackageName,
	// PackageVersion and Severity are read).
	Current []FindingRecord
	// Hash is FindingsHash(Current); KnownHash the image's stored
	// inventories.findings_hash. When they are equal and not empty the
	// history is not read: nothing changed.
	Hash, KnownHash string
	// Now is when the findings were observed.
	Now time.Time
}

// RecordFindingsBatch is RecordFindings for many images in tx: one history
// read for the images whose findings hash changed or is unknown, one
// multi-row upsert per chunk of changed rows, and the new hashes. It
// returns each update's diff, in order.
func (s *SQL) RecordFindingsBatch(ctx context.Context, tx *Tx, updates []FindingsUpdate) ([]FindingsDiff, error) {
	diffs := make([]FindingsDiff, len(updates))
	var read []ImageRef
	for _, u := range updates {
		if u.Hash == "" || u.Hash != u.KnownHash {
			read = append(read, u.Image)
		}
	}
	if len(read) == 0 {
		return diffs, nil
	}
	hist, err := s.FindingHistoryBatchTx(ctx, tx, read)
	if err != nil {
		return nil, err
	}
	var rows []historyRow
	var rehash []ImageRef
	var hashes []string
	for i, u := range updates {
		if u.Hash != "" && u.Hash == u.KnownHash {
			continue
		}
		var changed []historyRow
		diffs[i], changed = findingsDiff(hist[u.Image], u.Current, u.Now)
		for j := range changed {
			changed[j].ref = u.Image
		}
		rows = append(rows, changed...)
		h := u.Hash
		if h == "" {
			h = FindingsHash(u.Current)
		}
		if h != u.KnownHash {
			rehash, hashes = append(rehash, u.Image), append(hashes, h)
		}
	}
	if err := s.upsertHistory(ctx, tx, rows); err != nil {
		return nil, err
	}
	if err := s.setFindingsHashes(ctx, tx, rehash, hashes); err != nil {
		return nil, err
	}
	return diffs, nil
}

// historyRow is one finding_history row to write.
type historyRow struct {
	ref ImageRef
	rec FindingRecord
}

// findingsDiff is RecordFindings' decision without the writes: the diff
// and the rows to upsert (ref unset), from an image's history prev and its
// current findings.
func findingsDiff(prev, current []FindingRecord, now time.Time) (FindingsDiff, []historyRow) {
	var diff FindingsDiff
	var rows []historyRow
	old := make(map[string]FindingRecord, len(prev))
	for _, r := range prev {
		old[r.Key()] = r
	}
	cur := make(map[string]FindingRecord, len(current))
	for _, r := range current {
		cur[r.Key()] = r
	}
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := cur[k]
		o, seen := old[k]
		switch {
		case !seen, !o.ResolvedAt.IsZero():
			// New, or reopened with a new first sight.
			r.FirstSeen, r.ResolvedAt = now, time.Time{}
			rows = append(rows, historyRow{rec: r})
			diff.Added = append(diff.Added, r)
		case o.Severity != r.Severity:
			o.Severity = r.Severity
			rows = append(rows, historyRow{rec: o})
			diff.Rerated++
		}
	}
	for _, o := range prev {
		if !o.ResolvedAt.IsZero() {
			continue
		}
		if _, still := cur[o.Key()]; still {
			continue
		}
		o.ResolvedAt = now
		rows = append(rows, historyRow{rec: o})
		diff.Resolved = append(diff.Resolved, o)
	}
	return diff, rows
}

// historyChunk bounds the rows of one multi-row upsert (9 parameters each).
const historyChunk = 1000

// upsertHistory writes rows with one multi-row upsert per chunk: every
// column of a row is as given (an existing row keeps nothing of its own).
func (s *SQL) upsertHistory(ctx context.Context, tx *Tx, rows []historyRow) error {
	for start := 0; start < len(rows); start += historyChunk {
		chunk := rows[start:min(start+historyChunk, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO finding_history (repo, digest, finding_key, name, package_name, package_version, severity, first_seen, resolved_at) VALUES `)
		args := make([]any, 0, 9*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, r.ref.Repository, r.ref.Digest, r.rec.Key(), r.rec.Name, r.rec.PackageName, r.rec.PackageVersion, string(r.rec.Severity), ms(r.rec.FirstSeen), ms(r.rec.ResolvedAt))
		}
		b.WriteString(` ON CONFLICT (repo, digest, finding_key) DO UPDATE SET severity = excluded.severity, first_seen = excluded.first_seen, resolved_at = excluded.resolved_at`)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: record findings: upsert: %w", err)
		}
	}
	return nil
}

// setFindingsHashes stores each image's findings hash, one statement per
// chunk.
func (s *SQL) setFindingsHashes(ctx context.Context, tx *Tx, refs []ImageRef, hashes []string) error {
	const n = imageChunk
	for start := 0; start < len(refs); start += n {
		end := min(start+n, len(refs))
		var b strings.Builder
		b.WriteString(`WITH v (repo, digest, h) AS (VALUES `)
		args := make([]any, 0, 3*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, refs[i].Repository, refs[i].Digest, hashes[i])
		}
		b.WriteString(`) UPDATE inventories SET findings_hash = v.h FROM v WHERE v.repo = inventories.repo AND v.digest = inventories.digest`)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: record findings: hashes: %w", err)
		}
	}
	return nil
}

// SetInventoriesBuilt records, in tx, the DB build time the findings of
// refs were matched against, one statement per chunk.
func (s *SQL) SetInventoriesBuilt(ctx context.Context, tx *Tx, refs []ImageRef, builtAt time.Time) error {
	err := chunks(refs, imageChunk, func(c []ImageRef) error {
		cte, args := imagesCTE(c)
		args = append(args, ms(builtAt))
		_, err := tx.ExecContext(ctx, cte+`UPDATE inventories SET db_built_at = ? WHERE (repo, digest) IN (SELECT repo, digest FROM v)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set inventory builds: %w", err)
	}
	return nil
}
