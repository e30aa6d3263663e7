package ubuntu

import (
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
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

type result struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parseAll(t testing.TB, u feed.Updater, fsys fs.FS) (result, error) {
	t.Helper()
	var r result
	st, err := u.Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
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

// entry is an Affected entry flattened for readable expectations.
type entry struct{ ID, NS, Pkg, Kind, Status, Fixed, Severity string }

func flatten(as []*advisory.Advisory) []entry {
	var out []entry
	for _, a := range as {
		for _, af := range a.Affected {
			fixed := ""
			for _, r := range af.Ranges {
				for _, e := range r.Events {
					if e.Fixed != "" {
						fixed = e.Fixed
					}
				}
			}
			out = append(out, entry{a.ID, af.Namespace, af.Package, string(af.Kind), string(af.Status), fixed, string(af.Severity)})
		}
	}
	return out
}

// TestUCTParse parses testdata/uct, the records of testdata/uct-src
// bundled as the mirror holds them:
//
//	tar --sort=name --mtime='2024-01-01 00:00:00 UTC' --owner=root --group=root \
//	    --mode='u=rwX,go=rX' -C testdata/uct-src -cf - ./2011 ./2014 ./2021 ./2023 |
//	    bzip2 -9 > testdata/uct/ubuntu-cve-tracker/uct-cve-json.tar.bz2
func TestUCTParse(t *testing.T) {
	r, err := parseAll(t, NewUCT(), os.DirFS(filepath.Join("testdata", "uct")))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "golden", "uct.json"), r)
	want := []entry{
		// ESM pockets: trusty ignored + trusty/esm not-affected, and xenial
		// needs-triage + esm-infra not-affected, are not affected; an ESM
		// DNE says nothing; a package only an ESM pocket has takes its
		// status; a fix in one ESM pocket beats not-affected in another.
		{"CVE-2011-9001", "ubuntu:14.04", "exlibc", "source", "not-affected", "", ""},
		{"CVE-2011-9001", "ubuntu:16.04", "exlibc", "source", "not-affected", "", ""},
		{"CVE-2011-9001", "ubuntu:16.04", "extool", "source", "affected", "", ""},
		{"CVE-2011-9001", "ubuntu:18.04", "exlibc", "source", "affected", "", ""},
		{"CVE-2011-9001", "ubuntu:18.04", "extool", "source", "fixed", "1.0-1ubuntu0.1~esm1", ""},
		// A rejected CVE id is converted as usual, flagged Rejected.
		{"CVE-2014-9002", "ubuntu:14.04", "extime", "source", "fixed", "1:4.2.6.p5+dfsg-3ubuntu2.14.04.1", ""},
		{"CVE-2014-9002", "ubuntu:16.04", "extime", "source", "not-affected", "", ""},
		{"CVE-2021-2002", "ubuntu:20.04", "pkg-a", "source", "affected", "", "HIGH"},
		{"CVE-2021-2002", "ubuntu:20.04", "pkg-b", "source", "affected", "", ""},
		{"CVE-2021-2002", "ubuntu:20.04", "pkg-c", "source", "affected", "", ""},
		{"CVE-2021-2002", "ubuntu:20.04", "pkg-d", "source", "affected", "", ""},
		{"CVE-2021-2002", "ubuntu:22.04", "pkg-a", "source", "fixed", "1:2.0-1", ""},
		// ESM: an extended-support fix is used where the main pocket is ignored; trusty/esm (esm-infra) before the legacy add-on.
		{"CVE-2023-1001", "ubuntu:14.04", "libexample", "source", "fixed", "0.4.0-4ubuntu0.1~esm2", ""},
		{"CVE-2023-1001", "ubuntu:16.04", "libexample", "source", "will-not-fix", "", ""},
		{"CVE-2023-1001", "ubuntu:18.04", "libexample", "source", "fixed", "0.6.1-2ubuntu0.18.04.2+esm1", ""},
		{"CVE-2023-1001", "ubuntu:20.04", "exampletool", "source", "not-affected", "", ""},
		{"CVE-2023-1001", "ubuntu:20.04", "libexample", "source", "fixed", "1:0.6.1-2ubuntu0.20.04.3", ""},
		{"CVE-2023-1001", "ubuntu:22.04", "exampletool", "source", "affected", "", "LOW"},
		{"CVE-2023-1001", "ubuntu:22.04", "libexample", "source", "fixed", "1.2.2-2ubuntu0.22.04.2", ""},
		{"CVE-2023-1001", "ubuntu:24.04", "chromium-browser", "source", "not-affected", "", ""},
		{"CVE-2023-1001", "ubuntu:24.04", "libexample", "source", "fixed", "1.2.4-0.2ubuntu1", ""},
	}
	if d := cmp.Diff(want, flatten(r.Advisories)); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	if r.Stats.Records != 5 {
		t.Errorf("Records = %d, want 5", r.Stats.Records)
	}
	var rejected []string
	for _, a := range r.Advisories {
		if a.Rejected {
			rejected = append(rejected, a.ID)
		}
	}
	if d := cmp.Diff([]string{"CVE-2014-9002"}, rejected); d != "" {
		t.Errorf("rejected (-want +got):\n%s", d)
	}
	var bad []string
	for _, m := range r.Stats.Malformed {
		bad = append(bad, m.ID+": "+m.Err)
	}
	wantBad := []string{
		"CVE-2021-2002: focal pkg-e: released without a usable version (note \"\")",
		"CVE-2021-2002: focal pkg-f: unknown status \"bogus\"",
		"CVE-2021-2003: decode: unexpected end of JSON input",
		"CVE-2021-2004: cvss nvd: \"garbage\" is not a CVSS vector",
		"CVE-2021-2004: focal: package name \"Bad_Name\" is not a Debian package name",
		"CVE-2021-NNN1: candidate \"CVE-2021-NNN1\" is not a CVE id (UCT placeholder)",
	}
	if d := cmp.Diff(wantBad, bad); d != "" {
		t.Errorf("malformed (-want +got):\n%s", d)
	}
	byID := map[string]*advisory.Advisory{}
	for _, a := range r.Advisories {
		byID[a.ID] = a
	}
	a := byID["CVE-2023-1001"]
	if d := cmp.Diff([]advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", Score: 8.8, Source: "nvd"}}, a.CVSS); d != "" {
		t.Errorf("CVSS (-want +got):\n%s", d)
	}
	if a.Severity != "MEDIUM" || byID["CVE-2021-2002"].Severity != "INFORMATIONAL" || byID["CVE-2021-2004"].Severity != "" {
		t.Errorf("severities: %q %q %q", a.Severity, byID["CVE-2021-2002"].Severity, byID["CVE-2021-2004"].Severity)
	}
}

