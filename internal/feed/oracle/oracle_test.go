package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

type result struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parseAll(t testing.TB, fsys fs.FS, opts Options) (result, error) {
	t.Helper()
	var r result
	st, err := NewWithOptions(opts).Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		r.Advisories = append(r.Advisories, a)
		return nil
	})
	r.Stats = st
	return r, err
}

func golden(t *testing.T, file string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(b)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, d)
	}
}

func TestParse(t *testing.T) {
	plain, err := parseAll(t, os.DirFS("testdata"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	compressed, err := parseAll(t, os.DirFS(filepath.Join("testdata", "bz2")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(plain.Advisories, compressed.Advisories); d != "" {
		t.Errorf("plain and bz2 differ:\n%s", d)
	}
	golden(t, filepath.Join("testdata", "golden", "advisories.json"), plain)

	type entry struct{ ID, NS, Pkg, Module, Fixed, Arches string }
	var got []entry
	for _, a := range plain.Advisories {
		for _, af := range a.Affected {
			got = append(got, entry{a.ID, af.Namespace, af.Package, af.Module, af.Ranges[0].Events[1].Fixed, strings.Join(af.Arches, ",")})
			if af.Kind != advisory.KindBinary || af.Status != advisory.StatusFixed || af.Advisory != a.ID {
				t.Errorf("%s %s: kind %s status %s advisory %s", a.ID, af.Package, af.Kind, af.Status, af.Advisory)
			}
		}
	}
	want := []entry{
		{"ELSA-2023-0001", "ol:9", "openssl", "", "1:3.0.7-6.0.1.el9_1", "aarch64,x86_64"},
		{"ELSA-2023-0001", "ol:9", "openssl-libs", "", "1:3.0.7-6.0.1.el9_1", "aarch64,x86_64"},
		{"ELSA-2023-0001", "ol:9", "openssl-perl", "", "1:3.0.7-6.0.1.el9_1", "x86_64"},
		{"ELSA-2023-4002", "ol:8", "nodejs", "nodejs:18", "1:18.16.1-1.module+el8.8.0+21015+6a0ea6f5", ""},
		{"ELSA-2023-4002", "ol:8", "npm", "nodejs:18", "1:9.5.1-1.18.16.1.1.module+el8.8.0+21015+6a0ea6f5", "aarch64,x86_64"},
		{"ELSA-2023-5001", "ol:7", "glibc", "", "2.17-326.0.5.el7_9", ""},
		{"ELSA-2023-5001", "ol:7-ksplice", "glibc", "", "2.17-326.0.5.ksplice1.el7_9", ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	a := plain.Advisories[0]
	if a.Severity != "HIGH" || a.VendorSeverity != "IMPORTANT" || len(a.CVSS) != 1 || a.CVSS[0].Score != 7.4 {
		t.Errorf("ELSA-2023-0001 severity/CVSS: %q %q %+v", a.VendorSeverity, a.Severity, a.CVSS)
	}
	if d := cmp.Diff([]string{"CVE-2023-30581", "CVE-2023-30588"}, plain.Advisories[1].Aliases); d != "" {
		t.Errorf("aliases (-want +got):\n%s", d)
	}
	if len(plain.Advisories[1].CVSS) != 0 {
		t.Errorf("a two-CVE ELSA must not carry one CVE's CVSS: %+v", plain.Advisories[1].CVSS)
	}
	if plain.Stats.Records != 3 || len(plain.Stats.Malformed) != 2 {
		t.Errorf("Records %d, malformed %+v; want 3 and 2", plain.Stats.Records, plain.Stats.Malformed)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"missing", fstest.MapFS{}, "neither"},
		{"bad xml", fstest.MapFS{"com.oracle.elsa-all.xml": {Data: []byte("<oval_definitions><definition>")}}, "xml"},
		{"no definitions", fstest.MapFS{"com.oracle.elsa-all.xml": {Data: []byte("<oval_definitions/>")}}, "no OVAL definitions"},
		{"not bzip2", fstest.MapFS{FileName: {Data: []byte("<x/>")}}, "bzip2"},
	} {
		_, err := parseAll(t, tc.fsys, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	_, err := parseAll(t, os.DirFS("testdata"), Options{MaxFileSize: 2000})
	if !errors.Is(err, errTooLarge) {
		t.Errorf("size cap: err = %v", err)
	}
}

func TestSplitArches(t *testing.T) {
	for in, want := range map[string][]string{
		"x86_64":         {"x86_64"},
		"aarch64|x86_64": {"aarch64", "x86_64"},
		"(i686|x86_64)":  {"i686", "x86_64"},
		"^x86_64$":       {"x86_64"},
		"":               nil,
		"x86_64|../etc":  {"x86_64"},
	} {
		if d := cmp.Diff(want, splitArches(in)); d != "" {
			t.Errorf("splitArches(%q) (-want +got):\n%s", in, d)
		}
	}
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join("testdata", "bz2", FileName))
	if err != nil {
		t.Fatal(err)
	}
	src := &feedtest.Source{Files: map[string]string{FileName: string(data)}}
	u := New()
	snap, err := u.Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	r, err := parseAll(t, snap.FS, Options{})
	if err != nil || r.Stats.Records != 3 {
		t.Fatalf("parse snapshot: %d records, %v", r.Stats.Records, err)
	}
	again, err := u.Fetch(ctx, src, snap.State)
	if err != nil || !again.Unchanged || again.FS != nil {
		t.Errorf("second fetch: unchanged=%v err=%v", again.Unchanged, err)
	}
	src.Files[FileName] = string(data) + "x"
	changed, err := u.Fetch(ctx, src, snap.State)
	if err != nil || changed.Unchanged {
		t.Errorf("changed file: unchanged=%v err=%v", changed.Unchanged, err)
	} else {
		changed.Close()
	}
	if _, err := u.Fetch(ctx, &feedtest.Source{Files: map[string]string{}}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
