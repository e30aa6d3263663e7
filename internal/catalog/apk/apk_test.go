package apk

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
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

const installed = "lib/apk/db/installed"

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"lib/apk/db/installed", true},
		{"usr/lib/apk/db/installed", true},
		{"/lib/apk/db/installed", false},
		{"lib/apk/db/installed.bak", false},
		{"lib/apk/db/scripts.tar", false},
		{"etc/apk/world", false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestCatalogFixtures runs the cataloger over every file of testdata/root it
// asks for and compares the results with testdata/golden/root.json.
func TestCatalogFixtures(t *testing.T) {
	root := filepath.Join("testdata", "root")
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
		if err != nil || !New().Required(rel, info) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res, err := New().CatalogFile(context.Background(), catalog.File{Path: rel, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Errorf("CatalogFile(%s): %v", rel, err)
		}
		got[rel] = res
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("cataloged %d files, want both installed databases", len(got))
	}
	golden(t, filepath.Join("testdata", "golden", "root.json"), got)
}

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

// TestParseFields spells out the fixture's packages and files, so a
// regression cannot hide in a regenerated golden file.
func TestParseFields(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "root", installed))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, owned, warns, err := Parse(bytes.NewReader(b))
	if err != nil || warns != nil {
		t.Fatal(err, warns)
	}
	apk := func(name, version, arch, origin string, licenses ...string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypeAPK, Arch: arch, SourceName: origin, SourceVersion: version, Licenses: licenses}
	}
	want := []inventory.Package{
		apk("musl", "1.2.4_git20230717-r4", "x86_64", "musl", "MIT"),
		apk("libcrypto3", "3.1.4-r5", "x86_64", "openssl", "Apache-2.0"),
		apk("no-origin-no-license", "1.0-r0", "noarch", "no-origin-no-license"),
		apk("busybox-binsh", "1.36.1-r15", "x86_64", "busybox", "GPL-2.0-only AND bzip2-1.0.6"),
	}
	if d := cmp.Diff(want, pkgs); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	wantOwned := []string{
		"lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1",
		"etc/ssl/openssl.cnf.dist", "usr/lib/libcrypto.so.3", "usr/lib/engines-3/afalg.so", "usr/lib/engines-3/loader_attic.so",
		"top-level-file",
		"bin/sh", "escape/attempt", // F:../../escape stays inside the root
	}
	if d := cmp.Diff(wantOwned, owned); d != "" {
		t.Errorf("owned (-want +got):\n%s", d)
	}
	viaParseAPK, _, err := ParseAPK(bytes.NewReader(b))
	if err != nil || !cmp.Equal(pkgs, viaParseAPK) {
		t.Errorf("ParseAPK differs from Parse: %v", err)
	}
}