// TestUCTPocketPrecedence decides one package of one release from its main
// and ESM pockets (pickPocket; see the package doc).
func TestUCTPocketPrecedence(t *testing.T) {
	tests := []struct {
		name string
		// pockets maps a pocket key to "status" or "status note".
		pockets map[string]string
		// want is "status fixed" of package p in the release's namespace,
		// or "" for no entry.
		want string
	}{
		// The main pocket's final word.
		{"main released decides over ESM", map[string]string{"xenial": "released 1.0-1ubuntu0.1", "esm-infra/xenial": "released 1.0-1ubuntu0.1+esm1"}, "fixed 1.0-1ubuntu0.1"},
		{"main released beats ESM not-affected", map[string]string{"xenial": "released 1.0-1ubuntu0.1", "esm-infra/xenial": "not-affected"}, "fixed 1.0-1ubuntu0.1"},
		{"main not-affected beats an ESM fix", map[string]string{"xenial": "not-affected", "esm-infra/xenial": "released 1.0-1ubuntu0.1+esm1"}, "not-affected "},
		// An ESM fix replaces the main pocket's not-fixed status.
		{"ignored + ESM released", map[string]string{"trusty": "ignored end of standard support", "trusty/esm": "released 1.0-1ubuntu0.1~esm1"}, "fixed 1.0-1ubuntu0.1~esm1"},
		{"needed + ESM released", map[string]string{"xenial": "needed", "esm-infra/xenial": "released 1.0-1ubuntu0.1+esm1"}, "fixed 1.0-1ubuntu0.1+esm1"},
		// An ESM not-affected replaces every not-fixed main status (the bug:
		// ignored + not-affected gave WILL_NOT_FIX).
		{"ignored + ESM not-affected", map[string]string{"trusty": "ignored end of standard support", "trusty/esm": "not-affected"}, "not-affected "},
		{"ignored + legacy ESM not-affected", map[string]string{"trusty": "ignored end of standard support", "esm-infra-legacy/trusty": "not-affected code not present"}, "not-affected "},
		{"needed + ESM not-affected", map[string]string{"xenial": "needed", "esm-infra/xenial": "not-affected"}, "not-affected "},
		{"needs-triage + ESM not-affected", map[string]string{"bionic": "needs-triage", "esm-infra/bionic": "not-affected"}, "not-affected "},
		{"deferred + ESM not-affected", map[string]string{"bionic": "deferred 2020-01-01", "esm-apps/bionic": "not-affected"}, "not-affected "},
		{"pending + ESM not-affected", map[string]string{"xenial": "pending", "esm-infra/xenial": "not-affected"}, "not-affected "},
		// An ESM not-fixed status never replaces a main pocket entry.
		{"ignored + ESM needed stays will-not-fix", map[string]string{"xenial": "ignored end of standard support", "esm-infra/xenial": "needed"}, "will-not-fix "},
		{"needs-triage + ESM ignored stays affected", map[string]string{"xenial": "needs-triage", "esm-infra/xenial": "ignored"}, "affected "},
		// DNE.
		{"ESM DNE says nothing", map[string]string{"xenial": "needed", "esm-infra/xenial": "DNE"}, "affected "},
		{"main DNE, ESM needed", map[string]string{"xenial": "DNE", "esm-apps/xenial": "needed"}, "affected "},
		{"main DNE, ESM not-affected", map[string]string{"xenial": "DNE", "esm-apps/xenial": "not-affected"}, "not-affected "},
		{"DNE everywhere", map[string]string{"xenial": "DNE", "esm-infra/xenial": "DNE"}, ""},
		{"main ignored, ESM DNE", map[string]string{"xenial": "ignored end of standard support", "esm-infra/xenial": "DNE"}, "will-not-fix "},
		// Only ESM pockets.
		{"no main, ESM needed", map[string]string{"esm-infra/xenial": "needed"}, "affected "},
		{"no main, first non-DNE pocket", map[string]string{"esm-infra/xenial": "DNE", "esm-apps/xenial": "ignored"}, "will-not-fix "},
		{"no main, ESM ranked by pocket", map[string]string{"esm-infra/xenial": "needed", "esm-apps/xenial": "ignored"}, "affected "},
		// Several ESM pockets that disagree.
		{"ESM fix beats another pocket's not-affected", map[string]string{"xenial": "ignored", "esm-infra/xenial": "not-affected", "esm-apps/xenial": "released 1.0-1ubuntu0.1~esm1"}, "fixed 1.0-1ubuntu0.1~esm1"},
		{"ESM not-affected beats another pocket's needed", map[string]string{"xenial": "needed", "esm-infra/xenial": "needed", "esm-apps/xenial": "not-affected"}, "not-affected "},
		{"two ESM fixes: esm-infra (trusty/esm) before the legacy add-on", map[string]string{"trusty": "ignored", "trusty/esm": "released 1.0-1ubuntu0.1~esm2", "esm-infra-legacy/trusty": "released 1.0-1ubuntu0.1~esm1"}, "fixed 1.0-1ubuntu0.1~esm2"},
		{"two ESM fixes: esm-infra before its older name", map[string]string{"trusty": "ignored", "trusty/esm": "released 1.0-1ubuntu0.1~esm2", "esm-infra/trusty": "released 1.0-1ubuntu0.1~esm1"}, "fixed 1.0-1ubuntu0.1~esm1"},
		// Other releases' pockets do not count.
		{"another release's ESM pocket", map[string]string{"xenial": "ignored", "esm-infra/bionic": "not-affected"}, "will-not-fix "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel := ""
			pkgs := map[string]map[string]uctPkg{}
			for pocket, v := range tc.pockets {
				st, note, _ := strings.Cut(v, " ")
				pkgs[pocket] = map[string]uctPkg{"p": {Name: "p", Status: st, Note: note}}
				if _, ok := releases[pocket]; ok && rel == "" {
					rel = pocket
				} else if r, _, ok := esmPocket(pocket); ok && rel == "" {
					rel = r
				}
			}
			if strings.Contains(tc.name, "another release") {
				rel = "xenial"
			}
			data, err := json.Marshal(uctRecord{Candidate: "CVE-2024-0001", Packages: pkgs})
			if err != nil {
				t.Fatal(err)
			}
			a, bad := convertUCT(data)
			if a == nil || len(bad) > 0 {
				t.Fatalf("convertUCT: %v, %v", a, bad)
			}
			ns, _ := Namespace(rel)
			got := ""
			for _, e := range flatten([]*advisory.Advisory{a}) {
				if e.NS == ns && e.Pkg == "p" {
					got = e.Status + " " + e.Fixed
				}
			}
			if got != tc.want {
				t.Errorf("%v: got %q, want %q", tc.pockets, got, tc.want)
			}
		})
	}
}

