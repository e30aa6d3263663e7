package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Stored scan results are split so that a page of findings reads only its
// page (DescribeImageScanFindings):
//
//	scans.result               the result JSON without "findings" and
//	                           "enhancedFindings" (its head: status, counts,
//	                           times), small whatever the number of findings
//	scan_result_split(repo, digest, findings, enhanced, chunk_size)
//	                           present when the result had findings: how many
//	                           of each kind and the chunk size they were cut in
//	scan_result_chunks(repo, digest, kind, chunk, items)
//	                           kind 0 = findings, 1 = enhancedFindings; chunk
//	                           c holds the items [c*chunk_size, (c+1)*chunk_size)
//	                           of that kind, verbatim, joined by commas
//
// Every write of scans.result goes through putResult in the writer's
// transaction, and every read is one SQL statement over the three tables,
// so a reader sees one scan's head and chunks, never a mix of two scans
// (several replicas sharing PostgreSQL included; there is no cache). A row
// without a split row holds its whole result in scans.result (a result
// without findings, or one written before the split existed); it is read
// as it is and split at its next write.

// resultChunkSize is the number of findings per stored chunk: a page of
// maxResults m reads at most m/resultChunkSize+2 chunks.
const resultChunkSize = 100

// Kinds of scan_result_chunks rows.
const (
	kindFindings = 0
	kindEnhanced = 1
)

func (s *SQL) scanResultSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS scan_result_split (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			findings INTEGER NOT NULL,
			enhanced INTEGER NOT NULL,
			chunk_size INTEGER NOT NULL,
			PRIMARY KEY (repo, digest))`,
		`CREATE TABLE IF NOT EXISTS scan_result_chunks (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			kind INTEGER NOT NULL,
			chunk INTEGER NOT NULL,
			items TEXT NOT NULL,
			PRIMARY KEY (repo, digest, kind, chunk))`,
	}
}

// splitResult cuts a result into its head and its two finding lists. ok
// is false when the result has no findings of either kind (it is then
// stored whole).
func splitResult(raw []byte) (head []byte, findings, enhanced []json.RawMessage, ok bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, nil, false, fmt.Errorf("store: split scan result: %w", err)
	}
	for key, dst := range map[string]*[]json.RawMessage{"findings": &findings, "enhancedFindings": &enhanced} {
		v, present := fields[key]
		if !present {
			continue
		}
		if !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if err := json.Unmarshal(v, dst); err != nil {
				return nil, nil, nil, false, fmt.Errorf("store: split scan result: %s: %w", key, err)
			}
		}
		delete(fields, key)
	}
	if len(findings) == 0 && len(enhanced) == 0 {
		return nil, nil, nil, false, nil
	}
	head, err = json.Marshal(fields)
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("store: split scan result: head: %w", err)
	}
	return head, findings, enhanced, true, nil
}

// putResult replaces the stored findings of an image's scan in tx and
// returns what to store in scans.result: the head of a result with
// findings, otherwise the result itself ("" clears it).
func (s *SQL) putResult(ctx context.Context, tx *sql.Tx, repo, digest string, raw []byte) (string, error) {
	return s.putPrepared(ctx, tx, repo, digest, PrepareResult(raw))
}

// PreparedResult is a scan result cut as putResult stores it
// (PrepareResult), so that the parsing can run outside the writing
// transaction.
type PreparedResult struct {
	raw                []byte
	head               []byte
	findings, enhanced []json.RawMessage
	split              bool
}

// PrepareResult cuts raw for storing. A result that is not an object with
// findings is stored whole, read as before.
func PrepareResult(raw []byte) PreparedResult {
	p := PreparedResult{raw: raw}
	if len(bytes.TrimSpace(raw)) == 0 {
		return p
	}
	head, findings, enhanced, ok, err := splitResult(raw)
	if err == nil && ok {
		p.head, p.findings, p.enhanced, p.split = head, findings, enhanced, true
	}
	return p
}

// putPrepared is putResult of a prepared result.
func (s *SQL) putPrepared(ctx context.Context, tx *sql.Tx, repo, digest string, p PreparedResult) (string, error) {
	if err := s.deleteResult(ctx, tx, repo, digest); err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(p.raw)) == 0 {
		return "", nil
	}
	if !p.split {
		return string(p.raw), nil
	}
	head, findings, enhanced := p.head, p.findings, p.enhanced
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO scan_result_split (repo, digest, findings, enhanced, chunk_size) VALUES (?, ?, ?, ?, ?)`),
		repo, digest, len(findings), len(enhanced), resultChunkSize); err != nil {
		return "", fmt.Errorf("store: save scan result: %w", err)
	}
	insert := s.q(`INSERT INTO scan_result_chunks (repo, digest, kind, chunk, items) VALUES (?, ?, ?, ?, ?)`)
	for kind, items := range [][]json.RawMessage{kindFindings: findings, kindEnhanced: enhanced} {
		for c := 0; c*resultChunkSize < len(items); c++ {
			part := items[c*resultChunkSize : min((c+1)*resultChunkSize, len(items))]
			if _, err := tx.ExecContext(ctx, insert, repo, digest, kind, c, string(joinItems(part))); err != nil {
				return "", fmt.Errorf("store: save scan result: chunk: %w", err)
			}
		}
	}
	return string(head), nil
}

