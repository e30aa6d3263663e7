package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/catalog/binary"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/generic"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// sharedImage opens an image of ../shared/images (docker archive or OCI
// layout).
func sharedImage(t *testing.T, name string) v1.Image {
	t.Helper()
	p := filepath.Join(testutil.Shared(t, "images"), name)
	if strings.HasSuffix(name, ".tar") {
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	idx, err := layout.ImageIndexFromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// imageFile is one regular file of a squashed image.
type imageFile struct {
	path string
	mode int64
	data []byte
}

// filesOf walks img's squashed file system and returns the regular files
// keep accepts.
func filesOf(t *testing.T, img v1.Image, keep func(path string, size int64) bool) []imageFile {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []imageFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+h.Name)), "/")
		if h.Typeflag != tar.TypeReg || !keep(p, h.Size) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, imageFile{p, h.Mode, b})
	}
	return out
}

// pick returns the named files of img, failing when one is missing.
func pick(t *testing.T, img v1.Image, paths ...string) map[string]imageFile {
	t.Helper()
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	got := map[string]imageFile{}
	for _, f := range filesOf(t, img, func(p string, _ int64) bool { return want[p] }) {
		got[f.path] = f
	}
	for _, p := range paths {
		if _, ok := got[p]; !ok {
			t.Fatalf("%s is not in the image", p)
		}
	}
	return got
}

