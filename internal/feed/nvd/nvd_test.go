package nvd

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"

	"github.com/stowaway-scanner/stowaway/internal/testutil"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func meta(b []byte) []byte {
	return fmt.Appendf(nil, "lastModifiedDate:2025-02-08T03:04:38-05:00\r\nsize:%d\r\nsha256:%X\r\n", len(b), sha256.Sum256(b))
}

// fixtureFS gzips testdata/json/*.json and writes a matching .meta for each.
func fixtureFS(t testing.TB) fstest.MapFS {
	t.Helper()
	files, _ := filepath.Glob("testdata/json/*.json")
	fsys := fstest.MapFS{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(p), ".json")
		fsys[base+".json.gz"] = &fstest.MapFile{Data: gz(t, b)}
		fsys[base+".meta"] = &fstest.MapFile{Data: meta(b)}
	}
	return fsys
}

type parsed struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parse(t testing.TB, fsys fs.FS) (parsed, error) {
	t.Helper()
	var out parsed
	st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		out.Advisories = append(out.Advisories, a)
		return nil
	})
	out.Stats = st
	return out, err
}

func TestParseGolden(t *testing.T) {
	got, err := parse(t, fixtureFS(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(got, "", "  ")
	b = append(b, '\n')
	const golden = "testdata/golden.json"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("golden (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	got, err := parse(t, fixtureFS(t))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Desc string
		CVSS     []advisory.CVSS
		Modified time.Time
		Rejected bool
	}
	var rows []row
	for _, a := range got.Advisories {
		if len(a.Affected) != 0 || a.Source != "nvd" {
			t.Errorf("%s: affected %v source %q", a.ID, a.Affected, a.Source)
		}
		rows = append(rows, row{a.ID, a.Description, a.CVSS, a.Modified, a.Rejected})
	}
	d := func(s string) time.Time { t, _ := time.Parse("2006-01-02T15:04Z07:00", s); return t }
	want := []row{
		{"CVE-2014-0160", "The TLS heartbeat bug.", []advisory.CVSS{
			{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5, Source: "nvd"},
			{Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:N/A:N", Score: 5.0, Source: "nvd"},
		}, d("2023-11-07T02:18Z"), false},
		// The modified feed's copy is newer: it replaces the yearly one.
		{"CVE-2014-9999", "New text.", nil, d("2025-02-20T00:00Z"), false},
		// The yearly copy is newer than the modified feed's.
		{"CVE-2014-7777", "", []advisory.CVSS{{Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:C/I:C/A:C", Score: 10, Source: "nvd"}}, d("2024-12-31T10:00Z"), false},
		// The CVE program's rejection notice marks the id rejected.
		{"CVE-2014-6666", "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER. ConsultIDs: CVE-2014-7777. Reason: This candidate is a duplicate of CVE-2014-7777. Notes: All CVE users should reference CVE-2014-7777 instead of this candidate.", nil, d("2014-06-02T00:00Z"), true},
		// Only in modified/recent: emitted at the end, newest copy.
		{"CVE-2025-0001", "Brand new.", []advisory.CVSS{{Version: "3.0", Vector: "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8, Source: "nvd"}}, d("2025-02-22T00:00Z"), false},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("advisories (-want +got):\n%s", diff)
	}
	var mal []string
	for _, m := range got.Stats.Malformed {
		mal = append(mal, m.File+"|"+m.ID+"|"+m.Err)
	}
	wantMal := []string{
		`nvdcve-1.1-2014.json.gz||decode: json: cannot unmarshal number into Go struct field .cve.CVE_data_meta.ID of type string`,
		`nvdcve-1.1-2014.json.gz|CVE-2014-8888|publishedDate: invalid date "yesterday"`,
	}
	if diff := cmp.Diff(wantMal, mal); diff != "" {
		t.Errorf("malformed (-want +got):\n%s", diff)
	}
	if got.Stats.Records != 5 || !got.Stats.Newest.Equal(d("2025-02-22T00:00Z")) {
		t.Errorf("stats %+v", got.Stats)
	}
}

func TestParseErrors(t *testing.T) {
	good := fixtureFS(t)
	badSum := fstest.MapFS{}
	for k, v := range good {
		badSum[k] = v
	}
	badSum["nvdcve-1.1-recent.meta"] = &fstest.MapFile{Data: []byte("sha256:00\n")}
	tests := []struct {
		name string
		fsys fs.FS
	}{
		{"no feeds", fstest.MapFS{"x.meta": {}}},
		{"sha256 mismatch", badSum},
		{"not gzip", fstest.MapFS{"nvdcve-1.1-2002.json.gz": {Data: []byte("{}")}}},
		{"not an object", fstest.MapFS{"nvdcve-1.1-2002.json.gz": {Data: gz(t, []byte(`[1]`))}}},
		{"no CVE_Items", fstest.MapFS{"nvdcve-1.1-2002.json.gz": {Data: gz(t, []byte(`{"a": 1}`))}}},
		{"truncated", fstest.MapFS{"nvdcve-1.1-2002.json.gz": {Data: gz(t, []byte(`{"CVE_Items": [{"cve": {}}, `))}}},
		{"meta without sha", fstest.MapFS{"nvdcve-1.1-2002.json.gz": {Data: gz(t, []byte(`{"CVE_Items": []}`))}, "nvdcve-1.1-2002.meta": {Data: []byte("size:1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parse(t, tt.fsys); err == nil {
				t.Error("want an error")
			}
		})
	}
	boom := errors.New("boom")
	if _, err := New().Parse(context.Background(), good, func(*advisory.Advisory) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failing emit: %v", err)
	}
}

func TestFetch(t *testing.T) {
	files := map[string]string{}
	for k, v := range fixtureFS(t) {
		files[k] = string(v.Data)
	}
	src := &feedtest.Source{Files: files}
	u := &Updater{now: func() time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) }}
	snap, err := u.Fetch(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var names []string
	for p := range snap.State {
		names = append(names, p)
	}
	sort.Strings(names)
	want := []string{
		"nvdcve-1.1-2014.json.gz", "nvdcve-1.1-2014.meta",
		"nvdcve-1.1-modified.json.gz", "nvdcve-1.1-modified.meta",
		"nvdcve-1.1-recent.json.gz", "nvdcve-1.1-recent.meta",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("fetched (-want +got):\n%s", diff)
	}
	if st, err := u.Parse(context.Background(), snap.FS, func(*advisory.Advisory) error { return nil }); err != nil || st.Records != 5 {
		t.Errorf("Parse of the snapshot: %+v, %v", st, err)
	}
	// Unchanged metas: no feed is downloaded.
	src.Gets = nil
	again, err := u.Fetch(context.Background(), src, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged {
		t.Error("second fetch not Unchanged")
	}
	for _, g := range src.Gets {
		if strings.HasSuffix(g, ".json.gz") {
			t.Errorf("unchanged fetch downloaded %s", g)
		}
	}
	if diff := cmp.Diff(snap.State, again.State); diff != "" {
		t.Errorf("unchanged state (-want +got):\n%s", diff)
	}
	// A new recent feed: everything is fetched again.
	src.Files["nvdcve-1.1-recent.meta"] = "sha256:ABC\n"
	third, err := u.Fetch(context.Background(), src, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if third.Unchanged || len(third.State) != 6 {
		t.Errorf("after a change: Unchanged=%v, %d files", third.Unchanged, len(third.State))
	}
	// No meta at all is an error.
	if _, err := u.Fetch(context.Background(), &feedtest.Source{Files: map[string]string{}}, nil); err == nil {
		t.Error("fetch without any .meta: want an error")
	}
}

func TestRealData(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "nvd", "feeds", "json", "cve", "1.1")
	fsys := os.DirFS(root)
	// Per-feed counts: SOURCES.md says 2002-2017 = 109,785 CVEs, modified
	// 2,146, recent 762.
	count := func(names ...string) (n int, mal int) {
		sub := fstest.MapFS{}
		for _, name := range names {
			for _, f := range []string{name + ".json.gz", name + ".meta"} {
				b, err := fs.ReadFile(fsys, f)
				if err != nil {
					t.Fatal(err)
				}
				sub[f] = &fstest.MapFile{Data: b}
			}
		}
		got, err := parse(t, sub)
		if err != nil {
			t.Fatal(err)
		}
		return got.Stats.Records, len(got.Stats.Malformed)
	}
	if n, _ := count("nvdcve-1.1-modified"); n != 2146 {
		t.Errorf("modified: %d CVEs, want 2,146", n)
	}
	if n, _ := count("nvdcve-1.1-recent"); n != 762 {
		t.Errorf("recent: %d CVEs, want 762", n)
	}
	start := time.Now()
	var spot *advisory.Advisory
	ids := map[string]bool{}
	rejected := map[string]bool{}
	st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		if ids[a.ID] {
			t.Errorf("%s emitted twice", a.ID)
		}
		ids[a.ID] = true
		if a.ID == "CVE-2014-0160" {
			spot = a
		}
		if a.Rejected {
			rejected[a.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	yearly := 0
	for id := range ids {
		if id < "CVE-2018" {
			yearly++
		}
	}
	// Every 2002-2017 CVE is emitted once; modified/recent add newer ones.
	if yearly != 109785 {
		t.Errorf("%d CVEs from 2002-2017, SOURCES.md says 109,785", yearly)
	}
	if spot == nil {
		t.Fatal("CVE-2014-0160 missing")
	}
	// The 2025 snapshot writes the rejection notice as "Rejected reason:
	// DO NOT USE THIS CANDIDATE NUMBER. ..." (7,272 CVEs counted from the
	// raw feeds); CVE-2014-9297 (ntp, reported on ubuntu-14.04 before) is one.
	if len(rejected) != 7272 || !rejected["CVE-2014-9297"] || rejected["CVE-2014-0160"] {
		t.Errorf("%d rejected CVEs (want 7,272), CVE-2014-9297 %v, CVE-2014-0160 %v", len(rejected), rejected["CVE-2014-9297"], rejected["CVE-2014-0160"])
	}
	var v2 *advisory.CVSS
	for i := range spot.CVSS {
		if spot.CVSS[i].Version == "2.0" {
			v2 = &spot.CVSS[i]
		}
	}
	if v2 == nil || v2.Score != 5.0 || v2.Vector != "AV:N/AC:L/Au:N/C:P/I:N/A:N" {
		t.Errorf("CVE-2014-0160 CVSS %+v, want v2 5.0 AV:N/AC:L/Au:N/C:P/I:N/A:N", spot.CVSS)
	}
	t.Logf("nvd: %d CVEs, %d malformed, newest %s, %s", st.Records, len(st.Malformed), st.Newest, time.Since(start).Round(time.Millisecond))
	for i, m := range st.Malformed {
		if i < 5 {
			t.Logf("malformed: %s %s: %s", m.File, m.ID, m.Err)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/json/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"nvdcve-1.1-2002.json.gz": {Data: gz(t, data)},
			"nvdcve-1.1-2002.meta":    {Data: meta(data)},
		}
		_, _ = New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
			if a.ID == "" || len(a.Affected) != 0 {
				t.Errorf("emitted %+v", a)
			}
			for _, c := range a.CVSS {
				if c.Score < 0 || c.Score > 10 {
					t.Errorf("score %v", c.Score)
				}
			}
			return nil
		})
	})
}

// FuzzDecode fuzzes the token walk and item conversion without gzip (the
// compressed path in FuzzParse runs only a few inputs per second).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/json/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Decode(context.Background(), bytes.NewReader(data), func(raw json.RawMessage) error {
			a, err := convert(raw)
			if err == nil && (a.ID == "" || len(a.Affected) != 0) {
				t.Errorf("converted %+v", a)
			}
			return nil
		})
	})
}