func TestReleasedVersion(t *testing.T) {
	for _, tc := range []struct {
		note, want string
	}{
		{"1.2-3", "1.2-3"},
		{" (1.58.1+dfsg1~ubuntu1-0ubuntu1", "1.58.1+dfsg1~ubuntu1-0ubuntu1"},
		{"9.1.19-0ubuntu0.14.04 ", "9.1.19-0ubuntu0.14.04"},
		{"lts-2.6.35-25.44 in proposed", ""},
		{"nova - 2011.2-0ubuntu1.2", ""},
		{"", ""},
		{"1:1.12_1.12.6-1", ""},
	} {
		got, ok := releasedVersion(tc.note)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("releasedVersion(%q) = %q, %v; want %q", tc.note, got, ok, tc.want)
		}
	}
}

func TestOVALParse(t *testing.T) {
	plain, err := parseAll(t, NewOVAL(), os.DirFS(filepath.Join("testdata", "oval")))
	if err != nil {
		t.Fatal(err)
	}
	compressed, err := parseAll(t, NewOVAL(), os.DirFS(filepath.Join("testdata", "oval-bz2")))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(plain.Advisories, compressed.Advisories); d != "" {
		t.Errorf("plain and bz2 differ:\n%s", d)
	}
	golden(t, filepath.Join("testdata", "golden", "oval.json"), plain)
	want := []entry{
		{"CVE-2021-1001", "ubuntu:20.04", "exampletool", "binary", "affected", "", ""},
		{"CVE-2021-1001", "ubuntu:20.04", "libexample-dev", "binary", "fixed", "1.2-3ubuntu0.1", ""},
		{"CVE-2021-1001", "ubuntu:20.04", "libexample1", "binary", "fixed", "1.2-3ubuntu0.1", ""},
		{"CVE-2021-1002", "ubuntu:20.04", "epochpkg", "binary", "fixed", "1:2.0-1", ""},
	}
	if d := cmp.Diff(want, flatten(plain.Advisories)); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	if plain.Stats.Records != 2 || len(plain.Stats.Malformed) != 2 {
		t.Errorf("Records = %d, malformed = %+v; want 2 and 2 (bad state, no CVE)", plain.Stats.Records, plain.Stats.Malformed)
	}
	if a := plain.Advisories[1]; a.Severity != "INFORMATIONAL" || a.VendorSeverity != "Negligible" {
		t.Errorf("severity %q/%q", a.VendorSeverity, a.Severity)
	}
}

func TestOVALErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no files", fstest.MapFS{"README": {Data: []byte("x")}}, "no com.ubuntu"},
		{"bad xml", fstest.MapFS{"com.ubuntu.focal.cve.oval.xml": {Data: []byte("<oval_definitions><definitions><definition id='x'>")}}, "xml"},
		{"empty doc", fstest.MapFS{"com.ubuntu.focal.cve.oval.xml": {Data: []byte("<oval_definitions/>")}}, "no OVAL definitions"},
		{"not bzip2", fstest.MapFS{"com.ubuntu.focal.cve.oval.xml.bz2": {Data: []byte("<x/>")}}, "bzip2"},
	} {
		_, err := parseAll(t, NewOVAL(), tc.fsys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// An unknown codename is malformed, not fatal.
	r, err := parseAll(t, NewOVAL(), fstest.MapFS{"com.ubuntu.warty.cve.oval.xml": {Data: []byte("<x/>")}})
	if err != nil || len(r.Stats.Malformed) != 1 {
		t.Errorf("unknown codename: %v %+v", err, r.Stats.Malformed)
	}
	// The size cap applies to decompressed data.
	data, _ := os.ReadFile(filepath.Join("testdata", "oval", "com.ubuntu.focal.cve.oval.xml"))
	_, err = parseAll(t, NewOVALWithOptions(OVALOptions{MaxFileSize: 1000}), fstest.MapFS{"com.ubuntu.focal.cve.oval.xml": {Data: data}})
	if !errors.Is(err, errTooLarge) {
		t.Errorf("size cap: err = %v", err)
	}
}

func snapshotFiles(t *testing.T, snap feed.Snapshot) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(snap.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	bundle, _ := os.ReadFile(filepath.Join("testdata", "uct", UCTBundle))
	oval, _ := os.ReadFile(filepath.Join("testdata", "oval-bz2", "com.ubuntu.focal.cve.oval.xml.bz2"))
	for _, tc := range []struct {
		name  string
		u     feed.Updater
		files map[string]string
		want  []string
		recs  int
	}{
		{"uct", NewUCT(), map[string]string{UCTBundle: string(bundle)}, []string{UCTBundle}, 5},
		{"oval", NewOVAL(), map[string]string{"com.ubuntu.focal.cve.oval.xml.bz2": string(oval)}, []string{"com.ubuntu.focal.cve.oval.xml.bz2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &feedtest.Source{Files: tc.files}
			snap, err := tc.u.Fetch(ctx, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			if d := cmp.Diff(tc.want, snapshotFiles(t, snap)); d != "" {
				t.Errorf("files (-want +got):\n%s", d)
			}
			r, err := parseAll(t, tc.u, snap.FS)
			if err != nil || r.Stats.Records != tc.recs {
				t.Errorf("parse snapshot: %d records, %v", r.Stats.Records, err)
			}
			again, err := tc.u.Fetch(ctx, src, snap.State)
			if err != nil || !again.Unchanged || again.FS != nil {
				t.Errorf("second fetch: unchanged=%v err=%v", again.Unchanged, err)
			}
			if _, err := tc.u.Fetch(ctx, &feedtest.Source{Files: map[string]string{}}, nil); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("fetch from an empty source: err = %v, want ErrNotExist", err)
			}
		})
	}
}

// TestOVALSkipNamespaces: a release the build says another source covers
// is not read (the file is not even opened: a corrupt copy of it costs
// nothing), and the other releases are read as before.
func TestOVALSkipNamespaces(t *testing.T) {
	focal, err := os.ReadFile(filepath.Join("testdata", "oval", "com.ubuntu.focal.cve.oval.xml"))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"com.ubuntu.focal.cve.oval.xml":      {Data: focal},
		"com.ubuntu.bionic.cve.oval.xml.bz2": {Data: []byte("not bzip2")},
	}
	var asked []string
	u := NewOVAL().SkipNamespaces(func(ns string) bool {
		asked = append(asked, ns)
		return ns == "ubuntu:18.04"
	})
	got, err := parseAll(t, u, fsys)
	if err != nil {
		t.Fatalf("Parse with bionic skipped: %v", err)
	}
	if d := cmp.Diff([]string{"ubuntu:18.04", "ubuntu:20.04"}, asked); d != "" {
		t.Errorf("namespaces asked (-want +got):\n%s", d)
	}
	if got.Stats.Records != 2 {
		t.Errorf("Records = %d, want focal's 2", got.Stats.Records)
	}
	if _, err := parseAll(t, NewOVAL(), fsys); err == nil {
		t.Error("without skipping, the corrupt bionic file parsed")
	}
}
