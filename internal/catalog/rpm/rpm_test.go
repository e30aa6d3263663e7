package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/rpm/internal/container"
	"github.com/stowaway-scanner/stowaway/internal/inventory"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

var (
	update     = flag.Bool("update", false, "rewrite the golden files in testdata/golden")
	fullCorpus = flag.Bool("rpmdb-corpus-all", false, "compare against every database in go-rpmdb's testdata, not a representative few")
)

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"var/lib/rpm/Packages", true},
		{"var/lib/rpm/Packages.db", true},
		{"var/lib/rpm/rpmdb.sqlite", true},
		{"usr/lib/sysimage/rpm/Packages", true},
		{"usr/lib/sysimage/rpm/Packages.db", true},
		{"usr/lib/sysimage/rpm/rpmdb.sqlite", true},
		{"var/lib/rpm/rpmdb.sqlite-shm", false},
		{"var/lib/rpm/Name", false},
		{"var/lib/rpm/__db.001", false},
		{"/var/lib/rpm/Packages", false},
		{"opt/var/lib/rpm/Packages", false},
		{"var/lib/rpm/sub/Packages", false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestSplitSourceRPM(t *testing.T) {
	tests := []struct {
		in                     string
		name, version, release string
		ok                     bool
	}{
		{"openssl-1.1.1k-5.el8_5.src.rpm", "openssl", "1.1.1k", "5.el8_5", true},
		{"util-linux-2.32.1-42.el8_8.src.rpm", "util-linux", "2.32.1", "42.el8_8", true},
		{"python3-3.6.8-2.el8_0.src.rpm", "python3", "3.6.8", "2.el8_0", true},
		{"foo-1-2.nosrc.rpm", "foo", "1", "2", true},
		{"", "", "", "", false},
		{"(none)", "", "", "", false},
		{"foo-1.src.rpm", "", "", "", false},
		{"-1-2.src.rpm", "", "", "", false},
		{"foo--2.src.rpm", "", "", "", false},
		{"foo-1-.src.rpm", "", "", "", false},
		{"foo-1-2.rpm", "", "", "", false},
	}
	for _, tt := range tests {
		name, version, release, ok := SplitSourceRPM(tt.in)
		got := []any{name, version, release, ok}
		want := []any{tt.name, tt.version, tt.release, tt.ok}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("SplitSourceRPM(%q) (-want +got):\n%s", tt.in, d)
		}
	}
}