// deleteResult removes the split parts of an image's stored result.
func (s *SQL) deleteResult(ctx context.Context, tx *sql.Tx, repo, digest string) error {
	for _, stmt := range []string{
		`DELETE FROM scan_result_chunks WHERE repo = ? AND digest = ?`,
		`DELETE FROM scan_result_split WHERE repo = ? AND digest = ?`,
	} {
		if _, err := tx.ExecContext(ctx, s.q(stmt), repo, digest); err != nil {
			return fmt.Errorf("store: clear scan result: %w", err)
		}
	}
	return nil
}

func joinItems(items []json.RawMessage) []byte {
	var b bytes.Buffer
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(bytes.TrimSpace(it))
	}
	return b.Bytes()
}

// splitItems parses one chunk's items.
func splitItems(items string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	if err := json.Unmarshal([]byte("["+items+"]"), &out); err != nil {
		return nil, fmt.Errorf("store: stored findings chunk: %w", err)
	}
	return out, nil
}

const scanRowCols = `s.status, s.description, s.started_at, s.result,
	COALESCE(p.findings, -1), COALESCE(p.enhanced, 0), COALESCE(p.chunk_size, 0),
	COALESCE(c.kind, -1), COALESCE(c.chunk, 0), COALESCE(c.items, '')`

// storedScan is a scan row with the chunks a query selected.
type storedScan struct {
	Scan
	split              bool
	findings, enhanced int
	chunkSize          int
	chunks             [2][]storedChunk // by kind, in chunk order
}

type storedChunk struct {
	index int
	items string
}

// readScan runs one statement over scans, scan_result_split and
// scan_result_chunks (joined on condition chunkCond) and collects it.
func (s *SQL) readScan(ctx context.Context, q querier, repo, digest, chunkCond string, condArgs ...any) (storedScan, error) {
	sc := storedScan{Scan: Scan{Repository: repo, Digest: digest}}
	query := `SELECT ` + scanRowCols + ` FROM scans s
		LEFT JOIN scan_result_split p ON p.repo = s.repo AND p.digest = s.digest
		LEFT JOIN scan_result_chunks c ON c.repo = s.repo AND c.digest = s.digest AND (` + chunkCond + `)
		WHERE s.repo = ? AND s.digest = ?
		ORDER BY c.kind, c.chunk`
	args := append(append([]any{}, condArgs...), repo, digest)
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return sc, fmt.Errorf("store: get scan: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var started int64
		var result, items string
		var findings, enhanced, chunkSize, kind, chunk int
		if err := rows.Scan(&sc.Status, &sc.Description, &started, &result, &findings, &enhanced, &chunkSize, &kind, &chunk, &items); err != nil {
			return sc, fmt.Errorf("store: get scan: %w", err)
		}
		if n == 0 {
			sc.StartedAt = fromMS(started)
			if result != "" {
				sc.Result = json.RawMessage(result)
			}
			sc.split = findings >= 0
			sc.findings, sc.enhanced, sc.chunkSize = max(findings, 0), enhanced, chunkSize
		}
		n++
		if kind == kindFindings || kind == kindEnhanced {
			sc.chunks[kind] = append(sc.chunks[kind], storedChunk{index: chunk, items: items})
		}
	}
	if err := rows.Err(); err != nil {
		return sc, fmt.Errorf("store: get scan: %w", err)
	}
	if n == 0 {
		return sc, fmt.Errorf("store: scan of %s@%s: %w", repo, digest, ErrNotFound)
	}
	return sc, nil
}

// getScan reads an image's scan with its whole result.
func (s *SQL) getScan(ctx context.Context, q querier, repo, digest string) (Scan, error) {
	sc, err := s.readScan(ctx, q, repo, digest, `1 = 1`)
	if err != nil {
		return sc.Scan, err
	}
	if !sc.split {
		return sc.Scan, nil
	}
	whole, err := joinResult(sc.Result, sc.chunks)
	if err != nil {
		return sc.Scan, fmt.Errorf("store: scan of %s@%s: %w", repo, digest, err)
	}
	sc.Result = whole
	return sc.Scan, nil
}

