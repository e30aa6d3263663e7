package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// zipOf builds an osv.dev-style zip of the JSON files in dir.
func zipOf(t testing.TB, dir string) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	sort.Strings(files)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type parsed struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parse(t testing.TB, u *Updater, fsys fs.FS) (parsed, error) {
	t.Helper()
	var out parsed
	st, err := u.Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		out.Advisories = append(out.Advisories, a)
		return nil
	})
	out.Stats = st
	return out, err
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func debianFS(t testing.TB) fs.FS {
	t.Helper()
	return os.DirFS("testdata/debian")
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		eco  string
		fsys fs.FS
	}{
		{"PyPI", fstest.MapFS{"PyPI/all.zip": {Data: zipOf(t, "testdata/records/PyPI")}}},
		{"npm", fstest.MapFS{"npm/all.zip": {Data: zipOf(t, "testdata/records/PyPI")}}},
		{"Debian", debianFS(t)},
	}
	for _, tt := range tests {
		t.Run(tt.eco, func(t *testing.T) {
			got, err := parse(t, New(tt.eco), tt.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if got.Stats.Records != len(got.Advisories) {
				t.Errorf("Stats.Records = %d, emitted %d", got.Stats.Records, len(got.Advisories))
			}
			checkGolden(t, filepath.Join("testdata", "golden", tt.eco+".json"), got)
		})
	}
}

func affectedOf(advs []*advisory.Advisory, id string) []advisory.Affected {
	for _, a := range advs {
		if a.ID == id {
			return a.Affected
		}
	}
	return nil
}

func rng(evs ...advisory.Event) advisory.Range { return advisory.Range{Events: evs} }

