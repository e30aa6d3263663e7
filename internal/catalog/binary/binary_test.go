package binary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/generic"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/want.json")

// run drives the cataloger over every file of root as the scanner would:
// Required on the path and info, then CatalogFile.
func run(t *testing.T, root string) map[string][]inventory.Package {
	t.Helper()
	c := New()
	got := map[string][]inventory.Package{}
	fsys := os.DirFS(root)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || !c.Required(p, info) {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		res, err := c.CatalogFile(context.Background(), catalog.File{Path: p, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if len(res.Packages) > 0 {
			got[p] = res.Packages
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestClassify runs the classifier over the small fixtures of
// testdata/root (one per rule, and files that must give nothing) and
// compares with testdata/want.json.
func TestClassify(t *testing.T) {
	got := run(t, "testdata/root")
	const wantFile = "testdata/want.json"
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wantFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]inventory.Package
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	// Every product of advisory.CPEProducts has a rule and a fixture.
	found := map[string]bool{}
	for _, ps := range got {
		for _, p := range ps {
			found[p.Name] = true
		}
	}
	for _, prod := range advisory.CPEProducts() {
		if !found[prod.Name] {
			t.Errorf("no fixture of testdata/root is classified as %s", prod.Name)
		}
	}
}

// TestNegatives names the files that must give no package, whatever they
// hold, and why.
func TestNegatives(t *testing.T) {
	got := run(t, "testdata/root")
	for p, why := range map[string]string{
		"opt/awslc/libcrypto.so":  "AWS-LC calls itself OpenSSL 1.1.1 without a release date",
		"opt/other/notes.txt":     "not a candidate name",
		"opt/app/bin/node-helper": "not a candidate name",
		"opt/app/bin/nginx":       "no version string",
		"opt/notgo/VERSION":       "a VERSION file that does not start with go1",
	} {
		if len(got[p]) != 0 {
			t.Errorf("%s: got %+v, want nothing (%s)", p, got[p], why)
		}
	}
}

// TestRulesMatchProducts checks that every rule's product is one of
// advisory.CPEProducts (its CPEs come from there) and that the generic
// ecosystem's namespace is advisory.CPENamespace.
func TestRulesMatchProducts(t *testing.T) {
	products := map[string]bool{}
	for _, p := range advisory.CPEProducts() {
		products[p.Name] = true
	}
	for _, r := range rules() {
		names := []string{r.product}
		for _, m := range r.matchers {
			if m.product != "" {
				names = append(names, m.product)
			}
			if len(m.anchor) == 0 || m.before > maxBefore {
				t.Errorf("%s: matcher %q: empty anchor or before > %d", r.product, m.anchor, maxBefore)
			}
		}
		for _, n := range names {
			if !products[n] {
				t.Errorf("rule product %q is not in advisory.CPEProducts", n)
			}
		}
	}
	if generic.Namespace != advisory.CPENamespace {
		t.Errorf("generic.Namespace %q != advisory.CPENamespace %q", generic.Namespace, advisory.CPENamespace)
	}
}

// TestChunkBoundary puts the version string across every chunk boundary
// position: it is found wherever it lies.
func TestChunkBoundary(t *testing.T) {
	c := New()
	s := []byte("\x00OpenSSL 3.0.11 19 Sep 2023\x00")
	for _, at := range []int{0, chunk - 40, chunk - 10, chunk - 1, chunk, chunk + 5, 3*chunk - 3} {
		b := make([]byte, 3*chunk+100)
		copy(b[at:], s)
		p, err := c.Classify(context.Background(), "libcrypto.so.3", bytes.NewReader(b), int64(len(b)))
		if err != nil || p == nil || p.Version != "3.0.11" {
			t.Errorf("string at %d: got %+v, %v", at, p, err)
		}
	}
}

// TestPreferredMatcher: MariaDB's marker wins over the MySQL path it also
// carries, wherever each lies.
func TestPreferredMatcher(t *testing.T) {
	c := New()
	b := make([]byte, 2*chunk+10)
	copy(b[10:], "\x00/mysql-8.0.0/sql\x00")
	copy(b[chunk+100:], "\x00 10.11.6-MariaDB\x00")
	p, err := c.Classify(context.Background(), "mariadbd", bytes.NewReader(b), int64(len(b)))
	if err != nil || p == nil || p.Name != "mariadb" || p.Version != "10.11.6" {
		t.Fatalf("got %+v, %v; want mariadb 10.11.6", p, err)
	}
}

// TestRequired checks the prefilter: names, regular files, sizes.
func TestRequired(t *testing.T) {
	c := New()
	for _, tc := range []struct {
		path string
		info fs.FileInfo
		want bool
	}{
		{"opt/app/lib/libssl.so.3", fakeInfo{size: 10}, true},
		{"usr/lib/x86_64-linux-gnu/libcrypto.so.1.1", fakeInfo{size: 10}, true},
		{"usr/bin/openssl", fakeInfo{size: 10}, true},
		{"usr/bin/opensslx", fakeInfo{size: 10}, false},
		{"opt/app/lib/libssl.so.3", fakeInfo{size: 0}, false},
		{"opt/app/lib/libssl.so.3", fakeInfo{size: MaxFileSize + 1}, false},
		{"opt/app/lib/libssl.so.3", fakeInfo{size: 10, mode: fs.ModeSymlink}, false},
		{"usr/bin/python3.12", fakeInfo{size: 10}, true},
		{"usr/bin/python3", fakeInfo{size: 10}, false},
		{"usr/lib/libpython3.12.so.1.0", fakeInfo{size: 10}, true},
		{"usr/local/go/VERSION", fakeInfo{size: 10}, true},
		{"etc/passwd", fakeInfo{size: 10}, false},
	} {
		if got := c.Required(tc.path, tc.info); got != tc.want {
			t.Errorf("Required(%s, %+v) = %v, want %v", tc.path, tc.info, got, tc.want)
		}
	}
}

type fakeInfo struct {
	size int64
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return "f" }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// zeros is a ReaderAt of n zero bytes that counts what is read.
type zeros struct {
	n    int64
	read int64
}

func (z *zeros) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.n {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > z.n {
		n = z.n - off
	}
	clear(p[:n])
	z.read += n
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// TestBoundedRead: a file larger than MaxScan is read no further than
// MaxScan (plus the windows around each chunk), in chunk-sized pieces.
func TestBoundedRead(t *testing.T) {
	z := &zeros{n: 2 << 30}
	p, err := New().Classify(context.Background(), "usr/lib/libssl.so.3", z, z.n)
	if err != nil || p != nil {
		t.Fatalf("got %+v, %v", p, err)
	}
	limit := int64(MaxScan) + (MaxScan/chunk+1)*(maxBefore+window)
	if z.read > limit {
		t.Errorf("read %d bytes of a 2 GiB file, want at most %d", z.read, limit)
	}
}

// failing fails every read.
type failing struct{}

func (failing) ReadAt([]byte, int64) (int, error) { return 0, errors.New("layer read failed") }

func TestReadErrorAndCancel(t *testing.T) {
	c := New()
	if _, err := c.Classify(context.Background(), "libssl.so.3", failing{}, 100); err == nil || !strings.Contains(err.Error(), "layer read failed") {
		t.Errorf("read error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Classify(ctx, "libssl.so.3", bytes.NewReader([]byte("OpenSSL 3.0.1 1 Jan 2022")), 24); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: got %v", err)
	}
}

// TestMalformedELF: a file with an ELF magic and garbage headers is scanned
// whole instead, without a panic.
func TestMalformedELF(t *testing.T) {
	b := append([]byte("\x7fELF\x02\x01\x01\x00garbage-headers"), []byte("\x00OpenSSL 1.1.1w  11 Sep 2023\x00")...)
	p, err := New().Classify(context.Background(), "libssl.so.1.1", bytes.NewReader(b), int64(len(b)))
	if err != nil || p == nil || p.Version != "1.1.1w" {
		t.Fatalf("got %+v, %v", p, err)
	}
}

// FuzzClassify feeds arbitrary bytes under every candidate name of the
// fixtures: no panic, no error from an in-memory reader, and a version
// only of the shape a rule captures (no NUL, bounded).
func FuzzClassify(f *testing.F) {
	var names []string
	_ = filepath.WalkDir("testdata/root", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b, len(names))
			names = append(names, filepath.Base(p))
		}
		return nil
	})
	sort.Strings(names)
	c := New()
	f.Fuzz(func(t *testing.T, b []byte, which int) {
		if which < 0 {
			which = -which
		}
		name := names[which%len(names)]
		p, err := c.Classify(context.Background(), name, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p != nil && (p.Version == "" || len(p.Version) > window || strings.ContainsAny(p.Version, "\x00 ")) {
			t.Fatalf("%s: bad version %q", name, p.Version)
		}
	})
}
