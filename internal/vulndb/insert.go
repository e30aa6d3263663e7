package vulndb

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// maxVariables is SQLite's limit on the parameters of one statement
// (SQLITE_MAX_VARIABLE_NUMBER's default since 3.32).
const maxVariables = 32766

// batchInsert buffers the rows of one INSERT and writes them perStmt at a
// time through one multi-row statement (INSERT ... VALUES (...), (...), ...):
// each Exec costs the driver a bind loop, a context watch and a VDBE run
// whatever its row count, so a statement of n rows spends that once instead of n
// times. Rows still in the buffer are written by flush, which the builder
// calls before anything reads the tables (commit, a query, finish).
//
// A sorted batchInsert (newSortedInsert) buffers up to sortRows rows (and
// maxSortBytes of them) and
// writes them in the order of their first keyCols columns (the table's
// primary key): SQLite inserts keys in ascending order into a B-tree much
// more cheaply than keys spread over the whole tree, which is what one
// record's rows are (each names other namespaces and packages).
type batchInsert struct {
	table    string // for errors
	head     string // INSERT ... VALUES
	row      string // (?,?,...)
	tail     string // ON CONFLICT ... (may be "")
	cols     int
	perStmt  int
	full     fullStmt // the perStmt-row statement, prepared on conn's driver connection
	conn     *sql.Conn
	args     []any
	named    []driver.NamedValue // exec's arguments, reused
	buffered int

	// Sorted mode (keyCols > 0): up to sortRows rows encoded in arena
	// (rowOff: where each starts), written through stmtArgs in key order.
	keyCols  int
	sortRows int
	arena    []byte
	rowOff   []int32
	stmtArgs []any
}

// newBatchInsert prepares the full-batch statement of head (up to and
// including VALUES), cols placeholders per row, and tail.
func newBatchInsert(ctx context.Context, conn *sql.Conn, table, head string, cols, perStmt int, tail string) (*batchInsert, error) {
	if cols <= 0 || perStmt <= 0 || cols*perStmt > maxVariables {
		return nil, fmt.Errorf("insert %s: %d rows of %d columns per statement", table, perStmt, cols)
	}
	bi := &batchInsert{table: table, head: head, tail: tail, cols: cols, perStmt: perStmt,
		row: "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"}
	err := conn.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare statements", dc)
		}
		st, err := p.PrepareContext(ctx, bi.query(perStmt))
		if err != nil {
			return err
		}
		full, ok := st.(fullStmt)
		if !ok {
			st.Close()
			return fmt.Errorf("driver statement %T cannot execute with a context", st)
		}
		bi.full = full
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert %s: prepare: %w", table, err)
	}
	bi.conn = conn
	bi.args = make([]any, 0, cols*perStmt)
	bi.named = make([]driver.NamedValue, 0, cols*perStmt)
	return bi, nil
}

// fullStmt is what a batch's prepared statement must do: the driver's own
// statement, not database/sql's, whose every Exec copies its arguments into
// a new []driver.NamedValue (about 1 GB of garbage in a build from the
// shared feeds, a tenth of all it allocates).
type fullStmt interface {
	driver.StmtExecContext
	Close() error
}

