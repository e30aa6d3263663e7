package lang

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
)

// TestEveryCatalogerIsListed parses every non-test Go file under this
// directory, finds each exported type with a CatalogFile method, and checks
// that Catalogers returns a value of that type.
func TestEveryCatalogerIsListed(t *testing.T) {
	var found []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "CatalogFile" || len(fn.Recv.List) == 0 {
				continue
			}
			typ := fn.Recv.List[0].Type
			if st, ok := typ.(*ast.StarExpr); ok {
				typ = st.X
			}
			if id, ok := typ.(*ast.Ident); ok && ast.IsExported(id.Name) {
				found = append(found, filepath.ToSlash(filepath.Dir(p))+"."+id.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, c := range Catalogers() {
		typ := reflect.TypeOf(c)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		listed = append(listed, strings.TrimPrefix(typ.PkgPath(), "github.com/stowaway-scanner/stowaway/internal/catalog/lang/")+"."+typ.Name())
	}
	sort.Strings(found)
	sort.Strings(listed)
	if len(found) == 0 {
		t.Fatal("found no cataloger type: the source walk is broken")
	}
	if d := cmp.Diff(found, listed); d != "" {
		t.Errorf("catalogers in the tree vs in Catalogers() (-found +listed):\n%s", d)
	}
}

func TestNamesAndVersions(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalogers() {
		if c.Name() == "" || c.Version() < 1 || seen[c.Name()] {
			t.Errorf("cataloger %T: name %q (must be set and unique), version %d (must be >= 1)", c, c.Name(), c.Version())
		}
		seen[c.Name()] = true
	}
}

// requiredFiles returns, per cataloger name, up to three fixture files
// (slash path within its root and content) of any subpackage's testdata
// that the cataloger requires.
func requiredFiles(t *testing.T) map[string][]catalog.File {
	out := map[string][]catalog.File{}
	roots, _ := filepath.Glob(filepath.Join("*", "testdata", "*", "root"))
	if len(roots) == 0 {
		t.Fatal("no testdata roots")
	}
	for _, root := range roots {
		fsys := os.DirFS(root)
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			for _, c := range Catalogers() {
				if len(out[c.Name()]) >= 3 || !c.Required(p, info) {
					continue
				}
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				out[c.Name()] = append(out[c.Name()], catalog.File{Path: p, Info: info, R: bytes.NewReader(b), Size: int64(len(b))})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range Catalogers() {
		if len(out[c.Name()]) == 0 {
			t.Errorf("%s: no fixture file is required by it", c.Name())
		}
	}
	return out
}

type failingReader struct{}

var errDisk = errors.New("disk on fire")

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

// TestConformance: for every cataloger and a few files it requires, a
// failing reader is an error (not a warning), a canceled context is an
// error, and directories are never required.
func TestConformance(t *testing.T) {
	files := requiredFiles(t)
	dirInfo, err := os.Stat(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Catalogers() {
		for _, f := range files[c.Name()] {
			if c.Required(f.Path, dirInfo) {
				t.Errorf("%s: Required(%q) is true for a directory", c.Name(), f.Path)
			}
			bad := f
			bad.R = failingReader{}
			res, err := c.CatalogFile(context.Background(), bad)
			if !errors.Is(err, errDisk) {
				t.Errorf("%s: %s with a failing reader: error %v, warnings %q; want the read error", c.Name(), f.Path, err, res.Warnings)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := c.CatalogFile(ctx, f); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %s with a canceled context: error %v", c.Name(), f.Path, err)
			}
			if _, err := c.CatalogFile(context.Background(), f); err != nil {
				t.Errorf("%s: %s: %v", c.Name(), f.Path, err)
			}
		}
	}
}