// fixtures returns the three fixture databases, holding the same headers:
// the BDB and SQLite ones written by rpm (testdata/gen/gen.sh) and an NDB one
// built here from the BDB one's headers, since Debian's rpm cannot write
// NDB. (Not from the SQLite one: SQLite under fuzzing instrumentation is very
// slow, and the in-memory fuzzers need this too.)
func fixtures(t testing.TB) map[Format][]byte {
	t.Helper()
	out := map[Format][]byte{}
	for f, p := range map[Format]string{FormatBDB: "testdata/bdb/Packages", FormatSQLite: "testdata/sqlite/rpmdb.sqlite"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	var blobs [][]byte
	var w warn.List
	err := container.WalkBDB(context.Background(), bytes.NewReader(out[FormatBDB]), int64(len(out[FormatBDB])), &w, func(b []byte) error {
		blobs = append(blobs, b)
		return nil
	})
	if err != nil || w.Len() > 0 {
		t.Fatal(err, w.Strings(""))
	}
	out[FormatNDB] = container.NDBImage(blobs...)
	return out
}

func parseBytes(t testing.TB, b []byte) (catalog.Result, error) {
	t.Helper()
	return parse(context.Background(), bytes.NewReader(b), int64(len(b)), t.TempDir())
}

func TestFixtures(t *testing.T) {
	got := map[Format]catalog.Result{}
	for format, b := range fixtures(t) {
		if f, err := DetectFormat(bytes.NewReader(b), int64(len(b))); err != nil || f != format {
			t.Errorf("DetectFormat = %q, %v; want %q", f, err, format)
		}
		res, err := New().CatalogFile(context.Background(), catalog.File{Path: "var/lib/rpm/" + string(format), R: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for i := range res.Packages {
			res.Packages[i].Path = "" // differs by format on purpose
		}
		// BDB gives hash order, the others insertion order.
		sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].Name < res.Packages[j].Name })
		sort.Strings(res.Owned)
		got[format] = res
	}
	// All three formats hold the same headers, in the same order.
	for _, f := range []Format{FormatNDB, FormatSQLite} {
		if d := cmp.Diff(got[FormatBDB], got[f]); d != "" {
			t.Errorf("%s differs from bdb (-bdb +%s):\n%s", f, f, d)
		}
	}
	golden(t, filepath.Join("testdata", "golden", "fixtures.json"), got[FormatBDB])

	// Spelled out, so a regression cannot hide in a regenerated golden file.
	byName := map[string]inventory.Package{}
	for _, p := range got[FormatBDB].Packages {
		byName[p.Name] = p
	}
	label := "demo:1.4:9020020230101:abcdef01"
	want := []inventory.Package{
		{Name: "demo-tool", Version: "2:1.4.1-3.fx9", Type: inventory.TypeRPM, Epoch: 2, Release: "3.fx9", Arch: "x86_64",
			SourceName: "demo-tool", SourceVersion: "2:1.4.1-3.fx9", Module: label, Licenses: []string{"MIT AND BSD-3-Clause"}, Cataloger: "rpm"},
		{Name: "demo-tool-libs", Version: "2:1.4.1-3.fx9", Type: inventory.TypeRPM, Epoch: 2, Release: "3.fx9", Arch: "x86_64",
			SourceName: "demo-tool", SourceVersion: "2:1.4.1-3.fx9", Module: label, Licenses: []string{"MIT"}, Cataloger: "rpm"},
		{Name: "libdemo", Version: "0.9-1.fx9", Type: inventory.TypeRPM, Release: "1.fx9", Arch: "noarch",
			SourceName: "libdemo", SourceVersion: "0.9-1.fx9", Licenses: []string{"GPL-2.0-or-later"}, Cataloger: "rpm"},
	}
	if len(byName) != len(want) {
		t.Errorf("%d packages, want %d (gpg-pubkey skipped)", len(byName), len(want))
	}
	for _, w := range want {
		if d := cmp.Diff(w, byName[w.Name]); d != "" {
			t.Errorf("%s (-want +got):\n%s", w.Name, d)
		}
	}
	wantOwned := []string{"etc/demo.conf", "usr/bin/demo", "usr/lib/python3/site-packages/libdemo-0.9.dist-info/METADATA", "usr/lib64/libdemo.so.1", "usr/share/doc/demo-tool/README"}
	if d := cmp.Diff(wantOwned, got[FormatBDB].Owned); d != "" {
		t.Errorf("owned (-want +got):\n%s", d)
	}
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

// TestAgainstGoRPMDB compares this package's own container walkers with
// go-rpmdb's readers on go-rpmdb's test databases (real CentOS 5-8, UBI 8
// s390x big-endian, SLE 15 NDB, Fedora and CBL-Mariner SQLite images).
func TestAgainstGoRPMDB(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("go-rpmdb's module directory not found (%v): differential test skipped", err)
	}
	dbs, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	if len(dbs) == 0 {
		t.Skipf("no databases under %s: differential test skipped", dir)
	}
	few := map[string]bool{"libuuid": true, "sle15-bci": true, "ubi8-s390x": true, "centos8-modularitylabel": true, "cbl-mariner-2.0": true, "centos5-plain": true}
	for _, db := range dbs {
		name := filepath.Base(filepath.Dir(db))
		if !*fullCorpus && !few[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			res, err := parseBytes(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
			ref, err := rpmdb.Open(db)
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			infos, err := ref.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var (
				want  catalog.Result
				graph depGraph
			)
			for _, pi := range infos {
				var w warn.List
				p, owned, skip := toPackage(pi, 0, &w)
				if w.Len() > 0 {
					t.Fatal(w.Strings(""))
				}
				if !skip {
					want.Packages = append(want.Packages, p)
					want.Owned = append(want.Owned, owned...)
					graph.add(inventory.RefOf(p), pi.Provides, pi.Requires, owned)
				}
			}
			want.Relationships = graph.resolve()
			if len(want.Packages) > 1 && len(want.Relationships) == 0 {
				t.Error("no dependency relationships")
			}
			if d := cmp.Diff(want, res); d != "" {
				t.Errorf("differs from go-rpmdb's reader (-go-rpmdb +ours):\n%s", d)
			}
			t.Logf("%d packages, %d owned files, %d dependency relationships: same as go-rpmdb", len(res.Packages), len(res.Owned), len(res.Relationships))
		})
	}
}

