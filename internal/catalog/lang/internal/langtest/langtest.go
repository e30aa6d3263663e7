// Package langtest is the one test driver for the language catalogers: it
// runs any catalog.FileCataloger over a small root filesystem (a testdata
// case folder read through os.DirFS, or a squashed real image from
// ../shared/images) exactly as the scanner would, through Required and then
// CatalogFile, and compares the outcome with a golden want.json.
package langtest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// FileResult is what one file produced, as stored in want.json.
type FileResult struct {
	Packages []inventory.Package `json:"packages,omitempty"`
	// Relationships are the file's dependency edges, sorted.
	Relationships []inventory.Relationship `json:"relationships,omitempty"`
	Warnings      []string                 `json:"warnings,omitempty"`
	Error         string                   `json:"error,omitempty"`
}

// Run drives c over every regular file of fsys that c.Required accepts and
// returns the results keyed by path. It also checks the invariants every
// language cataloger keeps: Cataloger and Type are set, PURL and Layer are
// left to the driver.
func Run(t testing.TB, c catalog.FileCataloger, fsys fs.FS) map[string]FileResult {
	t.Helper()
	got := map[string]FileResult{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() || !c.Required(p, info) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		got[p] = catalogOne(t, c, catalog.File{Path: p, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func catalogOne(t testing.TB, c catalog.FileCataloger, f catalog.File) FileResult {
	t.Helper()
	res, err := c.CatalogFile(context.Background(), f)
	fr := FileResult{Packages: res.Packages, Relationships: inventory.SortRelationships(res.Relationships), Warnings: res.Warnings}
	for _, r := range res.Relationships {
		if r.Path != "" && r.Path != f.Path {
			t.Errorf("%s: %s: relationship of another file: %+v", c.Name(), f.Path, r)
		}
	}
	if err != nil {
		fr.Error = err.Error()
	}
	for _, p := range res.Packages {
		if p.Cataloger != c.Name() || p.Type == "" || p.Name == "" || p.PURL != "" || p.Layer != "" || p.Path == "" {
			t.Errorf("%s: %s: package breaks the cataloger contract (Cataloger=%q want %q, Type/Name/Path set, PURL and Layer empty): %+v", c.Name(), f.Path, p.Cataloger, c.Name(), p)
		}
	}
	return fr
}

// Case runs c over the case folder dir (its root/ subfolder is the
// filesystem) and compares the results with dir/want.json, rewriting it
// when update is set.
func Case(t *testing.T, c catalog.FileCataloger, dir string, update bool) {
	t.Helper()
	got := Run(t, c, os.DirFS(filepath.Join(dir, "root")))
	if len(got) == 0 {
		t.Errorf("%s: the cataloger asked for no file of the case", dir)
	}
	Golden(t, filepath.Join(dir, "want.json"), got, update)
}

// Golden compares got, encoded as indented JSON, with the file want,
// rewriting the file when update is set.
func Golden(t *testing.T, want string, got any, update bool) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if update {
		if err := os.WriteFile(want, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if d := cmp.Diff(string(w), string(b)); d != "" {
		t.Errorf("%s differs (-want +got; rerun with -update if the change is intended):\n%s", want, d)
	}
}

// Cases returns the case folders under testdata (every directory holding a
// root/ folder).
func Cases(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if st, err := os.Stat(filepath.Join("testdata", e.Name(), "root")); err == nil && st.IsDir() {
			out = append(out, filepath.Join("testdata", e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatal("no testdata/<case>/root folder")
	}
	return out
}

// Seeds returns the contents of every regular file under testdata whose
// slash path matches keep, for seeding fuzz tests.
func Seeds(t testing.TB, keep func(p string) bool) [][]byte {
	t.Helper()
	var out [][]byte
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !keep(filepath.ToSlash(p)) {
			return err
		}
		b, err := os.ReadFile(p)
		out = append(out, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no fuzz seed found under testdata")
	}
	return out
}

// Image squashes ../shared/images/<name> (a docker-archive *.tar or an OCI
// layout *.oci directory) with go-containerregistry, as the scanner does,
// and runs c over every regular file it requires. The test is skipped when
// ../shared is absent.
func Image(t *testing.T, c catalog.FileCataloger, name string) map[string]FileResult {
	t.Helper()
	return Images(t, []catalog.FileCataloger{c}, name)[c.Name()]
}

// Images is Image for several catalogers over one squash of the image; the
// results are keyed by cataloger name, then path.
func Images(t *testing.T, cs []catalog.FileCataloger, name string) map[string]map[string]FileResult {
	t.Helper()
	p := filepath.Join(testutil.Shared(t, "images"), name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real-data test skipped: %v", err)
	}
	img, err := loadImage(p)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]map[string]FileResult{}
	for _, c := range cs {
		got[c.Name()] = map[string]FileResult{}
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("extract %s: %v", p, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		info := h.FileInfo()
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var b []byte
		for _, c := range cs {
			if !c.Required(name, info) {
				continue
			}
			if b == nil {
				if b, err = io.ReadAll(io.LimitReader(tr, 256<<20)); err != nil {
					t.Fatalf("extract %s: %s: %v", p, name, err)
				}
			}
			got[c.Name()][name] = catalogOne(t, c, catalog.File{Path: name, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
		}
	}
	return got
}

// Packages flattens results into "name@version path" strings.
func Packages(res map[string]FileResult) []string {
	var out []string
	for _, r := range res {
		for _, p := range r.Packages {
			out = append(out, p.Name+"@"+p.Version+" "+p.Path)
		}
	}
	return out
}

// Expect fails the test for every entry of want ("name@version path") not
// in got.
func Expect(t *testing.T, got map[string]FileResult, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, s := range Packages(got) {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("package %q not found; got %q", w, Packages(got))
		}
	}
}

func loadImage(p string) (v1.Image, error) {
	if strings.HasSuffix(p, ".tar") {
		return tarball.ImageFromPath(p, nil)
	}
	idx, err := layout.ImageIndexFromPath(p)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, errors.New("empty OCI index")
	}
	return idx.Image(im.Manifests[0].Digest)
}

// CheckGraph is the fuzzers' invariant for a parser's dependency edges:
// each joins packages the parser returned (or starts at the root), none is
// a self-edge, and there are at most inventory.MaxRelationshipsPerFile.
func CheckGraph(t testing.TB, pkgs []inventory.Package, rels []inventory.Relationship) {
	t.Helper()
	have := map[inventory.PackageRef]bool{}
	for _, p := range pkgs {
		have[inventory.RefOf(p)] = true
	}
	if len(rels) > inventory.MaxRelationshipsPerFile {
		t.Errorf("%d relationships, over the bound", len(rels))
	}
	for _, r := range rels {
		if (!r.From.IsRoot() && !have[r.From]) || !have[r.To] || r.From == r.To {
			t.Errorf("relationship %+v names a package the parser did not return, or is a self-edge", r)
		}
	}
}

// Edges renders relationships as sorted "from -> to" strings (the root
// is "").
func Edges(rels []inventory.Relationship) []string {
	var out []string
	for _, r := range inventory.SortRelationships(slices.Clone(rels)) {
		out = append(out, r.From.String()+" -> "+r.To.String())
	}
	return out
}
