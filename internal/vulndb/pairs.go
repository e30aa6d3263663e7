package vulndb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// rowDigest is an affected row's digest in its pair's hash: its affected
// columns (affCols, as encodeAffected returns them) and its advisory's
// digest. It is stored with the row (affected.digest), computed when the
// record is prepared.
//
// go_imports, the last of affCols, joins the digest only when it is set:
// the rows without it (all but osv:Go's) keep their schema 6 digests.
func rowDigest(vals []any, advDigest []byte) [16]byte {
	if n := len(vals); n > 0 {
		if s, ok := vals[n-1].(string); ok && s == "" {
			vals = vals[:n-1]
		}
	}
	// digest(vals..., advDigest), without a new []any per row.
	var buf [512]byte
	h := sha256.Sum256(appendPrefixed(appendDigestInput(buf[:0], vals), advDigest))
	var d [16]byte
	copy(d[:], h[:16])
	return d
}

// pairHash hashes a pair's row digests, which it sorts, so that the hash
// depends neither on insertion order nor on rowids: it is digest(digs...)
// of the sorted digests.
func pairHash(digs [][16]byte) []byte {
	slices.SortFunc(digs, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	buf := make([]byte, 0, len(digs)*24)
	for i := range digs {
		buf = binary.BigEndian.AppendUint64(buf, 16)
		buf = append(buf, digs[i][:]...)
	}
	h := sha256.Sum256(buf)
	return h[:16]
}

// writePairs hashes each (namespace, package)'s rows into the pairs table.
// It walks the affected table in key order reading the key and the stored
// row digests only (reading every column back and joining each row to its
// advisory's digest cost a fifth of a full build), holding one pair's
// digests at a time.
func (b *builder) writePairs(ctx context.Context) error {
	fail := func(err error) error { return fmt.Errorf("vulndb: build: pairs: %w", err) }
	ins, err := newBatchInsert(ctx, b.conn, "pairs", `INSERT INTO pairs(namespace, package, records, hash) VALUES`, 4, rowsPerInsert, "")
	if err != nil {
		return fail(err)
	}
	defer ins.close()
	rows, err := b.conn.QueryContext(ctx, `SELECT namespace, package, digest FROM affected ORDER BY namespace, package`)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var ns, pkg, d sql.RawBytes
	var curNS, curPkg string
	var digs [][16]byte
	flush := func() error {
		if len(digs) == 0 {
			return nil
		}
		err := ins.add(ctx, curNS, curPkg, int64(len(digs)), pairHash(digs))
		digs = digs[:0]
		return err
	}
	for rows.Next() {
		if err := rows.Scan(&ns, &pkg, &d); err != nil {
			return fail(err)
		}
		if len(d) != 16 {
			return fail(fmt.Errorf("%s/%s: row digest of %d bytes", ns, pkg, len(d)))
		}
		if string(ns) != curNS || string(pkg) != curPkg {
			if err := flush(); err != nil {
				return fail(err)
			}
			curNS, curPkg = string(ns), string(pkg)
		}
		digs = append(digs, [16]byte(d))
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if err := b.writeCPEPairs(ctx, ins); err != nil {
		return fail(err)
	}
	if err := ins.flush(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// writeCPEPairs adds a pair (advisory.CPENamespace, product) for each
// classified product with CPE ranges: a hash of its current ranges and
// their records' scores and texts, so that a change of NVD's data for a
// product is a changed pair, and continuous rescans re-match the images
// that hold it.
func (b *builder) writeCPEPairs(ctx context.Context, ins *batchInsert) error {
	for _, prod := range advisory.CPEProducts() {
		var digs [][16]byte
		for _, c := range prod.CPEs {
			rows, err := b.conn.QueryContext(ctx, `SELECT r.cve, r.source, r.version, r.start, r.start_excl, r.end_, r.end_incl, c.cvss, c.description, c.severity
				FROM cpe_ranges r JOIN cvss c ON c.id = r.cve AND c.source = r.source AND c.modified = r.modified
				WHERE r.cpe = ?`, c.String())
			if err != nil {
				return err
			}
			for rows.Next() {
				var cve, source, ver, start, end, cvss, desc, sev string
				var startExcl, endIncl int64
				if err := rows.Scan(&cve, &source, &ver, &start, &startExcl, &end, &endIncl, &cvss, &desc, &sev); err != nil {
					rows.Close()
					return err
				}
				digs = append(digs, [16]byte(digest(c.String(), cve, source, ver, start, startExcl, end, endIncl, cvss, desc, sev)))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(digs) > 0 {
			if err := ins.add(ctx, advisory.CPENamespace, prod.Name, int64(len(digs)), pairHash(digs)); err != nil {
				return err
			}
		}
	}
	return nil
}

// redigestRows rewrites the stored row digests of advisory rid's rows in
// the given pairs, for its new advisory digest (applyRejections).
func (b *builder) redigestRows(ctx context.Context, rid int64, pairs [][2]string, advDigest []byte) error {
	type row struct {
		seq int64
		d   [16]byte
	}
	for _, p := range pairs {
		rs, err := b.conn.QueryContext(ctx, `SELECT seq, `+affCols+` FROM affected
			WHERE namespace = ? AND package = ? AND advisory = ?`, p[0], p[1], rid)
		if err != nil {
			return err
		}
		var out []row
		for rs.Next() {
			var r affRow
			var seq int64
			if err := rs.Scan(append([]any{&seq}, r.dest()[2:]...)...); err != nil {
				rs.Close()
				return err
			}
			vals := r.values()
			out = append(out, row{seq, rowDigest(vals, advDigest)})
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		for _, r := range out {
			if _, err := b.conn.ExecContext(ctx, `UPDATE affected SET digest = ? WHERE namespace = ? AND package = ? AND advisory = ? AND seq = ?`,
				r.d[:], p[0], p[1], rid, r.seq); err != nil {
				return err
			}
		}
	}
	return nil
}