// rpmImages lists, for each rpm image of ../shared/images, how many
// gpg-pubkey pseudo-packages manifest.json counts (it counts rpm -qa lines)
// and a few packages checked by hand.
var rpmImages = map[string]struct {
	pubkeys int
	checks  []inventory.Package
}{
	"amazonlinux-2.tar": {0, []inventory.Package{
		rpmPkg("gmp", 1, "6.0.0", "15.amzn2.0.3", "gmp"),
		rpmPkg("bash", 0, "4.2.46", "34.amzn2", "bash"),
	}},
	"amazonlinux-2023.oci": {1, []inventory.Package{
		rpmPkg("openssl-libs", 1, "3.0.8", "1.amzn2023.0.4", "openssl"),
		rpmPkg("libuuid", 0, "2.37.4", "1.amzn2023.0.3", "util-linux"),
	}},
	"centos-7.tar": {0, []inventory.Package{
		rpmPkg("openssl-libs", 1, "1.0.2k", "12.el7", "openssl"),
		rpmPkg("tar", 2, "1.26", "34.el7", "tar"),
		rpmPkg("libuuid", 0, "2.23.2", "52.el7_5.1", "util-linux"),
	}},
	"oraclelinux-7.tar": {0, []inventory.Package{
		rpmPkg("openssl-libs", 1, "1.0.2k", "25.el7_9", "openssl"),
		rpmPkg("shadow-utils", 2, "4.6", "5.0.1.el7", "shadow-utils"),
	}},
	"oraclelinux-8.tar": {0, []inventory.Package{rpmPkg("gmp", 1, "6.1.2", "11.el8", "gmp")}},
	"oraclelinux-9.oci": {0, []inventory.Package{rpmPkg("gmp", 1, "6.2.0", "13.el9", "gmp")}},
	"rhel-8.tar": {0, []inventory.Package{
		rpmPkg("platform-python", 0, "3.6.8", "2.el8_0", "python3"),
		rpmPkg("openssl-libs", 1, "1.1.1", "8.el8", "openssl"),
	}},
	"rhel-8-realdb-libuuid.tar": {0, []inventory.Package{rpmPkg("libuuid", 0, "2.32.1", "42.el8_8", "util-linux")}},
	"rhel-9.oci":                {0, []inventory.Package{rpmPkg("openssl", 1, "3.0.1", "23.el9_0", "openssl")}},
}

// rpmPkg is the expected package, x86_64, with the licence left out.
func rpmPkg(name string, epoch int, version, release, source string) inventory.Package {
	v := evr(version, release)
	if epoch > 0 {
		v = strconv.Itoa(epoch) + ":" + v
	}
	return inventory.Package{Name: name, Version: v, Type: inventory.TypeRPM, Epoch: epoch, Release: release, Arch: "x86_64", SourceName: source, SourceVersion: v, Cataloger: "rpm"}
}