// exec runs one statement through conn's driver connection: the prepared
// full-batch one when query is "", else query. Its arguments are checked as
// database/sql checks them (a driver.Value as is, anything else through
// driver.DefaultParameterConverter).
func (bi *batchInsert) exec(ctx context.Context, query string, args []any) error {
	bi.named = bi.named[:0]
	for i, v := range args {
		if !driver.IsValue(v) {
			cv, err := driver.DefaultParameterConverter.ConvertValue(v)
			if err != nil {
				return fmt.Errorf("value %d: %w", i+1, err)
			}
			v = cv
		}
		bi.named = append(bi.named, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	err := bi.conn.Raw(func(dc any) error {
		if query == "" {
			_, err := bi.full.ExecContext(ctx, bi.named)
			return err
		}
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot execute statements", dc)
		}
		_, err := ex.ExecContext(ctx, query, bi.named)
		return err
	})
	// Drop the values (strings into the arena, records' fields) at once.
	clear(bi.named)
	return err
}

// maxSortBytes bounds a sorted insert's arena: rows of huge version
// lists are written sooner rather than held (the shared feeds' rows
// average about 130 bytes, so a run of 50,000 holds about 6 MiB).
const maxSortBytes = 16 << 20

// newSortedInsert is newBatchInsert for rows written in the order of
// their first keyCols columns (strings or int64s), sortRows at a time
// (and whatever is buffered at a flush). Rows with equal keys keep their
// order. Only for statements whose result does not depend on the order of
// rows with different keys (plain inserts, INSERT OR IGNORE).
func newSortedInsert(ctx context.Context, conn *sql.Conn, table, head string, cols, perStmt, keyCols, sortRows int) (*batchInsert, error) {
	if keyCols <= 0 || keyCols > cols || sortRows < perStmt {
		return nil, fmt.Errorf("insert %s: sorted by %d of %d columns, %d rows at a time", table, keyCols, cols, sortRows)
	}
	bi, err := newBatchInsert(ctx, conn, table, head, cols, perStmt, "")
	if err != nil {
		return nil, err
	}
	bi.keyCols, bi.sortRows = keyCols, sortRows
	bi.args = nil
	bi.stmtArgs = make([]any, 0, cols*perStmt)
	return bi, nil
}

func (bi *batchInsert) query(rows int) string {
	var b strings.Builder
	b.Grow(len(bi.head) + rows*(len(bi.row)+1) + len(bi.tail) + 2)
	b.WriteString(bi.head)
	b.WriteByte(' ')
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(bi.row)
	}
	if bi.tail != "" {
		b.WriteByte(' ')
		b.WriteString(bi.tail)
	}
	return b.String()
}

// add buffers one row (exactly cols values) and writes a full batch.
func (bi *batchInsert) add(ctx context.Context, vals ...any) error {
	if len(vals) != bi.cols {
		return fmt.Errorf("insert %s: %d values for %d columns", bi.table, len(vals), bi.cols)
	}
	if bi.keyCols > 0 {
		if len(bi.arena) > math.MaxInt32 {
			return fmt.Errorf("insert %s: %d bytes buffered", bi.table, len(bi.arena))
		}
		off := int32(len(bi.arena))
		arena, err := appendEncoded(bi.arena, vals)
		if err != nil {
			bi.arena = bi.arena[:off]
			return fmt.Errorf("insert %s: %w", bi.table, err)
		}
		bi.arena = arena
		bi.rowOff = append(bi.rowOff, off)
		bi.buffered++
		if bi.buffered < bi.sortRows && len(bi.arena) < maxSortBytes {
			return nil
		}
		return bi.writeSorted(ctx)
	}
	bi.args = append(bi.args, vals...)
	bi.buffered++
	if bi.buffered < bi.perStmt {
		return nil
	}
	if err := bi.exec(ctx, "", bi.args); err != nil {
		return fmt.Errorf("insert %d %s rows: %w", bi.buffered, bi.table, err)
	}
	bi.reset()
	return nil
}

// flush writes the buffered rows, if any.
func (bi *batchInsert) flush(ctx context.Context) error {
	if bi == nil || bi.buffered == 0 {
		return nil
	}
	if bi.keyCols > 0 {
		return bi.writeSorted(ctx)
	}
	if err := bi.exec(ctx, bi.query(bi.buffered), bi.args); err != nil {
		return fmt.Errorf("insert %d %s rows: %w", bi.buffered, bi.table, err)
	}
	bi.reset()
	return nil
}

// writeSorted writes the buffered rows in key order: full statements of
// perStmt rows, then one statement for the rest.
func (bi *batchInsert) writeSorted(ctx context.Context) error {
	slices.SortStableFunc(bi.rowOff, func(x, y int32) int {
		a, b := bi.arena[x:], bi.arena[y:]
		for range bi.keyCols {
			var c int
			if c, a, b = cmpEncoded(a, b); c != 0 {
				return c
			}
		}
		return 0
	})
	n := len(bi.rowOff)
	for start := 0; start < n; start += bi.perStmt {
		end := min(start+bi.perStmt, n)
		bi.stmtArgs = bi.stmtArgs[:0]
		for _, off := range bi.rowOff[start:end] {
			bi.stmtArgs = appendDecoded(bi.stmtArgs, bi.arena[off:], bi.cols)
		}
		query := ""
		if end-start != bi.perStmt {
			query = bi.query(end - start)
		}
		err := bi.exec(ctx, query, bi.stmtArgs)
		// The decoded strings point into the arena: drop them before it is
		// reused (the driver copied them into SQLite's memory).
		clear(bi.stmtArgs)
		if err != nil {
			return fmt.Errorf("insert %d %s rows: %w", end-start, bi.table, err)
		}
	}
	bi.reset()
	return nil
}

