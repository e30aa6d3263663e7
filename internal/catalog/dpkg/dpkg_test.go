package dpkg

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/inventory"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"var/lib/dpkg/status", true},
		{"var/lib/dpkg/status.d/base", true},
		{"var/lib/dpkg/status.d/libssl3", true},
		{"var/lib/dpkg/status.d/libssl3.md5sums", false},
		{"var/lib/dpkg/status.d/.hidden", false},
		{"var/lib/dpkg/status.d/", false},
		{"var/lib/dpkg/status.d/sub/x", false},
		{"var/lib/dpkg/status-old", false},
		{"var/lib/dpkg/status.d", false},
		{"var/lib/dpkg/info/libc6:amd64.list", true},
		{"var/lib/dpkg/info/login.list", true},
		{"var/lib/dpkg/info/.list", false},
		{"var/lib/dpkg/info/login.md5sums", false},
		{"var/lib/dpkg/info/sub/login.list", false},
		{"/var/lib/dpkg/status", false}, // paths are root-relative
		{"usr/var/lib/dpkg/status", false},
	}
	c := New()
	for _, tt := range tests {
		if got := c.Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestCatalogFixtures runs the cataloger over every file of testdata/root it
// asks for and compares the results with testdata/golden/root.json.
func TestCatalogFixtures(t *testing.T) {
	root := filepath.Join("testdata", "root")
	c := New()
	got := map[string]catalog.Result{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !c.Required(rel, info) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res, err := c.CatalogFile(context.Background(), catalog.File{Path: rel, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Errorf("CatalogFile(%s): %v", rel, err)
		}
		got[rel] = res
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["var/lib/dpkg/status.d/tzdata.md5sums"]; ok {
		t.Error("the .md5sums file was cataloged")
	}
	golden(t, filepath.Join("testdata", "golden", "root.json"), got)
}

// golden compares got with the JSON golden file, or rewrites it with -update.
func golden[T any](t *testing.T, file string, got T) {
	t.Helper()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want T
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, d)
	}
}

// TestParseStatusFields spells out the fields of a few fixture packages, so a
// regression cannot hide in a regenerated golden file.
func TestParseStatusFields(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "root", "var", "lib", "dpkg", "status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, warns, err := ParseStatus(f)
	if err != nil || warns != nil {
		t.Fatal(err, warns)
	}
	var names []string
	byKey := map[string]inventory.Package{}
	for _, p := range pkgs {
		names = append(names, p.Name+":"+p.Arch)
		byKey[p.Name+":"+p.Arch] = p
	}
	wantNames := []string{"libssl3:amd64", "login:amd64", "libc6:amd64", "libc6:i386", "broken-upgrade:all", "pending:amd64"}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	tests := []inventory.Package{
		{Name: "libssl3", Version: "3.0.11-1~deb12u2+b1", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2"},
		{Name: "login", Version: "1:4.13+dfsg1-1+b1", Type: inventory.TypeDeb, Epoch: 1, Arch: "amd64", SourceName: "shadow", SourceVersion: "1:4.13+dfsg1-1+b1"},
		{Name: "libc6", Version: "2.36-9+deb12u4", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "libc6", SourceVersion: "2.36-9+deb12u4", Licenses: []string{"LGPL-2.1+"}},
	}
	for _, want := range tests {
		if d := cmp.Diff(want, byKey[want.Name+":"+want.Arch]); d != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, d)
		}
	}
}

