package vulndb

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestSortedInsert: a sorted batchInsert stores every row, in any arrival
// order and across full statements, sort runs and flushes, and writes each
// statement's rows in key order (ties in arrival order).
func TestSortedInsert(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", sqliteURI(filepath.Join(t.TempDir(), "t.sqlite"), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// rowid records the order rows reached SQLite.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t(ns TEXT NOT NULL, n INTEGER NOT NULL, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                    string
		rows, perStmt, sortRows int
	}{
		{"one partial statement", 5, 4, 8},
		{"full statements and a rest", 37, 4, 16},
		{"exact runs", 32, 4, 16},
		{"one row", 1, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := conn.ExecContext(ctx, `DELETE FROM t`); err != nil {
				t.Fatal(err)
			}
			bi, err := newSortedInsert(ctx, conn, "t", `INSERT INTO t(ns, n, v) VALUES`, 3, tc.perStmt, 2, tc.sortRows)
			if err != nil {
				t.Fatal(err)
			}
			defer bi.close()
			type row struct {
				NS string
				N  int64
				V  string
			}
			var want []row
			for i := range tc.rows {
				// Keys arrive out of order, with repeats (ties keep arrival order).
				r := row{NS: fmt.Sprintf("ns%d", (i*7)%3), N: int64((i * 5) % 4), V: fmt.Sprintf("v%02d", i)}
				want = append(want, r)
				if err := bi.add(ctx, r.NS, r.N, r.V); err != nil {
					t.Fatal(err)
				}
			}
			if err := bi.flush(ctx); err != nil {
				t.Fatal(err)
			}
			// Within each sort run (sortRows rows, the last one shorter),
			// the rows were written in key order.
			for start := 0; start < len(want); start += tc.sortRows {
				run := want[start:min(start+tc.sortRows, len(want))]
				sortRowsStable(run, func(a, b row) int {
					if c := strings.Compare(a.NS, b.NS); c != 0 {
						return c
					}
					return cmp.Compare(a.N, b.N)
				})
			}
			rs, err := conn.QueryContext(ctx, `SELECT ns, n, v FROM t ORDER BY rowid`)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var got []row
			for rs.Next() {
				var r row
				if err := rs.Scan(&r.NS, &r.N, &r.V); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			if d := gocmp.Diff(want, got); d != "" {
				t.Errorf("rows in write order (-want +got):\n%s", d)
			}
		})
	}
	if _, err := newSortedInsert(ctx, conn, "t", `INSERT INTO t(ns, n, v) VALUES`, 3, 4, 4, 8); err == nil {
		t.Error("a key of more columns than the row has was accepted")
	}
	if _, err := newSortedInsert(ctx, conn, "t", `INSERT INTO t(ns, n, v) VALUES`, 3, 4, 1, 2); err == nil {
		t.Error("sort runs shorter than a statement were accepted")
	}
}

