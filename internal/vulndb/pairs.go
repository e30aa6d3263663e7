package vulndb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// pairDigests collects, per (namespace, package), the digests of the pair's
// affected rows while the build stores or copies them, so that the pairs
// table is written from memory at the end instead of by reading the whole
// affected table back (which cost as much as a fifth of a full build).
//
// A pair's hash is over its sorted row digests (pairHash), so it does not
// depend on insertion order or rowids, and is the same as hashing the
// finished table. The memory is 16 bytes per row plus about 100 per pair
// (2.25M rows and 109k pairs in the full feeds: about 50 MiB at the end of
// the build, when the parsers are done).
//
// Rows are added source by source; begin marks the start of a source so
// that rollback can drop its digests when its parse fails.
type pairDigests struct {
	index   map[Pair]int32
	accs    []pairAcc
	gen     int
	touched []int32
}

type pairAcc struct {
	key  Pair
	digs [][16]byte
	// gen is the source that last touched the pair; mark the length of
	// digs before it did.
	gen, mark int
}

// begin starts a new source.
func (pd *pairDigests) begin() {
	pd.gen++
	pd.touched = pd.touched[:0]
}

// acc returns the pair's accumulator, creating it.
func (pd *pairDigests) acc(ns, pkg string) *pairAcc {
	if pd.index == nil {
		pd.index = map[Pair]int32{}
	}
	i, ok := pd.index[Pair{ns, pkg}]
	if !ok {
		// The key outlives the record: copy it, so it does not keep a
		// parser's buffer alive.
		k := Pair{strings.Clone(ns), strings.Clone(pkg)}
		i = int32(len(pd.accs))
		pd.index[k] = i
		pd.accs = append(pd.accs, pairAcc{key: k})
	}
	return &pd.accs[i]
}

// add records one row of the pair.
func (pd *pairDigests) add(ns, pkg string, d [16]byte) {
	a := pd.acc(ns, pkg)
	if a.gen != pd.gen {
		a.gen, a.mark = pd.gen, len(a.digs)
		pd.touched = append(pd.touched, pd.index[a.key])
	}
	a.digs = append(a.digs, d)
}

// rollback drops the rows added since begin (a pair left without rows is
// not written).
func (pd *pairDigests) rollback() {
	for _, i := range pd.touched {
		a := &pd.accs[i]
		if a.gen == pd.gen {
			clear(a.digs[a.mark:])
			a.digs = a.digs[:a.mark]
		}
	}
	pd.touched = pd.touched[:0]
}

// reset drops the rows of one pair.
func (pd *pairDigests) reset(p Pair) {
	if i, ok := pd.index[p]; ok {
		pd.accs[i].digs = nil
	}
}

// rowDigest is an affected row's digest in its pair's hash: its affected
// columns (affCols, as encodeAffected returns them) and its advisory's
// digest.
func rowDigest(vals []any, advDigest []byte) [16]byte {
	var d [16]byte
	copy(d[:], digest(append(vals[:len(vals):len(vals)], advDigest)...))
	return d
}

// pairHash hashes a pair's row digests, which it sorts; it is
// digest(digs...) of the sorted digests.
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

// writePairs writes the pairs table from the collected row digests, in key
// order, and releases them.
func (b *builder) writePairs(ctx context.Context) error {
	accs := b.pairs.accs
	b.pairs = pairDigests{}
	slices.SortFunc(accs, func(x, y pairAcc) int {
		if c := strings.Compare(x.key.Namespace, y.key.Namespace); c != 0 {
			return c
		}
		return strings.Compare(x.key.Package, y.key.Package)
	})
	ins, err := newBatchInsert(ctx, b.conn, "pairs", `INSERT INTO pairs(namespace, package, records, hash) VALUES`, 4, 256, "")
	if err != nil {
		return fmt.Errorf("vulndb: build: pairs: %w", err)
	}
	defer ins.close()
	for i := range accs {
		a := &accs[i]
		if len(a.digs) == 0 {
			continue // its rows were dropped (a failed parse, rejections)
		}
		if err := ins.add(ctx, a.key.Namespace, a.key.Package, int64(len(a.digs)), pairHash(a.digs)); err != nil {
			return fmt.Errorf("vulndb: build: pairs: %w", err)
		}
		a.digs = nil
	}
	if err := ins.flush(ctx, b.conn); err != nil {
		return fmt.Errorf("vulndb: build: pairs: %w", err)
	}
	return nil
}

// addPairRows adds the row digests of the rows q returns: namespace,
// package, the affected columns (affCols) and the advisory's digest.
func (b *builder) addPairRows(ctx context.Context, q string, args ...any) error {
	rows, err := b.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ns, pkg string
	raw := make([]sql.RawBytes, 10) // affCols, then the advisory digest
	dest := []any{&ns, &pkg}
	for i := range raw {
		dest = append(dest, &raw[i])
	}
	vals := make([]any, 9)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i := range vals {
			vals[i] = []byte(raw[i])
		}
		b.pairs.add(ns, pkg, rowDigest(vals, raw[9]))
	}
	return rows.Err()
}

// refreshPairs recomputes the row digests of the given pairs from the
// affected table (after applyRejections changed some of their rows).
func (b *builder) refreshPairs(ctx context.Context, pairs []Pair) error {
	for _, p := range pairs {
		b.pairs.reset(p)
		if err := b.addPairRows(ctx, `SELECT f.namespace, f.package, `+qualify("f", affCols)+`, a.digest
			FROM affected f JOIN advisories a ON a.rid = f.advisory
			WHERE f.namespace = ? AND f.package = ?`, p.Namespace, p.Package); err != nil {
			return err
		}
	}
	return nil
}