// TestRealImages parses the rpm database of every rpm image in
// ../shared/images and checks the count against manifest.json and rpm -qa.
func TestRealImages(t *testing.T) {
	dir, images := testutil.SharedImages(t, "rpm")
	for _, im := range images {
		t.Run(im.File, func(t *testing.T) {
			info, ok := rpmImages[im.File]
			if !ok {
				t.Fatalf("no package checks for %s: add some", im.File)
			}
			files := testutil.ExtractFiles(t, filepath.Join(dir, im.File), func(p string) bool { return New().Required(p, nil) })
			if len(files) != 1 {
				t.Fatalf("want one rpm database, found %d", len(files))
			}
			for p, b := range files {
				res, err := New().CatalogFile(context.Background(), catalog.File{Path: p, R: bytes.NewReader(b), Size: int64(len(b))})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Warnings) != 0 {
					t.Errorf("warnings: %v", res.Warnings)
				}
				if n := len(res.Packages) + info.pubkeys; n != im.Packages {
					t.Errorf("%d packages + %d gpg-pubkey, manifest.json says %d", len(res.Packages), info.pubkeys, im.Packages)
				}
				// The independent count, in a subtest so that a missing
				// rpm shows in the skipped tests.
				t.Run("rpm-qa", func(t *testing.T) {
					if n := rpmQACount(t, p, b); n != len(res.Packages) {
						t.Errorf("%d packages, rpm -qa lists %d (gpg-pubkey left out)", len(res.Packages), n)
					}
				})
				for _, want := range info.checks {
					want.Path = p
					var got inventory.Package
					for _, q := range res.Packages {
						if q.Name == want.Name {
							got = q
						}
					}
					got.Licenses = nil
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s (-want +got):\n%s", want.Name, d)
					}
				}
				if im.File == "rhel-8-realdb-libuuid.tar" {
					if !contains(res.Owned, "usr/lib64/libuuid.so.1.3.0") {
						t.Errorf("libuuid's library is not owned: %v", res.Owned)
					}
				}
			}
		})
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// rpmQACount counts rpm -qa's packages other than gpg-pubkey; it skips the
// test when rpm is not installed.
func rpmQACount(t *testing.T, p string, db []byte) int {
	t.Helper()
	bin, err := exec.LookPath("rpm")
	if err != nil {
		t.Skipf("independent rpm -qa count skipped: rpm not installed (apt-get install rpm): %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), db, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-qa", "--dbpath", dir, "--qf", "%{NAME}\n").Output()
	if err != nil {
		t.Fatalf("rpm -qa: %v", err)
	}
	n := 0
	for _, name := range strings.Fields(string(out)) {
		if name != "gpg-pubkey" {
			n++
		}
	}
	t.Logf("rpm -qa: %d packages besides gpg-pubkey", n)
	return n
}

// corrupt returns a copy of b changed by fn.
func corrupt(b []byte, fn func([]byte)) []byte {
	c := append([]byte(nil), b...)
	fn(c)
	return c
}

// firstPage returns the offset of the first BDB page of the given type.
func firstPage(t *testing.T, b []byte, typ byte) int {
	t.Helper()
	ps := int(binary.LittleEndian.Uint32(b[20:]))
	for off := ps; off+ps <= len(b); off += ps {
		if b[off+25] == typ {
			return off
		}
	}
	t.Fatalf("no page of type %d", typ)
	return 0
}

func TestHostile(t *testing.T) {
	fx := fixtures(t)
	bdbFile, ndbFile, sqliteFile := fx[FormatBDB], fx[FormatNDB], fx[FormatSQLite]
	before := runtime.NumGoroutine()
	tests := []struct {
		name     string
		in       []byte
		want     string
		degraded bool // the good records are kept, with a warning
	}{
		{"empty", nil, "not an rpm database", false},
		{"garbage", []byte("\x7fELF\x02\x01\x01\x00garbage garbage garbage garbage"), "not an rpm database", false},
		// go-rpmdb's reader panics in its own goroutine on this one.
		{"bdb entry count past the page", corrupt(bdbFile, func(c []byte) {
			binary.LittleEndian.PutUint16(c[firstPage(t, c, 13)+20:], 0xfffe)
		}), "entries do not fit", true},
		{"bdb odd entry count", corrupt(bdbFile, func(c []byte) {
			binary.LittleEndian.PutUint16(c[firstPage(t, c, 13)+20:], 3)
		}), "odd entry count", true},
		// go-rpmdb's reader spins forever on this one.
		{"bdb chain reaches a hash page", corrupt(bdbFile, func(c []byte) {
			o := firstPage(t, c, 7)
			binary.LittleEndian.PutUint32(c[o+16:], 0) // make it the last page...
			c[o+25] = 13                               // ...of the wrong type
		}), "not an overflow page", true},
		{"bdb overflow loop", corrupt(bdbFile, func(c []byte) {
			o := firstPage(t, c, 7)
			ps := int(binary.LittleEndian.Uint32(c[20:]))
			binary.LittleEndian.PutUint32(c[o+16:], uint32(o/ps)) // next page: itself
		}), "loops", true},
		{"bdb chain past the end", corrupt(bdbFile, func(c []byte) {
			o := firstPage(t, c, 7)
			binary.LittleEndian.PutUint32(c[o+16:], 1<<30)
		}), "past the last page", true},
		{"bdb page size", corrupt(bdbFile, func(c []byte) { binary.LittleEndian.PutUint32(c[20:], 1000) }), "page size", false},
		{"bdb truncated", bdbFile[:len(bdbFile)-100], "truncated", true},
		{"ndb slot magic", corrupt(ndbFile, func(c []byte) { c[32] = 'X' }), "slot 0: bad magic", true},
		{"ndb huge blob", corrupt(ndbFile, func(c []byte) {
			binary.LittleEndian.PutUint32(c[4096+12:], 0xffffff00)
		}), "larger than", true},
		{"ndb blob past the end", corrupt(ndbFile, func(c []byte) {
			binary.LittleEndian.PutUint32(c[4096+12:], 1<<20)
		}), "runs past the end", true},
		{"ndb page count", corrupt(ndbFile, func(c []byte) { binary.LittleEndian.PutUint32(c[12:], 5000) }), "out of range", false},
		{"ndb truncated", ndbFile[:4096-1], "truncated", false},
		{"sqlite garbage", append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xa5}, 4096)...), "sqlite database", false},
		{"sqlite truncated", sqliteFile[:len(sqliteFile)/3], "sqlite database", false},
		// Every header broken: an error naming the first, not an empty list.
		{"all headers broken", container.NDBImage([]byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte("short")), "none of its 2 headers could be decoded", false},
		{"header claims 2^31 entries", container.NDBImage([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 16, 1, 2, 3, 4}), "claims 2147483647 index entries", false},
	}
	scratch := t.TempDir()
	c := Cataloger{tempDir: scratch}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var (
				res catalog.Result
				err error
			)
			go func() {
				defer close(done)
				res, err = c.CatalogFile(context.Background(), catalog.File{Path: "var/lib/rpm/Packages", R: bytes.NewReader(tt.in), Size: int64(len(tt.in))})
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("no answer within 20 s (a loop?)")
			}
			if tt.degraded {
				// The damage costs the records it touches, not the file.
				if err != nil {
					t.Fatalf("error %v; want the readable records and a warning containing %q", err, tt.want)
				}
				if len(res.Packages) == 0 || len(res.Packages) > 3 || !strings.Contains(strings.Join(res.Warnings, "\n"), tt.want) {
					t.Fatalf("%d packages, warnings %q; want 1 to 3 packages and a warning containing %q", len(res.Packages), res.Warnings, tt.want)
				}
				for _, w := range res.Warnings {
					if !strings.HasPrefix(w, "rpm: var/lib/rpm/Packages: ") {
						t.Errorf("warning %q does not name the cataloger and file", w)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v (%d packages, warnings %v), want one containing %q", err, len(res.Packages), res.Warnings, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "rpm: var/lib/rpm/Packages: ") {
				t.Errorf("error %q does not name the cataloger and file", err)
			}
		})
	}
	t.Run("one broken header among good ones", func(t *testing.T) {
		var blobs [][]byte
		_ = container.WalkNDB(context.Background(), bytes.NewReader(ndbFile), int64(len(ndbFile)), &warn.List{}, func(b []byte) error { blobs = append(blobs, b); return nil })
		bad := corrupt(blobs[1], func(c []byte) { binary.BigEndian.PutUint32(c[4:], 1) }) // wrong data length
		res, err := parseBytes(t, container.NDBImage(blobs[0], bad, blobs[2], blobs[3]))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Packages) != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "record 2: ") {
			t.Fatalf("got %d packages and warnings %q; want the 2 good packages (of 3 plus gpg-pubkey) and one warning for record 2", len(res.Packages), res.Warnings)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		_, err := c.CatalogFile(context.Background(), catalog.File{Path: "var/lib/rpm/Packages", R: bytes.NewReader(nil), Size: MaxDBSize + 1})
		if err == nil || !strings.Contains(err.Error(), "byte limit") {
			t.Fatalf("error = %v, want a size-limit error", err)
		}
	})
	t.Run("truncated and flipped", func(t *testing.T) {
		// Prefixes and random byte flips of the BDB and NDB fixtures never
		// panic or hang; they give an error or a bounded result.
		rng := rand.New(rand.NewPCG(1, 2))
		for _, b := range [][]byte{bdbFile, ndbFile} {
			for n := 0; n < len(b); n += 509 {
				if res, err := parseBytes(t, b[:n]); err == nil && len(res.Packages) > 3 {
					t.Fatalf("prefix %d: %d packages", n, len(res.Packages))
				}
			}
			for range 100 {
				c := corrupt(b, func(c []byte) {
					for range 1 + rng.IntN(8) {
						c[rng.IntN(len(c))] = byte(rng.Uint32())
					}
				})
				if res, err := parseBytes(t, c); err == nil && len(res.Packages) > 4 {
					t.Fatalf("flipped: %d packages", len(res.Packages))
				}
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := parse(ctx, bytes.NewReader(sqliteFile), int64(len(sqliteFile)), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("error = %v, want context canceled", err)
		}
	})
	entries, err := os.ReadDir(scratch)
	if err != nil || len(entries) != 0 {
		t.Errorf("scratch directory not cleaned up: %v, %v", entries, err)
	}
	// No reader goroutine is left behind.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// FuzzRPM feeds whole databases to Parse: any format, any corruption, no
// panic, no hang. Header decoding goes through a scratch file, so it is
// slower than the other fuzzers.
func FuzzRPM(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	f.Add(container.NDBImage([]byte{0, 0, 0, 1, 0, 0, 0, 0}))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := parse(context.Background(), bytes.NewReader(b), int64(len(b)), dir)
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if p.Name == "" || p.Type != inventory.TypeRPM || p.Name == "gpg-pubkey" || p.Epoch < 0 {
				t.Fatalf("bad package %+v", p)
			}
		}
		if len(res.Warnings) > warn.Max+1 {
			t.Fatalf("%d warnings, more than the cap", len(res.Warnings))
		}
	})
}