func TestParsePolicies(t *testing.T) {
	py, err := parse(t, New("PyPI"), fstest.MapFS{"PyPI/all.zip": {Data: zipOf(t, "testdata/records/PyPI")}})
	if err != nil {
		t.Fatal(err)
	}
	deb, err := parse(t, New("Debian"), debianFS(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range py.Advisories {
		ids = append(ids, a.ID)
	}
	// MAL-*, withdrawn and npm-only records are not emitted; the broken and
	// id-less records are malformed.
	if diff := cmp.Diff([]string{"GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1", "PYSEC-2024-2"}, ids); diff != "" {
		t.Errorf("PyPI ids (-want +got):\n%s", diff)
	}
	ghsa := py.Advisories[0]
	if diff := cmp.Diff([]string{"CVE-2024-1000", "CVE-2024-1001", "PYSEC-2024-100"}, ghsa.Aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	if ghsa.Severity != "MEDIUM" || ghsa.VendorSeverity != "MODERATE" {
		t.Errorf("severity %q vendor %q, want MEDIUM MODERATE", ghsa.Severity, ghsa.VendorSeverity)
	}
	wantCVSS := []advisory.CVSS{
		{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "ghsa"},
		{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", Score: 9.3, Source: "ghsa"},
	}
	if diff := cmp.Diff(wantCVSS, ghsa.CVSS); diff != "" {
		t.Errorf("CVSS (-want +got):\n%s", diff)
	}
	if want := time.Date(2024, 5, 2, 10, 0, 0, 123456000, time.UTC); !ghsa.Modified.Equal(want) || !py.Stats.Newest.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("modified %v newest %v", ghsa.Modified, py.Stats.Newest)
	}
	tests := []struct {
		name string
		got  []advisory.Affected
		want []advisory.Affected
	}{
		{"GHSA entries merged, npm dropped", ghsa.Affected, []advisory.Affected{{
			Namespace: "osv:PyPI", Package: "example", Kind: advisory.KindLanguage, Status: advisory.StatusFixed,
			Ranges:   []advisory.Range{rng(advisory.Event{Introduced: "1.0"}, advisory.Event{Fixed: "1.2.3"}), rng(advisory.Event{Introduced: "2.0"}, advisory.Event{Fixed: "2.0.1"})},
			Versions: []string{"1.0", "1.1", "2.0"},
		}}},
		{"introduced 0 without fix, GIT skipped", affectedOf(py.Advisories, "PYSEC-2024-1"), []advisory.Affected{{
			Namespace: "osv:PyPI", Package: "unfixed-pkg", Kind: advisory.KindLanguage, Status: advisory.StatusAffected,
			Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"})},
		}}},
		{"last_affected kept, bad ranges dropped", affectedOf(py.Advisories, "PYSEC-2024-2"), []advisory.Affected{{
			Namespace: "osv:PyPI", Package: "lastaff", Kind: advisory.KindLanguage, Status: advisory.StatusAffected,
			Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"}, advisory.Event{LastAffected: "0.9"})},
		}}},
		{"Debian current + frozen buster", affectedOf(deb.Advisories, "CVE-2024-0001"), []advisory.Affected{
			{Namespace: "debian:11", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Severity: "MEDIUM",
				Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "1.1.1w-0+deb11u2"})}},
			{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected, Severity: "INFORMATIONAL",
				Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"})}},
			{Namespace: "debian:13", Package: "chromium", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix,
				Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"})}},
			{Namespace: "debian:10", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Severity: "HIGH",
				Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "1.1.1n-0+deb10u6"})}},
		}},
		{"frozen-only record", affectedOf(deb.Advisories, "CVE-2019-0002"), []advisory.Affected{
			{Namespace: "debian:10", Package: "libfoo", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix,
				Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"})}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	var debIDs []string
	for _, a := range deb.Advisories {
		debIDs = append(debIDs, a.ID)
		if a.ID == "CVE-2024-0001" {
			if a.Description != "Current text." || a.CVSS[0].Source != "nvd" || a.CVSS[0].Score != 5.3 {
				t.Errorf("CVE-2024-0001 takes the current record's text and NVD CVSS: %+v", a)
			}
			if diff := cmp.Diff([]string{"DLA-4000-1"}, a.Aliases); diff != "" {
				t.Errorf("Debian aliases (-want +got):\n%s", diff)
			}
		}
	}
	// CVE-2024-9999 has only Alpine entries: not emitted.
	if diff := cmp.Diff([]string{"CVE-2024-0001", "DSA-5001-1", "CVE-2019-0002"}, debIDs); diff != "" {
		t.Errorf("Debian ids (-want +got):\n%s", diff)
	}
	var mal []string
	for _, m := range py.Stats.Malformed {
		mal = append(mal, m.ID+": "+m.Err)
	}
	sort.Strings(mal)
	wantMal := []string{
		"BROKEN-1: decode: unexpected end of JSON input",
		"PYSEC-2024-2: affected[0]: ranges[1]: unknown event \"bogus\"",
		"PYSEC-2024-2: affected[0]: ranges[2]: unknown type \"WEIRD\"",
		"PYSEC-2024-2: affected[1]: no usable range or version",
		"PYSEC-2024-2: affected[2]: package without a name",
		"PYSEC-2024-2: modified: invalid time \"not a date\"",
		"PYSEC-2024-2: severity: cvss: \"CVSS:3.1/AV:X\": invalid metric value",
		"noid: record without an id",
	}
	if diff := cmp.Diff(wantMal, mal); diff != "" {
		t.Errorf("malformed (-want +got):\n%s", diff)
	}
}

func TestNamespace(t *testing.T) {
	tests := []struct{ eco, ns string }{
		{"PyPI", "osv:PyPI"}, {"crates.io", "osv:crates.io"}, {"Go", "osv:Go"},
		{"Debian:12", "debian:12"}, {"Debian:3.0", "debian:3.0"}, {"Debian", ""}, {"Debian:", ""},
		{"Ubuntu:22.04:LTS", ""}, {"Ubuntu:24.10", ""}, {"Ubuntu:Pro:18.04:LTS", ""},
		{"Alpine:v3.19", ""}, {"Maven:https://repo", ""}, {"", ""},
	}
	for _, tt := range tests {
		if ns, _ := Namespace(tt.eco); ns != tt.ns {
			t.Errorf("Namespace(%q) = %q, want %q", tt.eco, ns, tt.ns)
		}
	}
}

func TestParseErrors(t *testing.T) {
	huge := &bytes.Buffer{}
	zw := zip.NewWriter(huge)
	w, _ := zw.Create("BIG-1.json")
	w.Write(bytes.Repeat([]byte(" "), MaxEntrySize+10))
	zw.Close()
	tests := []struct {
		name    string
		eco     string
		fsys    fs.FS
		wantErr bool
		wantMal int
	}{
		{"missing zip", "PyPI", fstest.MapFS{}, true, 0},
		{"not a zip", "PyPI", fstest.MapFS{"PyPI/all.zip": {Data: []byte("PK garbage")}}, true, 0},
		{"entry over the cap", "PyPI", fstest.MapFS{"PyPI/all.zip": {Data: huge.Bytes()}}, false, 1},
		{"no Debian files", "Debian", fstest.MapFS{"x": {}}, true, 0},
		{"truncated bundle", "Debian", fstest.MapFS{"Debian-all.osv.tar.bz2": {Data: []byte("BZh91AY&SY garbage")}}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, New(tt.eco), tt.fsys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse error = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got.Stats.Malformed) != tt.wantMal {
				t.Errorf("malformed = %v, want %d", got.Stats.Malformed, tt.wantMal)
			}
		})
	}
	boom := errors.New("boom")
	_, err := New("Debian").Parse(context.Background(), debianFS(t), func(*advisory.Advisory) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("failing emit: err = %v", err)
	}
}

func stateFiles(st feed.State) []string {
	var out []string
	for p := range st {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func TestFetch(t *testing.T) {
	tests := []struct {
		name    string
		eco     string
		files   map[string]string
		list    bool
		want    []string
		wantErr bool
	}{
		{"language zip", "PyPI", map[string]string{"PyPI/all.zip": "z1", "npm/all.zip": "z2"}, false, []string{"PyPI/all.zip"}, false},
		{"language zip missing", "Go", map[string]string{"PyPI/all.zip": "z1"}, true, nil, true},
		{"debian mirror bundles", "Debian", map[string]string{
			"Debian-all.osv.tar.bz2": "a", "Debian-10-2024-06-29.osv.tar.bz2": "b", "SHA256SUMS": "c",
		}, true, []string{"Debian-10-2024-06-29.osv.tar.bz2", "Debian-all.osv.tar.bz2"}, false},
		{"debian upstream zip", "Debian", map[string]string{"Debian/all.zip": "z"}, false, []string{"Debian/all.zip"}, false},
		{"debian http mirror bundles", "Debian", map[string]string{
			"Debian-all.osv.tar.bz2": "a", "Debian-10-2024-06-29.osv.tar.bz2": "b",
		}, false, []string{"Debian-10-2024-06-29.osv.tar.bz2", "Debian-all.osv.tar.bz2"}, false},
		{"debian frozen only is not enough", "Debian", map[string]string{"Debian-10-2024-06-29.osv.tar.bz2": "b"}, false, nil, true},
		{"debian nothing listed", "Debian", map[string]string{"README": "x"}, true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &feedtest.Source{Files: tt.files, CanList: tt.list}
			u := New(tt.eco)
			snap, err := u.Fetch(context.Background(), src, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			if diff := cmp.Diff(tt.want, stateFiles(snap.State)); diff != "" {
				t.Errorf("fetched (-want +got):\n%s", diff)
			}
			for _, p := range tt.want {
				b, err := fs.ReadFile(snap.FS, p)
				if err != nil || string(b) != tt.files[p] {
					t.Errorf("snapshot %s = %q, %v", p, b, err)
				}
			}
			again, err := u.Fetch(context.Background(), src, snap.State)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Unchanged {
				t.Error("second fetch is not Unchanged")
			}
			src.Files[tt.want[0]] += "changed"
			third, err := u.Fetch(context.Background(), src, snap.State)
			if err != nil {
				t.Fatal(err)
			}
			defer third.Close()
			if third.Unchanged || len(third.State) != len(tt.want) {
				t.Errorf("after a change: Unchanged=%v files=%v", third.Unchanged, stateFiles(third.State))
			}
		})
	}
}

func FuzzParseZip(f *testing.F) {
	for _, dir := range []string{"testdata/records/PyPI"} {
		f.Add(zipOf(f, dir))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, eco := range []string{"PyPI", "npm"} {
			_, _ = New(eco).Parse(context.Background(), fstest.MapFS{eco + "/all.zip": {Data: data}}, checkEmit(t))
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	files, _ := filepath.Glob("testdata/records/*/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("X-1.json")
		w.Write(data)
		zw.Close()
		for _, eco := range []string{"PyPI", "npm"} {
			st, err := New(eco).Parse(context.Background(), fstest.MapFS{eco + "/all.zip": {Data: buf.Bytes()}}, checkEmit(t))
			if err != nil {
				t.Fatalf("a valid zip must parse: %v", err)
			}
			if st.Records > 1 {
				t.Fatalf("%d records from one entry", st.Records)
			}
		}
	})
}

func FuzzParseDebianBundle(f *testing.F) {
	for _, p := range []string{"testdata/debian/Debian-all.osv.tar.bz2", "testdata/debian/Debian-10-2024-06-29.osv.tar.bz2"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"Debian-all.osv.tar.bz2": {Data: data}, "Debian-10-2024-06-29.osv.tar.bz2": {Data: data}}
		_, _ = New("Debian").Parse(context.Background(), fsys, checkEmit(t))
	})
}

func checkEmit(t *testing.T) func(*advisory.Advisory) error {
	return func(a *advisory.Advisory) error {
		if a.ID == "" || len(a.Affected) == 0 {
			t.Errorf("emitted %+v", a)
		}
		for _, f := range a.Affected {
			if f.Namespace == "" || f.Package == "" || f.Status == "" {
				t.Errorf("bad affected %+v", f)
			}
			if len(f.Ranges) == 0 && len(f.Versions) == 0 {
				t.Errorf("affected without ranges or versions %+v", f)
			}
		}
		return nil
	}
}

// FuzzConvert fuzzes record decoding and conversion without an archive
// (the archive fuzzers run only a few inputs per second).
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/records/*/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r record
		if json.Unmarshal(data, &r) != nil {
			return
		}
		for _, eco := range []string{"PyPI", "Debian", "Go"} {
			c := converter{source: "osv-" + eco, eco: eco, keepVersions: eco == "PyPI"}
			a, _, _, err := c.convert(&r)
			if err != nil || a == nil {
				continue
			}
			checkEmit(t)(a)
		}
	})
}
