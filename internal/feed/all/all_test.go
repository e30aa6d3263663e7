package all

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestEveryUpdaterIsListed finds every type under internal/feed with both a
// Fetch and a Parse method and checks that Updaters returns one of it.
func TestEveryUpdaterIsListed(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "internal", "feed")
	methods := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "testdata") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) == 0 {
				continue
			}
			typ := fn.Recv.List[0].Type
			if st, ok := typ.(*ast.StarExpr); ok {
				typ = st.X
			}
			id, ok := typ.(*ast.Ident)
			if !ok || !ast.IsExported(id.Name) {
				continue
			}
			k := filepath.ToSlash(filepath.Join("feed", rel)) + "." + id.Name
			if methods[k] == nil {
				methods[k] = map[string]bool{}
			}
			methods[k][fn.Name.Name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for k, m := range methods {
		if m["Fetch"] && m["Parse"] {
			found = append(found, k)
		}
	}
	seen := map[string]bool{}
	var listed []string
	names := map[string]bool{}
	for _, u := range Updaters(Options{}) {
		if names[u.Name()] {
			t.Errorf("updater name %q is listed twice", u.Name())
		}
		names[u.Name()] = true
		ty := reflect.TypeOf(u)
		if ty.Kind() == reflect.Pointer {
			ty = ty.Elem()
		}
		k := strings.TrimPrefix(ty.PkgPath(), "github.com/stowaway-scanner/stowaway/internal/") + "." + ty.Name()
		if !seen[k] {
			seen[k] = true
			listed = append(listed, k)
		}
	}
	sort.Strings(found)
	sort.Strings(listed)
	if d := cmp.Diff(found, listed); d != "" {
		t.Errorf("updaters found in the tree vs listed in all.go (-found +listed):\n%s", d)
	}
}