// A sorted batchInsert keeps its rows encoded in one byte arena, which
// holds no pointers: tens of thousands of buffered rows as []any values
// (and the records they point into, kept alive) were scanned by every
// garbage collection of the build, which cost more than the sorted
// inserts saved. Each value is a tag byte, then for a string or a []byte
// its length (uvarint) and bytes, for an int64 8 bytes (big-endian), and
// nothing for a nil []byte.
const (
	tagString = 's'
	tagBytes  = 'b'
	tagNil    = 'n'
	tagInt    = 'i'
)

// appendEncoded encodes one row; it fails on a value of another type.
func appendEncoded(arena []byte, vals []any) ([]byte, error) {
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			arena = append(binary.AppendUvarint(append(arena, tagString), uint64(len(v))), v...)
		case []byte:
			if v == nil {
				arena = append(arena, tagNil)
				continue
			}
			arena = append(binary.AppendUvarint(append(arena, tagBytes), uint64(len(v))), v...)
		case int64:
			arena = binary.BigEndian.AppendUint64(append(arena, tagInt), uint64(v))
		default:
			return arena, fmt.Errorf("column %d: a %T cannot be buffered for a sorted insert", i+1, v)
		}
	}
	return arena, nil
}

// nextEncoded splits the first encoded value off b: its tag, its payload
// (the bytes, or the 8 bytes of an int64) and the rest. The arena is
// written by appendEncoded only, so it is well formed.
func nextEncoded(b []byte) (tag byte, payload, rest []byte) {
	tag, b = b[0], b[1:]
	switch tag {
	case tagNil:
		return tag, nil, b
	case tagInt:
		return tag, b[:8], b[8:]
	}
	n, k := binary.Uvarint(b)
	b = b[k:]
	return tag, b[:n:n], b[n:]
}

// cmpEncoded compares the first encoded values of a and b (strings
// bytewise, as SQLite's BINARY collation does; int64s numerically; values
// of different types by tag) and returns the rests.
func cmpEncoded(a, b []byte) (int, []byte, []byte) {
	ta, pa, a := nextEncoded(a)
	tb, pb, b := nextEncoded(b)
	switch {
	case ta != tb:
		return cmp.Compare(ta, tb), a, b
	case ta == tagInt:
		return cmp.Compare(int64(binary.BigEndian.Uint64(pa)), int64(binary.BigEndian.Uint64(pb))), a, b
	}
	return bytes.Compare(pa, pb), a, b
}

// appendDecoded appends the cols values encoded at the start of b. Strings
// share b's memory (unsafe.String): they are valid until the arena is
// reset, and writeSorted clears them before.
func appendDecoded(out []any, b []byte, cols int) []any {
	for range cols {
		var tag byte
		var p []byte
		tag, p, b = nextEncoded(b)
		switch tag {
		case tagString:
			if len(p) == 0 {
				out = append(out, "")
			} else {
				out = append(out, unsafe.String(&p[0], len(p)))
			}
		case tagBytes:
			out = append(out, p)
		case tagNil:
			out = append(out, []byte(nil))
		case tagInt:
			out = append(out, int64(binary.BigEndian.Uint64(p)))
		}
	}
	return out
}

// reset drops the buffered rows (after a write, or when the build is
// abandoned). The slots are cleared so the buffer holds no record alive.
func (bi *batchInsert) reset() {
	clear(bi.args)
	bi.args = bi.args[:0]
	bi.arena, bi.rowOff = bi.arena[:0], bi.rowOff[:0]
	bi.buffered = 0
}

func (bi *batchInsert) close() error {
	if bi == nil || bi.full == nil {
		return nil
	}
	// The statement belongs to the driver connection: closed through it.
	err := bi.conn.Raw(func(any) error { return bi.full.Close() })
	bi.full = nil
	return err
}