// TestParseStatusMalformed mixes malformed records with good ones: the good
// ones are kept, the bad ones are dropped (no name) or kept with the
// version as written, each with its exact warning.
func TestParseStatusMalformed(t *testing.T) {
	const good1 = "Package: good1\nStatus: install ok installed\nVersion: 1.0-1\n\n"
	const good2 = "\nPackage: good2\nStatus: install ok installed\nVersion: 2.0-1\nSource: src2 (2.0)\n"
	deb := func(name, version string, epoch int, srcName, srcVersion string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypeDeb, Epoch: epoch, SourceName: srcName, SourceVersion: srcVersion}
	}
	g1, g2 := deb("good1", "1.0-1", 0, "good1", "1.0-1"), deb("good2", "2.0-1", 0, "src2", "2.0")
	tests := []struct {
		name  string
		bad   string // placed between good1 and good2
		want  []inventory.Package
		warns []string
	}{
		{"no version", "Package: x\nStatus: install ok installed\n",
			[]inventory.Package{g1, deb("x", "", 0, "x", ""), g2},
			[]string{`stanza at line 5 (package "x"): no Version field; kept with an empty version`}},
		{"empty version", "Package: x\nVersion:\n",
			[]inventory.Package{g1, deb("x", "", 0, "x", ""), g2},
			[]string{`stanza at line 5 (package "x"): empty Version field; kept with an empty version`}},
		{"version with a space", "Package: x\nVersion: 1.0 beta\n",
			[]inventory.Package{g1, deb("x", "1.0 beta", 0, "x", "1.0 beta"), g2}, nil},
		{"bad epoch", "Package: x\nVersion: abc:1.0\n",
			[]inventory.Package{g1, deb("x", "abc:1.0", 0, "x", "abc:1.0"), g2},
			[]string{`stanza at line 5 (package "x"): version "abc:1.0": bad epoch "abc"; kept with the version as written`}},
		{"no package", "Status: install ok installed\nVersion: 1.0\n",
			[]inventory.Package{g1, g2},
			[]string{"stanza at line 5: no Package field; dropped"}},
		{"source without parentheses", "Package: x\nVersion: 1.0\nSource: src 1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "src", "1.0"), g2},
			[]string{`stanza at line 5 (package "x"): want "Source: name (version)", got "src 1.0"; source version kept as written`}},
		{"source with an open parenthesis", "Package: x\nVersion: 1.0\nSource: src (1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "src", "1.0"), g2},
			[]string{`stanza at line 5 (package "x"): want "Source: name (version)", got "src (1.0"; source version kept as written`}},
		{"source with empty parentheses", "Package: x\nVersion: 1.0\nSource: src ()\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "src", "1.0"), g2},
			[]string{`stanza at line 5 (package "x"): want "Source: name (version)", got "src ()"; the source version is the package version`}},
		{"status of two words", "Package: x\nStatus: installed ok\nVersion: 1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "x", "1.0"), g2},
			[]string{`stanza at line 5 (package "x"): Status "installed ok" does not have three words; counted as installed`}},
		{"line without a colon", "Package: x\nthis line has no colon\nVersion: 1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "x", "1.0"), g2},
			[]string{`line 6: want "Field: value", got "this line has no colon"; skipped`}},
		{"continuation outside a field", " leading continuation\nPackage: x\nVersion: 1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "x", "1.0"), g2},
			[]string{"line 5: continuation line outside a field; skipped"}},
		{"repeated package field", "Package: x\nPackage: y\nVersion: 1.0\n",
			[]inventory.Package{g1, deb("x", "1.0", 0, "x", "1.0"), g2},
			[]string{`line 6: repeated Package field "y"; the first value "x" is kept`}},
		{"garbage stanza", "\x00\xff garbage\nPK\x03\x04\n",
			[]inventory.Package{g1, g2},
			[]string{`line 5: want "Field: value", got "\x00\xff garbage"; skipped`, `line 6: want "Field: value", got "PK\x03\x04"; skipped`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns, err := ParseStatus(strings.NewReader(good1 + tt.bad + good2))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, pkgs); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestParseStatusBadFiles: the files of testdata/bad alone. A file that is
// wholly not a status file is an error; the others degrade their record.
func TestParseStatusBadFiles(t *testing.T) {
	tests := []struct {
		file    string
		want    []string // name@version
		warns   []string
		wantErr string
	}{
		{"continuation-outside", []string{"x@"}, []string{"line 1: continuation line outside a field; skipped", `stanza at line 2 (package "x"): no Version field; kept with an empty version`}, ""},
		{"no-colon", []string{"x@"}, []string{`line 2: want "Field: value", got "this line has no colon"; skipped`, `stanza at line 1 (package "x"): no Version field; kept with an empty version`}, ""},
		{"no-version", []string{"x@"}, []string{`stanza at line 1 (package "x"): no Version field; kept with an empty version`}, ""},
		{"bad-epoch", []string{"x@abc:1.0"}, []string{`stanza at line 1 (package "x"): version "abc:1.0": bad epoch "abc"; kept with the version as written`}, ""},
		{"bad-source", []string{"x@1.0"}, []string{`stanza at line 1 (package "x"): want "Source: name (version)", got "src (1.0"; source version kept as written`}, ""},
		{"bad-status", []string{"x@1.0"}, []string{`stanza at line 1 (package "x"): Status "installed" does not have three words; counted as installed`}, ""},
		{"no-package", nil, nil, "parse status: not a dpkg status file (no stanza has a Package field): stanza at line 1: no Package field; dropped"},
		{"garbage", nil, nil, "parse status: not a dpkg status file (no stanza has a Package field): line 1: continuation line outside a field; skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			pkgs, warns, err := ParseStatus(bytes.NewReader(b))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if pkgs != nil || warns != nil {
					t.Errorf("results returned with an error: %v, %q", pkgs, warns)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+"@"+p.Version)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestHugeLine: a 2 MiB line between good records is skipped with one
// warning naming its line; the records around it, and the stanza holding
// it, are reported.
func TestHugeLine(t *testing.T) {
	huge := strings.Repeat("a", 2<<20)
	in := "Package: before\nVersion: 1\n\nPackage: holder\nVersion: 2\nDescription: " + huge + "\n continued description\n\nPackage: after\nVersion: 3\n"
	res, err := New().CatalogFile(context.Background(), catalog.File{Path: statusPath, R: strings.NewReader(in), Size: int64(len(in))})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Packages {
		got = append(got, p.Name+"@"+p.Version)
	}
	if d := cmp.Diff([]string{"before@1", "holder@2", "after@3"}, got); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	want := []string{fmt.Sprintf("dpkg: var/lib/dpkg/status: line 6: %d bytes, longer than the %d byte limit; skipped", len("Description: ")+len(huge), MaxLineSize)}
	if d := cmp.Diff(want, res.Warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	// A huge line alone in its stanza is one warning too.
	in = "Package: before\nVersion: 1\n\n" + huge + "\n\nPackage: after\nVersion: 3\n"
	pkgs, warns, err := ParseStatus(strings.NewReader(in))
	if err != nil || len(pkgs) != 2 || len(warns) != 1 || !strings.HasPrefix(warns[0], "line 4: ") {
		t.Errorf("huge stanza: %d packages, warnings %q, error %v; want 2, one warning for line 4", len(pkgs), warns, err)
	}
}

// TestWarningCap: a file of many bad lines lists warn.Max warnings and one
// that counts the rest, and keeps its good record.
func TestWarningCap(t *testing.T) {
	in := strings.Repeat("junk\n", 1000) + "Package: x\nVersion: 1\n"
	pkgs, warns, err := ParseStatus(strings.NewReader(in))
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("%v, %v", pkgs, err)
	}
	if len(warns) != warn.Max+1 || warns[warn.Max] != fmt.Sprintf("%d more problems not listed", 1000-warn.Max) {
		t.Errorf("%d warnings, last %q", len(warns), warns[len(warns)-1])
	}
}

func TestHostile(t *testing.T) {
	status, err := os.ReadFile(filepath.Join("testdata", "root", "var", "lib", "dpkg", "status"))
	if err != nil {
		t.Fatal(err)
	}
	full, _, err := ParseStatus(bytes.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("truncated", func(t *testing.T) {
		// Every prefix parses to an error or to no more packages than the
		// whole file, and never panics.
		for n := range len(status) {
			pkgs, _, err := ParseStatus(bytes.NewReader(status[:n]))
			if err == nil && len(pkgs) > len(full) {
				t.Fatalf("prefix %d: %d packages, more than the whole file's %d", n, len(pkgs), len(full))
			}
		}
	})
	t.Run("huge list line", func(t *testing.T) {
		owned, warns, err := ParseList(bytes.NewReader(append([]byte("/ok\n/"), append(bytes.Repeat([]byte("a"), MaxLineSize+10), "\n/after"...)...)))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"ok", "after"}, owned); d != "" {
			t.Errorf("ParseList kept (-want +got):\n%s", d)
		}
		if len(warns) != 1 || !strings.HasPrefix(warns[0], "line 2: ") {
			t.Errorf("warnings %q", warns)
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, _, err := ParseStatus(iotest.TimeoutReader(bytes.NewReader(status)))
		if err == nil || !strings.Contains(err.Error(), iotest.ErrTimeout.Error()) {
			t.Fatalf("error = %v, want the reader's error", err)
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		_, err := New().CatalogFile(context.Background(), catalog.File{Path: statusPath, R: bytes.NewReader(nil), Size: MaxFileSize + 1})
		if err == nil || !strings.Contains(err.Error(), "byte limit") {
			t.Fatalf("error = %v, want a size-limit error", err)
		}
	})
	t.Run("garbage list", func(t *testing.T) {
		res, err := New().CatalogFile(context.Background(), catalog.File{Path: "var/lib/dpkg/info/x.list", R: bytes.NewReader([]byte("\x00\xff/\n\x01")), Size: 5})
		if err != nil || len(res.Packages) != 0 {
			t.Fatalf("CatalogFile = %+v, %v; a .list never fails and never yields packages", res, err)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, dir := range []string{"testdata/bad", "testdata/root/var/lib/dpkg/status.d", "testdata/root/var/lib/dpkg"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, warns, err := ParseStatus(bytes.NewReader(b))
		if err != nil {
			if pkgs != nil || warns != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		if len(warns) > warn.Max+1 {
			t.Fatalf("%d warnings, more than the cap", len(warns))
		}
		for _, p := range pkgs {
			if p.Name == "" || p.SourceName == "" || p.Type != inventory.TypeDeb || p.Version != strings.TrimSpace(p.Version) {
				t.Fatalf("incomplete package %+v", p)
			}
			if p.Version != "" && p.SourceVersion == "" {
				t.Fatalf("package %+v has a version but no source version", p)
			}
		}
		// Every edge joins two of the file's packages.
		_, rels, _, _ := parseStatus(bytes.NewReader(b))
		have := map[inventory.PackageRef]bool{}
		for _, p := range pkgs {
			have[inventory.RefOf(p)] = true
		}
		for _, r := range rels {
			if !have[r.From] || !have[r.To] || r.From == r.To {
				t.Fatalf("relationship %+v: not between two packages of the file", r)
			}
		}
		// Parsing is stable: the same input gives the same result.
		again, warns2, err := ParseStatus(bytes.NewReader(b))
		if err != nil || !cmp.Equal(pkgs, again) || !cmp.Equal(warns, warns2) {
			t.Fatalf("second parse differs: %v", err)
		}
		_, _, _ = ParseList(bytes.NewReader(b))
	})
}

// TestRealImages parses the dpkg status of every dpkg image in
// ../shared/images and checks the count against the manifest and against
// dpkg-query, plus a few packages by hand.
func TestRealImages(t *testing.T) {
	dir, images := testutil.SharedImages(t, "dpkg")
	type check struct {
		name, arch string
		want       inventory.Package
	}
	deb := func(name, version string, epoch int, arch, srcName, srcVersion string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypeDeb, Epoch: epoch, Arch: arch, SourceName: srcName, SourceVersion: srcVersion, Path: statusPath, Cataloger: "dpkg"}
	}
	checks := map[string][]check{
		"debian-10.tar": {{"bsdutils", "amd64", deb("bsdutils", "1:2.33.1-0.1", 1, "amd64", "util-linux", "2.33.1-0.1")}},
		"debian-11.oci": {{"bsdutils", "amd64", deb("bsdutils", "1:2.36.1-8+deb11u2", 1, "amd64", "util-linux", "2.36.1-8+deb11u2")}},
		"debian-12.tar": {
			{"bash", "amd64", deb("bash", "5.2.15-2+b13", 0, "amd64", "bash", "5.2.15-2")},
			{"libcap2", "amd64", deb("libcap2", "1:2.66-4+deb12u3+b1", 1, "amd64", "libcap2", "1:2.66-4+deb12u3")},
		},
		"ubuntu-14.04.tar": {
			{"bsdutils", "armhf", deb("bsdutils", "1:2.20.1-5.1ubuntu20", 1, "armhf", "util-linux", "2.20.1-5.1ubuntu20")},
			{"libpam-cap", "armhf", deb("libpam-cap", "1:2.24-0ubuntu2", 1, "armhf", "libcap2", "1:2.24-0ubuntu2")},
		},
		"ubuntu-16.04.tar": {{"libaudit1", "amd64", deb("libaudit1", "1:2.4.5-1ubuntu2.1", 1, "amd64", "audit", "1:2.4.5-1ubuntu2.1")}},
		"ubuntu-18.04.tar": {{"libaudit1", "amd64", deb("libaudit1", "1:2.8.2-1ubuntu1", 1, "amd64", "audit", "1:2.8.2-1ubuntu1")}},
		"ubuntu-20.04.tar": {{"bsdutils", "amd64", deb("bsdutils", "1:2.34-0.1ubuntu9.3", 1, "amd64", "util-linux", "2.34-0.1ubuntu9.3")}},
		"ubuntu-22.04.oci": {{"bsdutils", "amd64", deb("bsdutils", "1:2.37.2-4ubuntu3", 1, "amd64", "util-linux", "2.37.2-4ubuntu3")}},
		"ubuntu-23.04.tar": {{"bsdutils", "amd64", deb("bsdutils", "1:2.38.1-4ubuntu1", 1, "amd64", "util-linux", "2.38.1-4ubuntu1")}},
	}
	for _, im := range images {
		t.Run(im.File, func(t *testing.T) {
			b := testutil.ExtractFile(t, filepath.Join(dir, im.File), statusPath)
			res, err := New().CatalogFile(context.Background(), catalog.File{Path: statusPath, R: bytes.NewReader(b), Size: int64(len(b))})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Packages) != im.Packages {
				t.Errorf("%d packages, manifest.json says %d", len(res.Packages), im.Packages)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings on a real database: %q", res.Warnings)
			}
			// The independent count, in a subtest so that a missing
			// dpkg-query shows in the skipped tests.
			t.Run("dpkg-query", func(t *testing.T) {
				if n := dpkgQueryCount(t, b); n != len(res.Packages) {
					t.Errorf("%d packages, dpkg-query counts %d", len(res.Packages), n)
				}
			})
			cs, ok := checks[im.File]
			if !ok {
				t.Fatalf("no package checks for %s: add some", im.File)
			}
			for _, c := range cs {
				var got *inventory.Package
				for i, p := range res.Packages {
					if p.Name == c.name && p.Arch == c.arch {
						got = &res.Packages[i]
					}
				}
				if got == nil {
					t.Errorf("no %s:%s", c.name, c.arch)
					continue
				}
				if d := cmp.Diff(c.want, *got); d != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, d)
				}
			}
		})
	}
}

// dpkgQueryCount counts the packages dpkg-query lists in a status file whose
// state means their files are on disk; it skips the test when dpkg-query is
// missing.
func dpkgQueryCount(t *testing.T, status []byte) int {
	t.Helper()
	bin, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Skipf("independent dpkg-query count skipped: dpkg-query not installed (apt-get install dpkg): %v", err)
	}
	admin := t.TempDir()
	if err := os.WriteFile(filepath.Join(admin, "status"), status, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(admin, "updates"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--admindir="+admin, "-W", "-f", "${db:Status-Status}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	n := 0
	for _, s := range strings.Fields(string(out)) {
		if s != "config-files" && s != "not-installed" {
			n++
		}
	}
	t.Logf("dpkg-query: %d packages", n)
	return n
}

// TestRealLists reads the dpkg .list files of the debian-12 rootfs.
func TestRealLists(t *testing.T) {
	dir := filepath.Join(sharedImagesDir(t), "debian-12.tar")
	files := testutil.ExtractFiles(t, dir, isList)
	if len(files) != 88 {
		t.Errorf("%d .list files, want one per package (88)", len(files))
	}
	owned := map[string]bool{}
	for p, b := range files {
		res, err := New().CatalogFile(context.Background(), catalog.File{Path: p, R: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil || len(res.Warnings) != 0 || len(res.Packages) != 0 {
			t.Fatalf("%s: %+v, %v", p, res.Warnings, err)
		}
		for _, o := range res.Owned {
			owned[o] = true
		}
	}
	// bookworm is usr-merged on disk, but dpkg still records /lib and /bin.
	for _, p := range []string{"lib/x86_64-linux-gnu/libc.so.6", "bin/bash", "usr/bin/dpkg"} {
		if !owned[p] {
			t.Errorf("%s is not owned", p)
		}
	}
	if owned[""] || owned["/"] || owned["."] {
		t.Error("the root is listed as owned")
	}
}

func sharedImagesDir(t *testing.T) string {
	dir, _ := testutil.SharedImages(t, "dpkg")
	return dir
}

func TestDepends(t *testing.T) {
	const status = `Package: app
Status: install ok installed
Version: 1
Depends: libc6 (>= 2.34), libgcc-s1 | libgcc1, awk-impl:any, missing (>= 1) | also-missing, debconf (>= 0.5) | debconf-2.0
Pre-Depends: dpkg (>= 1.19)

Package: libc6
Status: install ok installed
Version: 2.36
Depends: libgcc-s1, app

Package: libgcc1
Status: install ok installed
Version: 1:12

Package: libgcc-s1
Status: install ok installed
Version: 12
Depends: libc6 (>= 2.35)

Package: mawk
Status: install ok installed
Version: 1.3
Provides: awk-impl, awk (= 1.3)

Package: cdebconf
Status: install ok installed
Version: 0.270
Provides: debconf-2.0

Package: dpkg
Status: deinstall ok config-files
Version: 1.21
`
	_, rels, _, err := parseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range inventory.SortRelationships(rels) {
		got = append(got, r.From.String()+" -> "+r.To.String())
	}
	// libgcc-s1 is installed, so libgcc1 is not taken; awk-impl and
	// debconf-2.0 are provided; dpkg is not on disk; cycles are kept as
	// edges.
	want := []string{
		"app@1 -> cdebconf@0.270", "app@1 -> libc6@2.36", "app@1 -> libgcc-s1@12", "app@1 -> mawk@1.3",
		"libc6@2.36 -> app@1", "libc6@2.36 -> libgcc-s1@12",
		"libgcc-s1@12 -> libc6@2.36",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}
