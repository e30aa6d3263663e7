package alpine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"

	"github.com/stowaway-scanner/stowaway/internal/testutil"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want IDRef
	}{
		{"CVE-2023-5678", IDRef{CVEs: []string{"CVE-2023-5678"}}},
		{"CVE-2017-2887 TALOS-2017-0394", IDRef{CVEs: []string{"CVE-2017-2887"}, Others: []string{"TALOS-2017-0394"}}},
		{"CVE-2023-46836  XSA-446", IDRef{CVEs: []string{"CVE-2023-46836"}, Others: []string{"XSA-446"}}},
		{"CVE-2017-17434-1", IDRef{CVEs: []string{"CVE-2017-17434"}}},
		{"CVE_2019-2426", IDRef{CVEs: []string{"CVE-2019-2426"}}},
		{"cve-2019-2426", IDRef{CVEs: []string{"CVE-2019-2426"}}},
		{"CVE-2021-35940.patch", IDRef{CVEs: []string{"CVE-2021-35940"}}},
		{"CVE-2020-1001 CVE-2020-2002 CVE-2020-1001", IDRef{CVEs: []string{"CVE-2020-1001", "CVE-2020-2002"}}},
		{"CVE-????-????? XSA-312", IDRef{Others: []string{"XSA-312"}}},
		{"CVE-2022-????? XSA-398", IDRef{Others: []string{"XSA-398"}}},
		{"CVE N/A ZBX-11023", IDRef{Others: []string{"ZBX-11023"}}},
		{"XSA-238", IDRef{Others: []string{"XSA-238"}}},
		{"GHSA-fhpf-pp9p-55qc", IDRef{Others: []string{"GHSA-fhpf-pp9p-55qc"}}},
		{"wnpa-sec-2017-18", IDRef{Others: []string{"wnpa-sec-2017-18"}}},
		{"CVE-2018-16301 (was fixed in libpcap)", IDRef{CVEs: []string{"CVE-2018-16301"}}},
		{"CVE-2020-14342 (not actually applicable)", IDRef{CVEs: []string{"CVE-2020-14342"}, NotAffected: true}},
		{"CVE-2020-14342 (Not affected, requires --with-systemd)", IDRef{CVEs: []string{"CVE-2020-14342"}, NotAffected: true}},
		{"CVE-2024-0565 (SMB)", IDRef{CVEs: []string{"CVE-2024-0565"}}},
		{"CVE-46838", IDRef{Bad: []string{"CVE-46838"}}},
		{"not-an-id!", IDRef{Bad: []string{"not-an-id!"}}},
		{"", IDRef{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseIDs(tt.in)); diff != "" {
				t.Errorf("ParseIDs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

type parsed struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parseAll(t testing.TB, fsys fs.FS) (parsed, error) {
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
	got, err := parseAll(t, os.DirFS("testdata/secdb"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/golden.json", got)
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

func TestParseSpecifics(t *testing.T) {
	got, err := parseAll(t, os.DirFS("testdata/secdb"))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ id, ns, pkg string }
	aff := map[key]advisory.Affected{}
	for _, a := range got.Advisories {
		for _, f := range a.Affected {
			aff[key{a.ID, f.Namespace, f.Package}] = f
		}
	}
	fixed := func(ns, pkg string, vs ...string) advisory.Affected {
		f := advisory.Affected{Namespace: ns, Package: pkg, Kind: advisory.KindSource, Status: advisory.StatusFixed}
		for _, v := range vs {
			f.Ranges = append(f.Ranges, advisory.Range{Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}})
		}
		return f
	}
	notAffected := func(ns, pkg string) advisory.Affected {
		return advisory.Affected{Namespace: ns, Package: pkg, Kind: advisory.KindSource, Status: advisory.StatusNotAffected}
	}
	tests := []struct {
		k    key
		want advisory.Affected
	}{
		{key{"CVE-2023-5678", "alpine:3.19", "openssl"}, fixed("alpine:3.19", "openssl", "3.1.4-r1")},
		{key{"CVE-2023-5678", "alpine:3.19", "openssl1.1-compat"}, fixed("alpine:3.19", "openssl1.1-compat", "1.1.1w-r0")},
		{key{"CVE-2023-5678", "alpine:edge", "openssl"}, fixed("alpine:edge", "openssl", "3.1.4-r1")},
		{key{"CVE-2023-6237", "alpine:3.19", "openssl"}, fixed("alpine:3.19", "openssl", "3.1.4-r3")},
		{key{"CVE-2022-1292", "alpine:3.19", "openssl"}, notAffected("alpine:3.19", "openssl")},
		{key{"CVE-2023-46835", "alpine:3.19", "xen"}, fixed("alpine:3.19", "xen", "4.18.0-r1", "4.18.0-r2")},
		{key{"XSA-447", "alpine:3.19", "xen"}, fixed("alpine:3.19", "xen", "4.18.0-r1")},
		{key{"XSA-448", "alpine:3.19", "xen"}, fixed("alpine:3.19", "xen", "4.18.0-r1")},
		{key{"CVE-2017-17434", "alpine:3.19", "rsync"}, fixed("alpine:3.19", "rsync", "3.1.2-r7")},
		{key{"CVE-2020-14342", "alpine:3.19", "cifs-utils"}, notAffected("alpine:3.19", "cifs-utils")},
		{key{"ZBX-11023", "alpine:3.19", "zabbix"}, fixed("alpine:3.19", "zabbix", "3.0.4-r0")},
		{key{"CVE-2015-1817", "alpine:3.2", "musl"}, fixed("alpine:3.2", "musl", "1.1.5-r4")},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, aff[tt.k]); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.k, diff)
		}
	}
	var malformed []string
	for _, m := range got.Stats.Malformed {
		malformed = append(malformed, m.File+"|"+m.ID)
	}
	wantMalformed := []string{
		"v3.19/main.json|linux-lts 6.6.13-r0",
		"v3.19/main.json|broken 1.0-r0",
		"v3.19/main.json|packages[7]",
		"v3.19/main.json|badver 1.0 r0",
		"v3.19/main.json|packages[9]",
		"v3.3/main.json|",
	}
	if diff := cmp.Diff(wantMalformed, malformed); diff != "" {
		t.Errorf("malformed (-want +got):\n%s", diff)
	}
	if got.Stats.Records != len(got.Advisories) {
		t.Errorf("Stats.Records = %d, emitted %d", got.Stats.Records, len(got.Advisories))
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fs.FS
	}{
		{"empty", fstest.MapFS{}},
		{"no branch dirs", fstest.MapFS{"main.json": {Data: []byte(`{}`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseAll(t, tt.fsys); err == nil {
				t.Error("Parse: want an error")
			}
		})
	}
	// An emit error aborts the parse and is returned.
	boom := errors.New("boom")
	_, err := New().Parse(context.Background(), os.DirFS("testdata/secdb"), func(*advisory.Advisory) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Parse with failing emit = %v, want %v", err, boom)
	}
}

func TestFetch(t *testing.T) {
	files := map[string]string{
		"v3.2/main.json":       `{"packages":[]}`,
		"v3.19/main.json":      `{"packages":[{"pkg":{"name":"a","secfixes":{"1-r0":["CVE-2024-1111"]}}}]}`,
		"v3.19/community.json": `{"packages":[]}`,
		"v3.19/other.txt":      `ignored`,
	}
	tests := []struct {
		name      string
		list      bool
		branches  []string
		wantFiles []string
		wantErr   bool
	}{
		{"mirror lists branches", true, []string{"v3.2", "v3.19", "v3.20"}, []string{"v3.19/community.json", "v3.19/main.json", "v3.2/main.json"}, false},
		{"http fixed list, community optional", false, []string{"v3.2", "v3.19"}, []string{"v3.19/community.json", "v3.19/main.json", "v3.2/main.json"}, false},
		{"http main required", false, []string{"v3.19", "v3.20"}, nil, true},
		{"nothing found", true, []string{"v3.20"}, nil, true},
		{"invalid branch", true, []string{"../etc"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &feedtest.Source{Files: files, CanList: tt.list}
			u := New(tt.branches...)
			snap, err := u.Fetch(context.Background(), src, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Fetch: want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			if snap.Unchanged {
				t.Fatal("first fetch is Unchanged")
			}
			var got []string
			for p := range snap.State {
				got = append(got, p)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.wantFiles, got); diff != "" {
				t.Errorf("state files (-want +got):\n%s", diff)
			}
			st, err := u.Parse(context.Background(), snap.FS, func(*advisory.Advisory) error { return nil })
			if err != nil || st.Records != 1 {
				t.Errorf("Parse of the snapshot = %+v, %v; want 1 record", st, err)
			}
			// Fetching again against the new state is unchanged.
			again, err := u.Fetch(context.Background(), src, snap.State)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Unchanged || again.FS != nil {
				t.Errorf("second Fetch: Unchanged=%v FS=%v, want unchanged without files", again.Unchanged, again.FS)
			}
			// A changed file makes the next fetch complete again.
			src.Files = map[string]string{}
			for k, v := range files {
				src.Files[k] = v
			}
			src.Files["v3.2/main.json"] = `{"packages":[{"pkg":{"name":"b","secfixes":{"2-r0":["CVE-2024-2222"]}}}]}`
			third, err := u.Fetch(context.Background(), src, snap.State)
			if err != nil {
				t.Fatal(err)
			}
			defer third.Close()
			if third.Unchanged {
				t.Fatal("third Fetch after a change is Unchanged")
			}
			st, err = u.Parse(context.Background(), third.FS, func(*advisory.Advisory) error { return nil })
			if err != nil || st.Records != 2 {
				t.Errorf("Parse after change = %+v, %v; want 2 records", st, err)
			}
		})
	}
}

func TestRealData(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "alpine", "secdb")
	fsys := os.DirFS(root)
	files, _ := fs.Glob(fsys, "*/*.json")
	if len(files) != 41 {
		t.Errorf("%d secdb files, SOURCES.md says 41", len(files))
	}
	got, err := parseAll(t, fsys)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]bool{}
	notAffectedV3 := 0
	var spot *advisory.Affected
	for _, a := range got.Advisories {
		if !strings.HasPrefix(a.ID, "CVE-") && len(a.ID) < 4 {
			t.Errorf("suspicious id %q", a.ID)
		}
		for i, f := range a.Affected {
			namespaces[f.Namespace] = true
			if f.Status == advisory.StatusNotAffected && f.Namespace != "alpine:edge" {
				notAffectedV3++
			}
			if a.ID == "CVE-2023-5678" && f.Namespace == "alpine:3.19" && f.Package == "openssl" {
				spot = &a.Affected[i]
			}
		}
	}
	if len(namespaces) != 21 {
		t.Errorf("%d namespaces, want 21 (v3.2 ... v3.21, edge)", len(namespaces))
	}
	// SOURCES.md: the key "0" occurs 281 times across v3.x. Each occurrence
	// lists at least one id, so there are at least as many not-affected
	// entries (a "0" string with several CVEs yields several).
	if notAffectedV3 < 281 {
		t.Errorf("%d not-affected entries in v3.x, want >= 281", notAffectedV3)
	}
	want := advisory.Affected{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "3.1.4-r1"}}}}}
	if spot == nil {
		t.Fatal("CVE-2023-5678 openssl not found in alpine:3.19")
	}
	if diff := cmp.Diff(want, *spot); diff != "" {
		t.Errorf("CVE-2023-5678 openssl alpine:3.19 (-want +got):\n%s", diff)
	}
	t.Logf("%d advisories, %d malformed", got.Stats.Records, len(got.Stats.Malformed))
	for _, m := range got.Stats.Malformed {
		t.Logf("malformed: %s %s: %s", m.File, m.ID, m.Err)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/secdb/*/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"v3.19/main.json": {Data: data}}
		st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
			if a.ID == "" || len(a.Affected) == 0 {
				t.Errorf("advisory without id or affected: %+v", a)
			}
			for _, af := range a.Affected {
				if af.Namespace != "alpine:3.19" || af.Package == "" {
					t.Errorf("bad affected %+v", af)
				}
				if af.Status == advisory.StatusFixed && len(af.Ranges) == 0 {
					t.Errorf("fixed without ranges: %+v", af)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if !bytes.Contains(data, []byte("secfixes")) && st.Records != 0 {
			t.Errorf("%d records without secfixes", st.Records)
		}
	})
}