// layerOf is a layer holding files at the given paths.
func layerOf(t *testing.T, files map[string]imageFile) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := files[p]
		mode := f.mode
		if mode == 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(1704067200, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeLayers writes an image of the layers as a docker archive and
// resolves it as a scan source would.
func writeLayers(t *testing.T, layers ...v1.Layer) string {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, nil, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// staticProgram compiles a static C program whose read-only data holds
// the given strings, or skips the test without a C compiler.
func staticProgram(t *testing.T, strs ...string) []byte {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the static test programs")
	}
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n")
	for i, s := range strs {
		fmt.Fprintf(&src, "static const char s%d[] = %q;\n", i, s)
	}
	src.WriteString("int main(int argc, char **argv) {\n")
	for i := range strs {
		fmt.Fprintf(&src, "\tif (argc > %d) puts(s%d);\n", i+1, i)
	}
	src.WriteString("\treturn 0;\n}\n")
	if err := os.WriteFile(filepath.Join(dir, "p.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "p")
	if b, err := exec.Command(cc, "-static", "-O1", "-o", out, filepath.Join(dir, "p.c")).CombinedOutput(); err != nil {
		t.Skipf("cc -static failed (no static libc?): %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// debian11Base is a layer with debian-11's release file and the dpkg
// database of the packages that own its OpenSSL and zlib.
func debian11Base(t *testing.T) (v1.Layer, map[string]imageFile) {
	img := sharedImage(t, "debian-11.oci")
	fs := pick(t, img,
		"usr/lib/os-release", "var/lib/dpkg/status",
		"var/lib/dpkg/info/libssl1.1:amd64.list", "var/lib/dpkg/info/zlib1g:amd64.list",
		"usr/lib/x86_64-linux-gnu/libssl.so.1.1", "usr/lib/x86_64-linux-gnu/libcrypto.so.1.1", "usr/lib/x86_64-linux-gnu/libz.so.1.2.11")
	base := map[string]imageFile{}
	for _, p := range []string{"usr/lib/os-release", "var/lib/dpkg/status", "var/lib/dpkg/info/libssl1.1:amd64.list", "var/lib/dpkg/info/zlib1g:amd64.list"} {
		base[p] = fs[p]
	}
	return layerOf(t, base), fs
}

func enhanced() scan.Options {
	return scan.Options{Enhanced: true, OS: all.OS(), Language: all.Language()}
}

func classified(inv *inventory.Inventory) []string {
	var out []string
	for _, p := range inv.Packages {
		if p.Cataloger == binary.Name {
			out = append(out, p.Name+" "+p.Version+" "+p.Path)
		}
	}
	sort.Strings(out)
	return out
}

// TestBinaryClassifierFindings is the must-show: OpenSSL (libssl
// and libcrypto 1.1.1w) and zlib copied out of the shared debian-11 image
// to paths no package owns, with a static curl built here, are found by
// the classifier and matched against NVD's CPE ranges (nvd:cpe findings,
// never Debian's); the same OpenSSL and zlib files where dpkg put them (and
// at their usr-merge aliases) give no classifier package.
func TestBinaryClassifierFindings(t *testing.T) {
	base, fs := debian11Base(t)
	// The shared feeds' NVD records end in 2017 (yearly) plus the modified
	// and recent feeds of their snapshot: nothing there affects 1.1.1w,
	// so an older OpenSSL and curl, built here, carry the findings.
	curl := staticProgram(t, "curl/7.50.0", "libcurl/7.50.0 OpenSSL/1.1.1t zlib/1.2.11")
	legacy := staticProgram(t, "OpenSSL 1.1.1t  7 Feb 2023", "OpenSSL 1.1.1t  7 Feb 2023")
	ssl, crypto, z := fs["usr/lib/x86_64-linux-gnu/libssl.so.1.1"], fs["usr/lib/x86_64-linux-gnu/libcrypto.so.1.1"], fs["usr/lib/x86_64-linux-gnu/libz.so.1.2.11"]
	extra := map[string]imageFile{
		"opt/app/lib/libssl.so.1.1":    ssl,
		"opt/app/lib/libcrypto.so.1.1": crypto,
		"opt/app/lib/libz.so.1":        z,
		"opt/app/bin/curl":             {data: curl},
		"opt/legacy/bin/openssl":       {data: legacy},
	}
	unowned := layerOf(t, extra)
	// A real curl and libcurl, when the machine running the test has them
	// (Debian's curl and libcurl4 on the development machine), copied to
	// unowned paths too.
	var hostCurl []string
	for src, dst := range map[string]string{"/usr/bin/curl": "opt/hostcurl/bin/curl", "/usr/lib/x86_64-linux-gnu/libcurl.so.4": "opt/hostcurl/lib/libcurl.so.4"} {
		if b, err := os.ReadFile(src); err == nil {
			extra[dst] = imageFile{data: b}
			hostCurl = append(hostCurl, dst)
		}
	}
	if len(extra) > 0 {
		unowned = layerOf(t, extra)
	}
	owned := layerOf(t, map[string]imageFile{
		"usr/lib/x86_64-linux-gnu/libssl.so.1.1": ssl,
		// dpkg lists /usr/lib/...; the file at its usr-merge alias is its.
		"lib/x86_64-linux-gnu/libcrypto.so.1.1":   crypto,
		"usr/lib/x86_64-linux-gnu/libz.so.1.2.11": z,
	})
	db := realDB(t)
	ctx := context.Background()

	res := scanFile(t, ctx, db, writeLayers(t, base, unowned))
	res.Enhanced = true
	want := []string{
		"curl 7.50.0 opt/app/bin/curl",
		"openssl 1.1.1t opt/legacy/bin/openssl",
		"openssl 1.1.1w opt/app/lib/libcrypto.so.1.1",
		"openssl 1.1.1w opt/app/lib/libssl.so.1.1",
		"zlib 1.2.11 opt/app/lib/libz.so.1",
	}
	var got []string
	for _, c := range classified(res.Inventory) {
		if strings.Contains(c, " opt/hostcurl/") {
			t.Logf("the machine's own curl, unowned in the image: %s", c)
			hostCurl = slices.DeleteFunc(hostCurl, func(p string) bool { return strings.HasSuffix(c, " "+p) })
			continue
		}
		got = append(got, c)
	}
	if len(hostCurl) > 0 {
		t.Errorf("the machine's %v were not classified", hostCurl)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unowned: classified\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	perPkg := map[string][]string{}
	for _, f := range res.Findings {
		if f.Package.Type != generic.Type {
			continue
		}
		if f.Namespace != generic.Namespace {
			t.Errorf("%s on %s: namespace %s, want %s (no distribution advisory applies to an unowned binary)", f.ID, f.Package.Name, f.Namespace, generic.Namespace)
		}
		k := f.Package.Name + " " + f.Package.Version + " " + f.Package.Path
		perPkg[k] = append(perPkg[k], fmt.Sprintf("%s %s %s fixed=%s", f.ID, f.Severity, f.Status, f.FixedVersion))
	}
	for _, k := range want {
		sort.Strings(perPkg[k])
		t.Logf("%s: %d findings: %s", k, len(perPkg[k]), strings.Join(perPkg[k], "; "))
	}
	for k, cve := range map[string]string{
		"curl 7.50.0 opt/app/bin/curl":          "CVE-2016-8615 HIGH FIXABLE fixed=7.51.0",
		"openssl 1.1.1t opt/legacy/bin/openssl": "CVE-2023-0465 MEDIUM FIXABLE fixed=1.1.1u",
	} {
		if !slices.Contains(perPkg[k], cve) {
			t.Errorf("%s: no finding %q among %v", k, cve, perPkg[k])
		}
	}
	checkOutputs(t, res)

	res = scanFile(t, ctx, db, writeLayers(t, base, owned))
	if got := classified(res.Inventory); len(got) != 0 {
		t.Errorf("owned by dpkg: classified %v, want none", got)
	}
	for _, f := range res.Findings {
		if f.Namespace == generic.Namespace {
			t.Errorf("owned by dpkg: finding %s in %s", f.ID, f.Namespace)
		}
	}
}

func scanFile(t *testing.T, ctx context.Context, db scan.DB, p string) *report.Scan {
	t.Helper()
	src, err := resolve(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Image(ctx, src, db, enhanced())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkOutputs: the classifier's marker and CPE reach the JSON and
// CycloneDX outputs.
func checkOutputs(t *testing.T, res *report.Scan) {
	t.Helper()
	var js, cdx bytes.Buffer
	if err := report.WriteJSON(&js, *res); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteCycloneDX(&cdx, *res); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"json": js.String(), "cyclonedx": cdx.String()} {
		want := []string{"opt/legacy/bin/openssl", "CVE-2023-0465"}
		if name == "cyclonedx" {
			want = append(want, "binary-classifier", "pkg:generic/openssl@1.1.1w", "cpe:2.3:a:openssl:openssl:1.1.1w")
		} else {
			want = append(want, `"packageManager": "GENERIC"`)
		}
		for _, s := range want {
			if !strings.Contains(out, s) {
				t.Errorf("%s output has no %q", name, s)
			}
		}
	}
}

// TestClassifierPrecisionOnSharedImages runs the classifier on every
// candidate file of every shared image (ownership aside) and lists what it
// identifies, then indexes each image: every classified file there is
// owned by an OS package, so the inventories hold no classifier package.
func TestClassifierPrecisionOnSharedImages(t *testing.T) {
	dir := testutil.Shared(t, "images")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := binary.New()
	ctx := context.Background()
	total := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tar") && !strings.HasSuffix(name, ".oci") {
			continue
		}
		img := sharedImage(t, name)
		var found []string
		for _, f := range filesOf(t, img, func(p string, size int64) bool { return c.Required(p, nil) && size > 0 && size <= binary.MaxFileSize }) {
			p, err := c.Classify(ctx, f.path, bytes.NewReader(f.data), int64(len(f.data)))
			if err != nil {
				t.Fatalf("%s: %s: %v", name, f.path, err)
			}
			if p != nil {
				found = append(found, p.Name+" "+p.Version+" ("+f.path+")")
			}
		}
		src, err := resolve(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Image(ctx, src, nopDB{}, enhanced())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := classified(res.Inventory)
		total += len(got)
		t.Logf("%s: classifier identifies %d files: %s; classifier packages in the inventory: %d", name, len(found), strings.Join(found, ", "), len(got))
		if len(got) != 0 {
			t.Errorf("%s: classifier packages for files an OS package owns: %v", name, got)
		}
	}
	if total != 0 {
		t.Errorf("%d classifier packages over the shared images, want 0", total)
	}
}

// nopDB holds no advisory.
type nopDB struct{}

func (nopDB) Candidates(context.Context, string, string) ([]match.Candidate, error) { return nil, nil }
func (nopDB) Enrichment(context.Context, string) (*advisory.Advisory, error)        { return nil, nil }
func (nopDB) Advisory(context.Context, string) ([]*advisory.Advisory, error)        { return nil, nil }
func (nopDB) HasNamespace(context.Context, string) (bool, error)                    { return false, nil }
func (nopDB) UpdatedAt(context.Context) (time.Time, error)                          { return time.Unix(0, 0), nil }
