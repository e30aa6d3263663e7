package all

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestEveryCatalogerIsListed parses every package under internal/catalog,
// finds each type with a CatalogFile method, and checks that OS() or
// Language() returns a value of that type.
func TestEveryCatalogerIsListed(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "internal", "catalog")
	var found []string
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
			if !ok || fn.Recv == nil || fn.Name.Name != "CatalogFile" || len(fn.Recv.List) == 0 {
				continue
			}
			typ := fn.Recv.List[0].Type
			if st, ok := typ.(*ast.StarExpr); ok {
				typ = st.X
			}
			if id, ok := typ.(*ast.Ident); ok && ast.IsExported(id.Name) {
				found = append(found, filepath.ToSlash(filepath.Join("catalog", rel))+"."+id.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, c := range append(OS(), Language()...) {
		listed = append(listed, typeName(c))
	}
	sort.Strings(found)
	sort.Strings(listed)
	if d := cmp.Diff(found, listed); d != "" {
		t.Errorf("catalogers found in the tree vs listed in all.go (-found +listed):\n%s", d)
	}
}

func typeName(v any) string {
	s := strings.TrimPrefix(fmtType(v), "*")
	s = strings.TrimPrefix(s, "github.com/stowaway-scanner/stowaway/internal/")
	return s
}