// TestParseMalformed mixes malformed records with good ones: the good ones
// are kept, the bad ones dropped (no name) or kept with the version as
// written, each with its exact warning.
func TestParseMalformed(t *testing.T) {
	const good1 = "P:good1\nV:1.0-r0\no:src1\nF:usr/bin\nR:good1\n\n"
	const good2 = "\nP:good2\nV:2.0-r1\n"
	apk := func(name, version, origin string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypeAPK, SourceName: origin, SourceVersion: version}
	}
	g1, g2 := apk("good1", "1.0-r0", "src1"), apk("good2", "2.0-r1", "good2")
	tests := []struct {
		name  string
		bad   string // between good1 and good2
		want  []inventory.Package
		owned []string
		warns []string
	}{
		{"unparseable version kept", "P:musl\nV:1.2.4_r2\n", []inventory.Package{g1, apk("musl", "1.2.4_r2", "musl"), g2}, []string{"usr/bin/good1"}, nil},
		{"no version", "P:x\nA:x86_64\n", []inventory.Package{g1, {Name: "x", Type: inventory.TypeAPK, Arch: "x86_64", SourceName: "x"}, g2}, []string{"usr/bin/good1"},
			[]string{`record at line 7 (package "x"): no V: (version) line; kept with an empty version`}},
		{"no name", "V:1\nA:x86_64\n", []inventory.Package{g1, g2}, []string{"usr/bin/good1"},
			[]string{"record at line 7: no P: (name) line; dropped"}},
		{"not a key", "P:x\nV:1\nthis is not a key\nR:f\n", []inventory.Package{g1, apk("x", "1", "x"), g2}, []string{"usr/bin/good1", "f"},
			[]string{`line 9: want "K:value", got "this is not a key"; skipped`}},
		{"slash in R", "P:x\nV:1\nF:usr\nR:sub/dir\nR:ok\n", []inventory.Package{g1, apk("x", "1", "x"), g2}, []string{"usr/bin/good1", "usr/ok"},
			[]string{`line 10: bad R: file name "sub/dir"; not listed as owned`}},
		{"dot-dot R", "P:x\nV:1\nR:..\n", []inventory.Package{g1, apk("x", "1", "x"), g2}, []string{"usr/bin/good1"},
			[]string{`line 9: bad R: file name ".."; not listed as owned`}},
		{"two records without a blank line", "P:x\nV:1\nP:y\nV:2\n", []inventory.Package{g1, apk("x", "1", "x"), g2}, []string{"usr/bin/good1"},
			[]string{`line 9: repeated P: "y" in the record of "x" (a missing blank line?); the first is kept`, `line 10: repeated V: "2" in the record at line 7; the first is kept`}},
		{"garbage record", "\x89PNG\r\n\x1a\n", []inventory.Package{g1, g2}, []string{"usr/bin/good1"},
			[]string{`line 7: want "K:value", got "\x89PNG"; skipped`, `line 8: want "K:value", got "\x1a"; skipped`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, owned, warns, err := Parse(strings.NewReader(good1 + tt.bad + good2))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, pkgs); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.owned, owned); d != "" {
				t.Errorf("owned (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestParseBadFiles: the files of testdata/bad alone.
func TestParseBadFiles(t *testing.T) {
	tests := []struct {
		file    string
		want    []string // name@version
		warns   []string
		wantErr string
	}{
		{"no-key", []string{"x@1"}, []string{`line 3: want "K:value", got "this is not a key"; skipped`}, ""},
		{"no-version", []string{"x@", "y@1"}, []string{`record at line 1 (package "x"): no V: (version) line; kept with an empty version`}, ""},
		{"slash-in-R", []string{"x@1"}, []string{`line 4: bad R: file name "sub/dir"; not listed as owned`}, ""},
		{"no-name", nil, nil, "parse installed: not an apk database (no record has a P: line): record at line 1: no P: (name) line; dropped"},
		{"garbage", nil, nil, `parse installed: not an apk database (no record has a P: line): line 1: want "K:value", got "\x89PNG"; skipped`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			pkgs, owned, warns, err := Parse(bytes.NewReader(b))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if pkgs != nil || owned != nil || warns != nil {
					t.Error("results returned with an error")
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
// warning naming its line, and the records around it are reported.
func TestHugeLine(t *testing.T) {
	huge := "T:" + strings.Repeat("a", 2<<20)
	in := "P:before\nV:1\n\nP:holder\nV:2\n" + huge + "\nR:f\n\nP:after\nV:3\n"
	res, err := New().CatalogFile(context.Background(), catalog.File{Path: installed, R: strings.NewReader(in), Size: int64(len(in))})
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
	want := []string{fmt.Sprintf("apk: lib/apk/db/installed: line 6: %d bytes, longer than the %d byte limit; skipped", len(huge), MaxLineSize)}
	if d := cmp.Diff(want, res.Warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"f"}, res.Owned); d != "" {
		t.Errorf("owned (-want +got):\n%s", d)
	}
}

func TestHostile(t *testing.T) {
	db, err := os.ReadFile(filepath.Join("testdata", "root", installed))
	if err != nil {
		t.Fatal(err)
	}
	full, _, _, err := Parse(bytes.NewReader(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("truncated", func(t *testing.T) {
		for n := range len(db) {
			pkgs, _, _, err := Parse(bytes.NewReader(db[:n]))
			if err == nil && len(pkgs) > len(full) {
				t.Fatalf("prefix %d: %d packages, more than the whole file's %d", n, len(pkgs), len(full))
			}
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, _, _, err := Parse(iotest.TimeoutReader(bytes.NewReader(db)))
		if err == nil || !strings.Contains(err.Error(), iotest.ErrTimeout.Error()) {
			t.Fatalf("error = %v, want the reader's error", err)
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		_, err := New().CatalogFile(context.Background(), catalog.File{Path: installed, R: bytes.NewReader(nil), Size: MaxFileSize + 1})
		if err == nil || !strings.Contains(err.Error(), "byte limit") {
			t.Fatalf("error = %v, want a size-limit error", err)
		}
	})
	t.Run("warning cap", func(t *testing.T) {
		in := strings.Repeat("junk\n", 1000) + "P:x\nV:1\n"
		pkgs, _, warns, err := Parse(strings.NewReader(in))
		if err != nil || len(pkgs) != 1 || len(warns) != warn.Max+1 {
			t.Fatalf("%d packages, %d warnings, %v", len(pkgs), len(warns), err)
		}
	})
}

func FuzzParseAPK(f *testing.F) {
	for _, p := range []string{"testdata/root/" + installed, "testdata/root/usr/" + installed} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/bad", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, owned, warns, err := Parse(bytes.NewReader(b))
		if err != nil {
			if pkgs != nil || owned != nil || warns != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		if len(warns) > warn.Max+1 {
			t.Fatalf("%d warnings, more than the cap", len(warns))
		}
		// Every edge joins two of the database's packages.
		_, _, rels, _, _ := parse(bytes.NewReader(b))
		have := map[inventory.PackageRef]bool{}
		for _, p := range pkgs {
			have[inventory.RefOf(p)] = true
		}
		for _, r := range rels {
			if !have[r.From] || !have[r.To] || r.From == r.To {
				t.Fatalf("relationship %+v: not between two packages of the database", r)
			}
		}
		for _, p := range pkgs {
			if p.Name == "" || p.SourceName == "" || p.SourceVersion != p.Version || p.Version != strings.TrimSpace(p.Version) {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		for _, o := range owned {
			if o == "" || strings.HasPrefix(o, "/") || o == ".." || strings.HasPrefix(o, "../") {
				t.Fatalf("owned path %q is not inside the root", o)
			}
		}
		again, owned2, warns2, err := Parse(bytes.NewReader(b))
		if err != nil || !cmp.Equal(pkgs, again) || !cmp.Equal(owned, owned2) || !cmp.Equal(warns, warns2) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// TestRealImages parses the apk database of every apk image in
// ../shared/images and checks the count against the manifest and against an
// independent count of P: lines, plus libcrypto's origin.
func TestRealImages(t *testing.T) {
	dir, images := testutil.SharedImages(t, "apk")
	libcrypto := map[string]inventory.Package{
		"3.16": {Name: "libcrypto1.1", Version: "1.1.1q-r0", Licenses: []string{"OpenSSL"}},
		"3.17": {Name: "libcrypto3", Version: "3.0.8-r3", Licenses: []string{"Apache-2.0"}},
		"3.18": {Name: "libcrypto3", Version: "3.1.2-r0", Licenses: []string{"Apache-2.0"}},
		"3.19": {Name: "libcrypto3", Version: "3.1.4-r5", Licenses: []string{"Apache-2.0"}},
		"3.20": {Name: "libcrypto3", Version: "3.3.2-r0", Licenses: []string{"Apache-2.0"}},
	}
	base := map[string]string{ // alpine release of each image
		"alpine-3.16.tar": "3.16", "alpine-3.17.tar": "3.17", "alpine-3.18.tar": "3.18", "alpine-3.19.tar": "3.19", "alpine-3.20.oci": "3.20",
		"lang-java-go.tar": "3.20", "lang-python-node.oci": "3.18", "multilayer-whiteout.tar": "3.16",
	}
	for _, im := range images {
		t.Run(im.File, func(t *testing.T) {
			b := testutil.ExtractFile(t, filepath.Join(dir, im.File), installed)
			res, err := New().CatalogFile(context.Background(), catalog.File{Path: installed, R: bytes.NewReader(b), Size: int64(len(b))})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Packages) != im.Packages {
				t.Errorf("%d packages, manifest.json says %d", len(res.Packages), im.Packages)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings on a real database: %q", res.Warnings)
			}
			records := bytes.Count(append([]byte("\n"), b...), []byte("\nP:"))
			if records != len(res.Packages) {
				t.Errorf("%d packages, the file has %d P: records", len(res.Packages), records)
			}
			if files := bytes.Count(b, []byte("\nR:")); files != len(res.Owned) {
				t.Errorf("%d owned files, the file has %d R: lines", len(res.Owned), files)
			}
			rel, ok := base[im.File]
			if !ok {
				t.Fatalf("no package checks for %s: add some", im.File)
			}
			want := libcrypto[rel]
			want.Type, want.Arch, want.SourceName, want.SourceVersion = inventory.TypeAPK, "x86_64", "openssl", want.Version
			want.Path, want.Cataloger = installed, "apk"
			var got inventory.Package
			for _, p := range res.Packages {
				if p.Name == want.Name {
					got = p
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s (-want +got):\n%s", want.Name, d)
			}
			for _, o := range res.Owned {
				if o == "lib/libcrypto.so.3" || o == "lib/libcrypto.so.1.1" || o == "usr/lib/libcrypto.so.3" {
					return
				}
			}
			t.Error("libcrypto's shared object is not owned")
		})
	}
}

func TestDepends(t *testing.T) {
	const db = `P:musl
V:1.2.4-r4
p:so:libc.musl-x86_64.so.1=1
R:libc.musl-x86_64.so.1
F:lib

P:busybox
V:1.36.1-r15
D:so:libc.musl-x86_64.so.1 !busybox-extras
p:cmd:sh=1.36.1-r15
F:bin
R:sh

P:app
V:1.0-r0
D:busybox>=1.36 /bin/sh cmd:sh so:libmissing.so.1 musl~1.2

P:busybox-extras
V:1.36.1-r15
`
	_, _, rels, _, err := parse(strings.NewReader(db))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range inventory.SortRelationships(rels) {
		got = append(got, r.From.Name+" -> "+r.To.Name)
	}
	want := []string{"app -> busybox", "app -> musl", "busybox -> musl"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}
