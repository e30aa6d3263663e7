package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// parallelFixture is several sources of different sizes (one larger than
// a hand-over batch, one failing mid-parse, one with malformed records),
// so that a parallel build interleaves their parses.
func parallelFixture() []feed.Updater {
	return updaters(
		&fakeUpdater{name: "big", version: "1", gen: synthetic(4 * 3 * jobBatch)},
		&fakeUpdater{name: "small", version: "1", advs: []*advisory.Advisory{
			adv("CVE-2024-0001", "debian:12", "openssl", "3.0.1-1"),
			adv("CVE-2024-0002", "debian:12", "zlib", "1.3-1"),
			{ID: "CVE-2024-0003", Description: "enrichment only"},
			{ID: "", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "x", Status: advisory.StatusFixed}}},
		}, malformed: []feed.Malformed{{ID: "X-1", Err: "bad date"}}},
		&fakeUpdater{name: "broken", version: "1", parseErrAfter: 1, advs: []*advisory.Advisory{
			adv("CVE-2024-0004", "alpine:3.19", "musl", "1.2.4-r1"), adv("CVE-2024-0005", "alpine:3.19", "musl", "1.2.4-r2"),
		}},
		&fakeUpdater{name: "medium", version: "1", gen: synthetic(jobBatch + 7)},
	)
}

func adv(id, ns, pkg, fixed string) *advisory.Advisory {
	return &advisory.Advisory{ID: id, Aliases: []string{"GHSA-" + id}, Affected: []advisory.Affected{{
		Namespace: ns, Package: pkg, Kind: advisory.KindSource, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: fixed}}}},
	}}}
}

