package osv

import (
	"testing"

	json "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestGoImports: a Go record's ecosystem_specific.imports become the
// affected entry's SymbolImports; entries merged for one module keep them only
// when each lists them.
func TestGoImports(t *testing.T) {
	entry := func(spec string) string {
		return `{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]` + spec + `}`
	}
	imports := `,"ecosystem_specific":{"imports":[{"path":"golang.org/x/text/language","symbols":["MatchStrings","Parse"]},{"path":"golang.org/x/text/internal/x","goos":["windows"],"goarch":["amd64"]}]}`
	tests := []struct {
		name     string
		affected string
		want     []advisory.SymbolImport
		problems int
	}{
		{"imports", entry(imports), []advisory.SymbolImport{
			{Path: "golang.org/x/text/language", Symbols: []string{"MatchStrings", "Parse"}},
			{Path: "golang.org/x/text/internal/x", GOOS: []string{"windows"}, GOARCH: []string{"amd64"}}}, 0},
		{"no ecosystem_specific", entry(""), nil, 0},
		{"empty imports", entry(`,"ecosystem_specific":{"imports":[]}`), nil, 0},
		{"import without a path", entry(`,"ecosystem_specific":{"imports":[{"symbols":["X"]}]}`), nil, 1},
		{"imports not a list", entry(`,"ecosystem_specific":{"imports":{"path":"x"}}`), nil, 1},
		{"two entries, both with imports", entry(imports) + "," + entry(`,"ecosystem_specific":{"imports":[{"path":"golang.org/x/text/cases"}]}`), []advisory.SymbolImport{
			{Path: "golang.org/x/text/language", Symbols: []string{"MatchStrings", "Parse"}},
			{Path: "golang.org/x/text/internal/x", GOOS: []string{"windows"}, GOARCH: []string{"amd64"}},
			{Path: "golang.org/x/text/cases"}}, 0},
		{"two entries, one without", entry(imports) + "," + entry(""), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record
			if err := json.Unmarshal([]byte(`{"id":"GO-2021-0113","affected":[`+tt.affected+`]}`), &r); err != nil {
				t.Fatal(err)
			}
			c := converter{source: "osv-Go", eco: "Go", keepVersions: true}
			a, problems, _, err := c.convert(&r)
			if err != nil || a == nil || len(a.Affected) != 1 {
				t.Fatalf("convert = %+v, %v", a, err)
			}
			if d := cmp.Diff(tt.want, a.Affected[0].SymbolImports); d != "" {
				t.Errorf("SymbolImports (-want +got):\n%s", d)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems %q, want %d", problems, tt.problems)
			}
		})
	}
	// Only the Go updater reads them.
	var r record
	if err := json.Unmarshal([]byte(`{"id":"GHSA-x","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}],"ecosystem_specific":{"imports":[{"path":"p"}]}}]}`), &r); err != nil {
		t.Fatal(err)
	}
	c := converter{source: "osv-PyPI", eco: "PyPI", keepVersions: true}
	if a, _, _, _ := c.convert(&r); a == nil || a.Affected[0].SymbolImports != nil {
		t.Errorf("a PyPI record got SymbolImports: %+v", a)
	}
}