// joinResult puts a head and all its chunks back into one result.
func joinResult(head []byte, chunks [2][]storedChunk) (json.RawMessage, error) {
	head = bytes.TrimSpace(head)
	if len(head) < 2 || head[0] != '{' || head[len(head)-1] != '}' {
		return nil, errors.New("stored scan result head is not a JSON object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for kind, key := range []string{kindFindings: "findings", kindEnhanced: "enhancedFindings"} {
		if len(chunks[kind]) == 0 {
			continue
		}
		b.WriteString(`"` + key + `":[`)
		for i, c := range chunks[kind] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(c.items)
		}
		b.WriteString(`],`)
	}
	rest := bytes.TrimSpace(head[1:])
	if len(rest) == 1 { // "}": the head has no other member
		out := b.Bytes()
		out[len(out)-1] = '}'
		return out, nil
	}
	b.Write(rest)
	return b.Bytes(), nil
}

// FindingsPage is a window of an image's stored findings: its findings
// followed by its enhanced findings, as one sequence (the order of
// DescribeImageScanFindings pages), read in one statement with its scan.
type FindingsPage struct {
	// Scan is the image's scan; its Result is the result without
	// "findings" and "enhancedFindings" (status, severity counts, times).
	Scan
	// Findings and EnhancedFindings are the totals of each kind.
	Findings, EnhancedFindings int
	// Basic and Enhanced are the window's items of each kind, verbatim as
	// the scanner stored them, in order.
	Basic, Enhanced []json.RawMessage
}

// Total is the length of the whole sequence.
func (p FindingsPage) Total() int { return p.Findings + p.EnhancedFindings }

// ScanFindingsPage reads an image's scan and the items [start, start+limit)
// of its findings followed by its enhanced findings; a window past the end
// is empty. It reads about limit findings whatever the total (whole results
// stored before the split are cut in memory).
func (s *SQL) ScanFindingsPage(ctx context.Context, repo, digest string, start, limit int) (FindingsPage, error) {
	var pg FindingsPage
	if start < 0 || limit < 0 {
		return pg, fmt.Errorf("store: findings page [%d, +%d): negative bound", start, limit)
	}
	end := start + limit
	// Chunk c of kind 0 holds items [c*n, (c+1)*n): it meets [start, end)
	// when start/n <= c < ceil(end/n). Kind 1 item j is sequence item
	// findings+j. Integer division truncates toward zero in both dialects,
	// which keeps the lower bounds lenient and the upper bounds exact when
	// the window lies before the enhanced findings.
	cond := `(c.kind = 0 AND c.chunk >= ? / p.chunk_size AND c.chunk < (? + p.chunk_size - 1) / p.chunk_size)
		OR (c.kind = 1 AND c.chunk >= (? - p.findings) / p.chunk_size AND c.chunk < (? - p.findings + p.chunk_size - 1) / p.chunk_size)`
	sc, err := s.readScan(ctx, s.db, repo, digest, cond, start, end, start, end)
	if err != nil {
		return pg, err
	}
	pg.Scan = sc.Scan
	if !sc.split {
		return legacyPage(pg, start, end)
	}
	pg.Findings, pg.EnhancedFindings = sc.findings, sc.enhanced
	for kind, offset := range []int{kindFindings: 0, kindEnhanced: sc.findings} {
		for _, c := range sc.chunks[kind] {
			items, err := splitItems(c.items)
			if err != nil {
				return pg, fmt.Errorf("store: findings of %s@%s: %w", repo, digest, err)
			}
			for i, it := range items {
				pos := offset + c.index*sc.chunkSize + i
				if pos < start || pos >= end {
					continue
				}
				if kind == kindFindings {
					pg.Basic = append(pg.Basic, it)
				} else {
					pg.Enhanced = append(pg.Enhanced, it)
				}
			}
		}
	}
	return pg, nil
}

// legacyPage cuts a window out of a result stored whole.
func legacyPage(pg FindingsPage, start, end int) (FindingsPage, error) {
	if len(pg.Result) == 0 {
		return pg, nil
	}
	head, findings, enhanced, ok, err := splitResult(pg.Result)
	if err != nil || !ok {
		return pg, err
	}
	pg.Result = head
	pg.Findings, pg.EnhancedFindings = len(findings), len(enhanced)
	for i := start; i < end && i < pg.Total(); i++ {
		if i < len(findings) {
			pg.Basic = append(pg.Basic, findings[i])
		} else {
			pg.Enhanced = append(pg.Enhanced, enhanced[i-len(findings)])
		}
	}
	return pg, nil
}