// dumpTables returns every row of the tables that hold records, ordered,
// and the sources without their times.
func dumpTables(t *testing.T, path string) map[string][][]any {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteURI(path, "mode=ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][][]any{}
	for table, q := range map[string]string{
		"advisories": `SELECT * FROM advisories ORDER BY rid`,
		"affected":   `SELECT * FROM affected ORDER BY namespace, package, advisory, seq`,
		"aliases":    `SELECT * FROM aliases ORDER BY alias, advisory`,
		"cvss":       `SELECT * FROM cvss ORDER BY id, source`,
		"rejected":   `SELECT * FROM rejected ORDER BY id, source`,
		"pairs":      `SELECT * FROM pairs ORDER BY namespace, package`,
		"sources":    `SELECT name, outcome, error, advisories, affected, enrichment, malformed, malformed_json, rejected, withdrawn FROM sources ORDER BY name`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// TestParallelBuildIdentical shows that parsing sources in parallel gives
// the same file content as parsing them one at a time.
func TestParallelBuildIdentical(t *testing.T) {
	ctx := context.Background()
	var dumps []map[string][][]any
	for _, par := range []int{1, 2, 4} {
		dir := t.TempDir()
		rep, err := Update(ctx, dir, parallelFixture(), noSource, UpdateOptions{Parallel: par})
		if err != nil {
			t.Fatalf("parallel %d: %v", par, err)
		}
		d := dumpTables(t, rep.Path)
		if len(d["affected"]) < 4*3*jobBatch || len(d["cvss"]) != 1 {
			t.Fatalf("parallel %d: fixture not loaded: %d affected, %d enrichment rows", par, len(d["affected"]), len(d["cvss"]))
		}
		dumps = append(dumps, d)
	}
	for i := 1; i < len(dumps); i++ {
		if diff := cmp.Diff(dumps[0], dumps[i]); diff != "" {
			t.Errorf("build %d differs from the sequential one (-seq +par):\n%s", i, diff)
		}
	}
}

// TestProgressReports checks the progress calls: one start and one done
// per source, in updater order, with the stored counts.
func TestProgressReports(t *testing.T) {
	ctx := context.Background()
	var got []string
	var last Progress
	opts := UpdateOptions{Progress: func(p Progress) {
		if p.Done {
			got = append(got, fmt.Sprintf("%d/%d %s done %s records=%d", p.Index, p.Total, p.Source, p.Report.Outcome, p.Records))
		} else if p.Records == 0 && (last.Source != p.Source || last.Done) {
			got = append(got, fmt.Sprintf("%d/%d %s start", p.Index, p.Total, p.Source))
		}
		last = p
	}}
	dir := t.TempDir()
	if _, err := Update(ctx, dir, parallelFixture(), noSource, opts); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0/4 big start", fmt.Sprintf("0/4 big done updated records=%d", 3*jobBatch),
		"1/4 small start", "1/4 small done updated records=4",
		"2/4 broken start", "2/4 broken done failed records=0", // its records are dropped with the parse
		"3/4 medium start", fmt.Sprintf("3/4 medium done updated records=%d", (jobBatch+7)/4),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	// The second run finds every source unchanged.
	got = nil
	if _, err := Update(ctx, dir, parallelFixture(), noSource, opts); err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || got[1] != "0/4 big done unchanged records=0" {
		t.Errorf("second run progress: %q", got)
	}
}

// TestCountingFS checks that the progress wrapper keeps what parsers use
// (directory reads, zip through io.ReaderAt) and counts the bytes read.
func TestCountingFS(t *testing.T) {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("a.json")
	io.WriteString(w, `{"id":"A"}`)
	zw.Close()
	var n atomic.Int64
	fsys := &countingFS{fsys: fstest.MapFS{"d/all.zip": {Data: zb.Bytes(), ModTime: time.Unix(1, 0)}, "d/x.txt": {Data: []byte("hello")}}, n: &n}
	ents, err := fs.ReadDir(fsys, "d")
	if err != nil || len(ents) != 2 {
		t.Fatalf("ReadDir: %v %v", ents, err)
	}
	f, err := fsys.Open("d/all.zip")
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		t.Fatal("zip file lost io.ReaderAt")
	}
	zr, err := zip.NewReader(ra, int64(zb.Len()))
	if err != nil || len(zr.File) != 1 {
		t.Fatalf("zip: %v", err)
	}
	if n.Load() == 0 {
		t.Error("ReadAt bytes not counted")
	}
	before := n.Load()
	if b, err := fs.ReadFile(fsys, "d/x.txt"); err != nil || string(b) != "hello" {
		t.Fatalf("ReadFile: %q %v", b, err)
	}
	if got := n.Load() - before; got != 5 {
		t.Errorf("counted %d bytes of a 5-byte file", got)
	}
	if _, ok := fs.File(&countingFile{}).(io.ReaderAt); ok {
		t.Error("a file without ReadAt must not claim it")
	}
}

// TestNoChangeUpdateClonesFile checks the no-change fast path: when every
// source is unchanged the new DB is a copy of the previous file, with the
// same records, pair hashes and an empty change set as a row-by-row copy.
func TestNoChangeUpdateClonesFile(t *testing.T) {
	ctx := context.Background()
	var dumps []map[string][][]any
	for _, noClone := range []bool{false, true} {
		dir := t.TempDir()
		if _, err := Update(ctx, dir, parallelFixture(), noSource, UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cloned := false
		rep, err := Update(ctx, dir, parallelFixture(), noSource, UpdateOptions{noClone: noClone, hook: func(s string) {
			cloned = cloned || s == "cloned"
		}})
		if err != nil {
			t.Fatal(err)
		}
		if cloned == noClone {
			t.Fatalf("noClone=%v: cloned=%v", noClone, cloned)
		}
		if rep.ChangedPairs != 0 {
			t.Errorf("noClone=%v: %d changed pairs, want 0", noClone, rep.ChangedPairs)
		}
		for _, s := range rep.Sources {
			if want := map[string]Outcome{"broken": Failed}[s.Name]; want == "" && s.Outcome != Unchanged || want != "" && s.Outcome != want {
				t.Errorf("noClone=%v: %s: %s", noClone, s.Name, s.Outcome)
			}
		}
		db, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := db.Changes(ctx)
		db.Close()
		if err != nil || !cs.Complete || len(cs.Pairs) != 0 {
			t.Errorf("noClone=%v: change set %+v, %v", noClone, cs, err)
		}
		dumps = append(dumps, dumpTables(t, rep.Path))
	}
	if diff := cmp.Diff(dumps[1], dumps[0]); diff != "" {
		t.Errorf("cloned DB differs from the row copy (-rows +clone):\n%s", diff)
	}
	// A changed source takes the row-copy path again.
	dir := t.TempDir()
	if _, err := Update(ctx, dir, parallelFixture(), noSource, UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	us := parallelFixture()
	us[1].(*fakeUpdater).version = "2"
	cloned := false
	if _, err := Update(ctx, dir, us, noSource, UpdateOptions{hook: func(s string) { cloned = cloned || s == "cloned" }}); err != nil {
		t.Fatal(err)
	}
	if cloned {
		t.Error("an update with a changed source cloned the previous file")
	}
}
