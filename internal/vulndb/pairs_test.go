package vulndb

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

type pairRow struct {
	Records int
	Hash    string
}

// pairsFromTables recomputes the pairs table from the finished affected
// and advisories tables, the way the builder used to (reading every row
// back): the oracle for the hashes the builder collects while storing.
func pairsFromTables(t *testing.T, d *DB) map[Pair]pairRow {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), `SELECT f.namespace, f.package, `+qualify("f", affCols)+`, a.digest
		FROM affected f JOIN advisories a ON a.rid = f.advisory ORDER BY f.namespace, f.package`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	digs := map[Pair][][]byte{}
	for rows.Next() {
		var r affRow
		var adv []byte
		if err := rows.Scan(append(r.dest(), &adv)...); err != nil {
			t.Fatal(err)
		}
		p := Pair{r.namespace, r.pkg}
		vals := []any{r.kind, r.module, r.status, r.severity, r.vendorAdvisory, r.ranges, r.versions, r.arches, r.fixChannel}
		if r.goImports != "" {
			vals = append(vals, r.goImports)
		}
		digs[p] = append(digs[p], digest(append(vals, adv)...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[Pair]pairRow{}
	for p, ds := range digs {
		slices.SortFunc(ds, bytes.Compare)
		vals := make([]any, len(ds))
		for i, d := range ds {
			vals[i] = d
		}
		out[p] = pairRow{len(ds), hex.EncodeToString(digest(vals...))}
	}
	return out
}

func storedPairs(t *testing.T, d *DB) map[Pair]pairRow {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), `SELECT namespace, package, records, hash FROM pairs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[Pair]pairRow{}
	for rows.Next() {
		var p Pair
		var r pairRow
		var h []byte
		if err := rows.Scan(&p.Namespace, &p.Package, &r.Records, &h); err != nil {
			t.Fatal(err)
		}
		r.Hash = hex.EncodeToString(h)
		out[p] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPairHashesMatchTables: the pair hashes the builder collects while it
// stores, copies forward, rolls back a failed parse and applies rejections
// are the hashes of the finished tables.
func TestPairHashesMatchTables(t *testing.T) {
	dir := t.TempDir()
	synth := &fakeUpdater{name: "synthetic", version: "1", gen: synthetic(4_000)}
	failing := func(version string) *fakeUpdater {
		u := extraSource(version)
		u.parseErrAfter = 3
		return u
	}
	// broken fails mid-parse with no previous records (Failed), after more
	// than a hand-over batch (jobBatch) of records reached the writer.
	broken := &fakeUpdater{name: "broken", version: "1", parseErrAfter: 2 * jobBatch}
	for i := range 3 * jobBatch {
		broken.advs = append(broken.advs, osAdv(fmt.Sprintf("DSA-%d-1", 9000+i), "debian:12", fmt.Sprintf("pkg%d", i%50), "1.0"))
	}
	fresh := &fakeUpdater{name: "fresh", version: "1", advs: []*advisory.Advisory{osAdv("ALSA-1", "alpine:3.20", "pkg7", "1.1-r0")}}
	steps := []struct {
		name string
		us   []*fakeUpdater
		want []Outcome
	}{
		{"from scratch", []*fakeUpdater{synth, extraSource("1")}, []Outcome{Updated, Updated}},
		{"one copied forward", []*fakeUpdater{synth, extraSource("2")}, []Outcome{Unchanged, Updated}},
		// (with a source that updates, so the file is not a copy of the
		// previous one)
		{"failed parses", []*fakeUpdater{synth, failing("3"), broken, fresh}, []Outcome{Unchanged, Kept, Failed, Updated}},
		{"nothing changed (file copy)", []*fakeUpdater{synth, extraSource("2"), fresh}, []Outcome{Unchanged, Unchanged, Unchanged}},
	}
	for _, st := range steps {
		rep := mustUpdate(t, dir, st.us...)
		var got []Outcome
		for _, s := range rep.Sources {
			got = append(got, s.Outcome)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("%s: outcomes (-want +got):\n%s", st.name, diff)
		}
		d := mustOpen(t, dir)
		want := pairsFromTables(t, d)
		if len(want) == 0 {
			t.Fatalf("%s: no pairs", st.name)
		}
		if diff := cmp.Diff(want, storedPairs(t, d)); diff != "" {
			t.Errorf("%s: pairs table differs from the tables' hashes (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestRowDigestIsDigest: rowDigest, which hashes without building a new
// []any, is digest of the row's values and its advisory's digest (go_imports
// left out when empty), as stored digests were computed.
func TestRowDigestIsDigest(t *testing.T) {
	long := strings.Repeat("x", 2000) // past the stack buffer
	for _, tc := range []struct {
		name string
		vals []any
		adv  []byte
	}{
		{"empty go_imports dropped", []any{"debian:12", "openssl", int64(7), "source", "", "fixed", "HIGH", "", `[{"events":[]}]`, "", "", "", ""}, []byte{1, 2, 3}},
		{"go_imports kept", []any{"osv:Go", "example.com/m", int64(1), "", "", "affected", "", "", "", "", "", "", `[{"path":"p"}]`}, []byte{9}},
		{"nil advisory digest", []any{"a", "b"}, nil},
		{"long value", []any{long, []byte(long), int64(-1)}, []byte(long)},
		{"no values", nil, []byte{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := tc.vals
			if n := len(vals); n > 0 && vals[n-1] == "" {
				vals = vals[:n-1]
			}
			want := digest(append(slices.Clone(vals), tc.adv)...)
			got := rowDigest(tc.vals, tc.adv)
			if !bytes.Equal(got[:], want) {
				t.Errorf("rowDigest = %x, digest = %x", got, want)
			}
		})
	}
}