// FuzzRPMHeader feeds single header blobs to the go-rpmdb decoder behind
// container.CheckHeader and recover().
func FuzzRPMHeader(f *testing.F) {
	fx := fixtures(f)
	_ = container.WalkNDB(context.Background(), bytes.NewReader(fx[FormatNDB]), int64(len(fx[FormatNDB])), &warn.List{}, func(b []byte) error {
		f.Add(b)
		return nil
	})
	hp, err := newHeaderParser(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer hp.close()
	f.Fuzz(func(t *testing.T, b []byte) {
		pi, err := hp.parse(b)
		if err != nil {
			return
		}
		var w warn.List
		p, _, skip := toPackage(pi, 1, &w)
		if !skip && (p.Name == "" || p.Type != inventory.TypeRPM) {
			t.Fatalf("bad package %+v", p)
		}
	})
}

func TestDepGraph(t *testing.T) {
	ref := func(n string) inventory.PackageRef { return inventory.PackageRef{Name: n, Version: "1-1"} }
	var g depGraph
	g.add(ref("bash"), []string{"bash", "/bin/sh", "config(bash)"}, []string{"libc.so.6()(64bit)", "/bin/sh", "rpmlib(CompressedFileNames)", "filesystem"}, []string{"usr/bin/bash", "usr/bin/sh"})
	g.add(ref("glibc"), []string{"glibc", "libc.so.6()(64bit)"}, []string{"/usr/sbin/ldconfig", "glibc-common", "bash"}, []string{"usr/lib64/libc.so.6", "sbin/ldconfig"})
	g.add(ref("glibc-common"), nil, []string{"glibc", "missing-cap"}, nil)
	g.add(ref("other"), []string{"libc.so.6()(64bit)"}, []string{"/bin/sh", "/usr/bin/none"}, nil)
	var got []string
	for _, r := range inventory.SortRelationships(g.resolve()) {
		got = append(got, r.From.Name+" -> "+r.To.Name)
	}
	// bash's own /bin/sh is a self-edge (dropped); glibc's provides win
	// (first provider); /usr/sbin/ldconfig is glibc's sbin/ldconfig
	// under usr-merge.
	want := []string{"bash -> glibc", "glibc -> bash", "glibc -> glibc-common", "glibc-common -> glibc", "other -> bash"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}
