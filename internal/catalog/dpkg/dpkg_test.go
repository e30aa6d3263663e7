package dpkg

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
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
	pkgs, err := ParseStatus(f)
	if err != nil {
		t.Fatal(err)
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

func TestParseStatusErrors(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"continuation-outside", "line 1: continuation line outside a field"},
		{"no-colon", `line 2: want "Field: value"`},
		{"no-version", `stanza at line 1: package "x": no Version field`},
		{"no-package", "stanza at line 1: no Package field"},
		{"bad-epoch", `bad epoch "abc"`},
		{"bad-source", `want "Source: name (version)"`},
		{"bad-status", "does not have three words"},
		{"garbage", "continuation line outside a field"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := ParseStatus(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseStatus error = %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "parse status: ") {
				t.Errorf("error %q does not name the stage", err)
			}
			if pkgs != nil {
				t.Errorf("got packages %v with an error", pkgs)
			}
		})
	}
}

func TestHostile(t *testing.T) {
	status, err := os.ReadFile(filepath.Join("testdata", "root", "var", "lib", "dpkg", "status"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := ParseStatus(bytes.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("truncated", func(t *testing.T) {
		// Every prefix parses to an error or to no more packages than the
		// whole file, and never panics.
		for n := range len(status) {
			pkgs, err := ParseStatus(bytes.NewReader(status[:n]))
			if err == nil && len(pkgs) > len(full) {
				t.Fatalf("prefix %d: %d packages, more than the whole file's %d", n, len(pkgs), len(full))
			}
		}
	})
	t.Run("huge line", func(t *testing.T) {
		b := append([]byte("Package: x\nDescription: "), bytes.Repeat([]byte("a"), MaxLineSize+10)...)
		_, err := ParseStatus(bytes.NewReader(b))
		if err == nil || !strings.Contains(err.Error(), "line 2: line longer than") {
			t.Fatalf("error = %v, want a line-length error at line 2", err)
		}
		owned, err := ParseList(bytes.NewReader(append([]byte("/ok\n/"), bytes.Repeat([]byte("a"), MaxLineSize+10)...)))
		if err == nil || !strings.Contains(err.Error(), "line longer than") {
			t.Fatalf("ParseList error = %v, want a line-length error", err)
		}
		if d := cmp.Diff([]string{"ok"}, owned); d != "" {
			t.Errorf("ParseList kept (-want +got):\n%s", d)
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, err := ParseStatus(iotest.TimeoutReader(bytes.NewReader(status)))
		if err == nil || !strings.Contains(err.Error(), iotest.ErrTimeout.Error()) {
			t.Fatalf("error = %v, want the reader's error", err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		l := &limitedReader{r: strings.NewReader("0123456789"), n: 10}
		b := make([]byte, 20)
		if n, err := l.Read(b); n != 10 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if _, err := l.Read(b); err != nil {
			// exactly at the limit and at EOF: no error beyond io.EOF
			if err.Error() != "EOF" {
				t.Fatalf("at limit: %v", err)
			}
		}
		l = &limitedReader{r: strings.NewReader("0123456789x"), n: 10}
		_, _ = l.Read(b)
		if _, err := l.Read(b); err != errTooBig {
			t.Fatalf("past limit: %v, want %v", err, errTooBig)
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
		pkgs, err := ParseStatus(bytes.NewReader(b))
		if err != nil {
			if pkgs != nil {
				t.Fatal("packages returned with an error")
			}
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.SourceVersion == "" || p.Type != inventory.TypeDeb {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		_, _ = ParseList(bytes.NewReader(b))
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
			if n, ok := dpkgQueryCount(t, b); ok && n != len(res.Packages) {
				t.Errorf("%d packages, dpkg-query counts %d", len(res.Packages), n)
			}
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
// state means their files are on disk (ok is false when dpkg-query is
// missing).
func dpkgQueryCount(t *testing.T, status []byte) (int, bool) {
	t.Helper()
	bin, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Logf("independent check skipped: dpkg-query not installed (%v)", err)
		return 0, false
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
	return n, true
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