func sortRowsStable[T any](s []T, cmp func(a, b T) int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && cmp(s[j-1], s[j]) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// TestEncodedValues: the sorted insert's row encoding gives back what it
// was given, orders keys as SQLite's BINARY collation and integer order
// do, and refuses types it cannot hold.
func TestEncodedValues(t *testing.T) {
	row := []any{"ubuntu:22.04", "", int64(-3), int64(1 << 40), []byte{1, 2}, []byte{}, []byte(nil), strings.Repeat("x", 300)}
	arena, err := appendEncoded([]byte("junk"), row)
	if err != nil {
		t.Fatal(err)
	}
	got := appendDecoded(nil, arena[len("junk"):], len(row))
	if d := gocmp.Diff(row, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if b, ok := got[6].([]byte); !ok || b != nil {
		t.Errorf("a nil []byte came back as %#v (NULL must stay NULL)", got[6])
	}
	if b, ok := got[5].([]byte); !ok || b == nil {
		t.Errorf("an empty []byte came back as %#v (an empty blob is not NULL)", got[5])
	}
	for _, tc := range []struct {
		a, b any
		want int
	}{
		{"a", "b", -1}, {"b", "a", 1}, {"a", "a", 0}, {"a", "ab", -1}, {"", "a", -1},
		{"Z", "a", -1}, // bytewise, as SQLite's BINARY collation
		{"é", "z", 1},
		{int64(2), int64(10), -1}, {int64(10), int64(2), 1}, {int64(3), int64(3), 0}, {int64(-1), int64(0), -1},
	} {
		ea, err := appendEncoded(nil, []any{tc.a, "rest"})
		if err != nil {
			t.Fatal(err)
		}
		eb, err := appendEncoded(nil, []any{tc.b, "rest"})
		if err != nil {
			t.Fatal(err)
		}
		c, ra, rb := cmpEncoded(ea, eb)
		if c != tc.want {
			t.Errorf("cmpEncoded(%v, %v) = %d, want %d", tc.a, tc.b, c, tc.want)
		}
		if c, _, _ := cmpEncoded(ra, rb); c != 0 {
			t.Errorf("cmpEncoded(%v, %v) did not return the rests", tc.a, tc.b)
		}
	}
	if _, err := appendEncoded(nil, []any{"a", 1.5}); err == nil || !strings.Contains(err.Error(), "column 2: a float64") {
		t.Errorf("a float64 column: err = %v", err)
	}
}

// TestExploitRepeatsAcrossStatements: the exploit-context rows go in
// multi-row statements; a CVE repeated within one statement, across two,
// and next to records malformed for other reasons is reported in the
// order of the records, and the first entry of each is the one stored.
func TestExploitRepeatsAcrossStatements(t *testing.T) {
	dir := t.TempDir()
	n := 2*rowsPerInsert + 10
	var advs []*advisory.Advisory
	var wantErrs []string
	for i := range n {
		advs = append(advs, epssAdv(fmt.Sprintf("CVE-2024-%05d", i), 0.001*float64(i%1000), 0.5))
		switch i {
		case 3, rowsPerInsert + 5, 2*rowsPerInsert + 9:
			// A repeat of record 1 (an earlier statement, or the same one)
			advs = append(advs, epssAdv("CVE-2024-00001", 0.9, 0.9))
			wantErrs = append(wantErrs, "CVE-2024-00001: vulndb: epss: listed more than once (the first entry is kept)")
		case 7, rowsPerInsert + 6:
			advs = append(advs, epssAdv(fmt.Sprintf("CVE-2024-9%04d", i), 2, 0.5))
			wantErrs = append(wantErrs, fmt.Sprintf("CVE-2024-9%04d: vulndb: epss score 2 is not in 0..1", i))
		case rowsPerInsert - 1:
			// The record itself, then its repeat in the next statement.
			advs = append(advs, epssAdv(fmt.Sprintf("CVE-2024-%05d", i), 0.7, 0.7))
			wantErrs = append(wantErrs, fmt.Sprintf("CVE-2024-%05d: vulndb: epss: listed more than once (the first entry is kept)", i))
		}
	}
	rep := mustUpdate(t, dir, &fakeUpdater{name: "epss", version: "1", advs: advs})
	var errs []string
	for _, m := range rep.Sources[0].Malformed {
		errs = append(errs, m.ID+": "+m.Err)
	}
	if d := gocmp.Diff(wantErrs, errs); d != "" {
		t.Errorf("malformed (-want +got):\n%s", d)
	}
	if got := rep.Sources[0].Enrichment; got != n {
		t.Errorf("enrichment = %d, want %d", got, n)
	}
	db := mustOpen(t, dir)
	for _, id := range []string{"CVE-2024-00001", fmt.Sprintf("CVE-2024-%05d", rowsPerInsert-1)} {
		x := exploitOf(t, db, id)
		if x.EPSS == nil || x.EPSS.Percentile != 0.5 {
			t.Errorf("%s: %+v, want the first entry (percentile 0.5)", id, x.EPSS)
		}
	}
}

// TestSortedInsertBytesBound: a sorted insert writes its rows once they
// hold maxSortBytes, however few they are.
func TestSortedInsertBytesBound(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", sqliteURI(filepath.Join(t.TempDir(), "t.sqlite"), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t(k TEXT NOT NULL, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	bi, err := newSortedInsert(ctx, conn, "t", `INSERT INTO t(k, v) VALUES`, 2, 4, 1, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer bi.close()
	big := strings.Repeat("v", 1<<20)
	rows := maxSortBytes / len(big) // each row is a little over 1 MiB
	for i := range rows {
		if err := bi.add(ctx, fmt.Sprintf("k%03d", rows-i), big); err != nil {
			t.Fatal(err)
		}
	}
	if bi.buffered != 0 || len(bi.arena) != 0 {
		t.Errorf("after %d rows of 1 MiB: %d rows (%d bytes) still buffered", rows, bi.buffered, len(bi.arena))
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE v = ?`, big).Scan(&n); err != nil || n != rows {
		t.Errorf("stored %d rows (%v), want %d", n, err, rows)
	}
}
