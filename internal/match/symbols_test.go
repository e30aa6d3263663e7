package match

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func TestSymbolPresence(t *testing.T) {
	goRec := func(id, pkg string, imports []advisory.SymbolImport, aliases ...string) *advisory.Advisory {
		return &advisory.Advisory{ID: id, Source: "osv-Go", Aliases: aliases, Affected: []advisory.Affected{{
			Namespace: "osv:Go", Package: pkg, Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("v0.3.7"), SymbolImports: imports}}}
	}
	textParse := []advisory.SymbolImport{{Path: "golang.org/x/text/language", Symbols: []string{"MatchStrings", "Parse"}}}
	windowsOnly := []advisory.SymbolImport{{Path: "golang.org/x/text/language", Symbols: []string{"Parse"}, GOOS: []string{"windows"}}}
	wholePkg := []advisory.SymbolImport{{Path: "golang.org/x/text/language"}}
	otherPkg := []advisory.SymbolImport{{Path: "golang.org/x/text/encoding/unicode"}}
	stdlibTLS := []advisory.SymbolImport{{Path: "crypto/tls", Symbols: []string{"Conn.Handshake"}, GOARCH: []string{"amd64", "arm64"}}}

	stdlibRec := func(a *advisory.Advisory) *advisory.Advisory {
		a.Affected[0].Ranges = fixed("1.21.0")
		return a
	}
	text := inventory.Package{Name: "golang.org/x/text", Version: "v0.3.5", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.5", Path: "app"}
	fork := inventory.Package{Name: "example.com/fork/text", Version: "v0.3.5", Type: "golang", PURL: "pkg:golang/example.com/fork/text@v0.3.5", Path: "app"}
	fromGoMod := text
	fromGoMod.Path = "src/go.mod"
	stdlib := inventory.Package{Name: "stdlib", Version: "go1.20.1", Type: "golang", PURL: "pkg:golang/stdlib@go1.20.1", Path: "app"}
	bin := func(syms map[string][]string) *inventory.SymbolTable {
		return &inventory.SymbolTable{Path: "app", GOOS: "linux", GOARCH: "amd64", Complete: true, Symbols: syms}
	}
	withParse := bin(map[string][]string{"golang.org/x/text/language": {"Parse", "Tag.String"}, "crypto/tls": {"Conn.Handshake"}})
	withoutParse := bin(map[string][]string{"golang.org/x/text/language": {"Tag.String"}, "fmt": {"Println"}})
	partial := bin(map[string][]string{"golang.org/x/text/language": {"Tag.String"}})
	partial.Complete, partial.Partial = false, "inline trees not read: binary built before Go 1.18"
	forked := bin(map[string][]string{"golang.org/x/text/language": {"Parse"}})
	forked.Replaced = map[string]string{"example.com/fork/text": "golang.org/x/text"}

	type want struct {
		Presence SymbolPresence
		Symbols  []string
		Reason   string
	}
	tests := []struct {
		name string
		advs []*advisory.Advisory
		pkg  inventory.Package
		bin  *inventory.SymbolTable
		want want
	}{
		{"present", []*advisory.Advisory{goRec("GO-2021-0113", text.Name, textParse)}, text, withParse,
			want{SymbolPresent, []string{"golang.org/x/text/language.Parse"}, ""}},
		{"not present", []*advisory.Advisory{goRec("GO-2021-0113", text.Name, textParse)}, text, withoutParse,
			want{SymbolNotPresent, nil, "no vulnerable symbol in the binary"}},
		{"other platform", []*advisory.Advisory{goRec("GO-X", text.Name, windowsOnly)}, text, withParse,
			want{SymbolNotPresent, nil, "vulnerable only on other platforms than linux/amd64"}},
		{"whole package present", []*advisory.Advisory{goRec("GO-X", text.Name, wholePkg)}, text, withoutParse,
			want{SymbolPresent, []string{"golang.org/x/text/language"}, ""}},
		{"whole package absent", []*advisory.Advisory{goRec("GO-X", text.Name, otherPkg)}, text, withoutParse,
			want{SymbolNotPresent, nil, "no vulnerable symbol in the binary"}},
		{"record without imports", []*advisory.Advisory{goRec("GO-X", text.Name, nil)}, text, withParse,
			want{SymbolUnknown, nil, "the advisory lists no vulnerable symbols"}},
		{"a GHSA without imports beside its GO record", []*advisory.Advisory{goRec("GO-X", text.Name, textParse, "CVE-1"), goRec("GHSA-x", text.Name, nil, "CVE-1")}, text, withoutParse,
			want{SymbolNotPresent, nil, "no vulnerable symbol in the binary"}},
		{"go.mod source", []*advisory.Advisory{goRec("GO-X", text.Name, textParse)}, fromGoMod, withParse,
			want{SymbolUnknown, nil, "not read from a binary with a symbol table"}},
		{"unreadable binary", []*advisory.Advisory{goRec("GO-X", text.Name, textParse)}, text, &inventory.SymbolTable{Path: "app", Problem: "no pclntab found"},
			want{SymbolUnknown, nil, "the binary's symbols could not be read: no pclntab found"}},
		{"absent without inline trees is unknown", []*advisory.Advisory{goRec("GO-X", text.Name, textParse)}, text, partial,
			want{SymbolUnknown, nil, "no vulnerable symbol found, but inline trees not read: binary built before Go 1.18"}},
		{"replaced module", []*advisory.Advisory{goRec("GO-X", fork.Name, []advisory.SymbolImport{{Path: "example.com/fork/text/language", Symbols: []string{"Parse"}}})}, fork, forked,
			want{SymbolPresent, []string{"example.com/fork/text/language.Parse"}, ""}},
		{"stdlib", []*advisory.Advisory{stdlibRec(goRec("GO-2023-1", "stdlib", stdlibTLS))}, stdlib, withParse,
			want{SymbolPresent, []string{"crypto/tls.Conn.Handshake"}, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Packages: []inventory.Package{tt.pkg}, SymbolTables: map[string]*inventory.SymbolTable{"app": tt.bin}}
			res, err := Match(context.Background(), fakeStore{advs: tt.advs}, inv, Options{Language: true, Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("%d findings, want 1: %+v", len(res.Findings), briefs(res.Findings))
			}
			f := res.Findings[0]
			if d := cmp.Diff(tt.want, want{f.SymbolPresence, f.VulnerableSymbols, f.SymbolPresenceReason}); d != "" {
				t.Errorf("presence (-want +got):\n%s", d)
			}
		})
	}
}

// TestSymbolPresenceOnlyGo: findings of other ecosystems carry no presence,
// and a memoized match decides presence per image.
func TestSymbolPresenceOnlyGo(t *testing.T) {
	py := &advisory.Advisory{ID: "PYSEC-1", Source: "osv-PyPI", Affected: []advisory.Affected{{Namespace: "osv:PyPI", Package: "requests", Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("2.20.0")}}}
	goAdv := &advisory.Advisory{ID: "GO-1", Source: "osv-Go", Affected: []advisory.Affected{{Namespace: "osv:Go", Package: "golang.org/x/text", Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("v0.3.7"),
		SymbolImports: []advisory.SymbolImport{{Path: "golang.org/x/text/language", Symbols: []string{"Parse"}}}}}}
	store := fakeStore{advs: []*advisory.Advisory{py, goAdv}}
	memo := NewPackageMemo()
	opts := Options{Language: true, Memo: memo, Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}
	pkgs := []inventory.Package{
		{Name: "requests", Version: "2.19.1", Type: "pypi", PURL: "pkg:pypi/requests@2.19.1", Path: "site-packages"},
		{Name: "golang.org/x/text", Version: "v0.3.5", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.5", Path: "app"},
	}
	for _, tc := range []struct {
		syms []string
		want SymbolPresence
	}{{[]string{"Parse"}, SymbolPresent}, {[]string{"Tag.String"}, SymbolNotPresent}} {
		inv := &inventory.Inventory{Packages: pkgs, SymbolTables: map[string]*inventory.SymbolTable{"app": {Path: "app", Complete: true, Symbols: map[string][]string{"golang.org/x/text/language": tc.syms}}}}
		res, err := Match(context.Background(), store, inv, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]SymbolPresence{}
		for _, f := range res.Findings {
			got[f.ID] = f.SymbolPresence
		}
		if d := cmp.Diff(map[string]SymbolPresence{"PYSEC-1": "", "GO-1": tc.want}, got); d != "" {
			t.Errorf("symbols %v (-want +got):\n%s", tc.syms, d)
		}
	}
}
