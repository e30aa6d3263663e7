package vulndb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
type batchInsert struct {
	table    string // for errors
	head     string // INSERT ... VALUES
	row      string // (?,?,...)
	tail     string // ON CONFLICT ... (may be "")
	cols     int
	perStmt  int
	full     *sql.Stmt
	args     []any
	buffered int
}

// newBatchInsert prepares the full-batch statement of head (up to and
// including VALUES), cols placeholders per row, and tail.
func newBatchInsert(ctx context.Context, conn *sql.Conn, table, head string, cols, perStmt int, tail string) (*batchInsert, error) {
	if cols <= 0 || perStmt <= 0 || cols*perStmt > maxVariables {
		return nil, fmt.Errorf("insert %s: %d rows of %d columns per statement", table, perStmt, cols)
	}
	bi := &batchInsert{table: table, head: head, tail: tail, cols: cols, perStmt: perStmt,
		row: "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"}
	full, err := conn.PrepareContext(ctx, bi.query(perStmt))
	if err != nil {
		return nil, fmt.Errorf("insert %s: prepare: %w", table, err)
	}
	bi.full = full
	bi.args = make([]any, 0, cols*perStmt)
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
	bi.args = append(bi.args, vals...)
	bi.buffered++
	if bi.buffered < bi.perStmt {
		return nil
	}
	if _, err := bi.full.ExecContext(ctx, bi.args...); err != nil {
		return fmt.Errorf("insert %d %s rows: %w", bi.buffered, bi.table, err)
	}
	bi.reset()
	return nil
}

// flush writes the buffered rows, if any, through conn.
func (bi *batchInsert) flush(ctx context.Context, conn *sql.Conn) error {
	if bi == nil || bi.buffered == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, bi.query(bi.buffered), bi.args...); err != nil {
		return fmt.Errorf("insert %d %s rows: %w", bi.buffered, bi.table, err)
	}
	bi.reset()
	return nil
}

// reset drops the buffered rows (after a write, or when the build is
// abandoned). The slots are cleared so the buffer holds no record alive.
func (bi *batchInsert) reset() {
	clear(bi.args)
	bi.args = bi.args[:0]
	bi.buffered = 0
}

func (bi *batchInsert) close() error {
	if bi == nil || bi.full == nil {
		return nil
	}
	err := bi.full.Close()
	bi.full = nil
	return err
}
