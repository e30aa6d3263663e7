package match

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/cargo"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// fuzzEcosystem is one namespace the fuzz target matches in, with a valid
// fixed version of its scheme.
type fuzzEcosystem struct {
	distro *inventory.Distro
	typ    inventory.Type
	ns     string
	fix    string
}

var fuzzEcosystems = []fuzzEcosystem{
	{&inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}, inventory.TypeDeb, "debian:12", "1.0-1"},
	{&inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported}, inventory.TypeAPK, "alpine:3.19", "1.0-r1"},
	{&inventory.Distro{ID: "rhel", VersionID: "9.2", Release: "9", Status: inventory.OSSupported}, inventory.TypeRPM, "rhel:9", "0:1.0-1.el9"},
	{nil, npm.Type, "osv:npm", "1.0.0"},
	{nil, pypi.Type, "osv:PyPI", "1.0"},
	{nil, rubygems.Type, "osv:RubyGems", "1.0"},
	{nil, maven.Type, "osv:Maven", "1.0"},
	{nil, golang.Type, "osv:Go", "1.0.0"},
	{nil, nuget.Type, "osv:NuGet", "1.0"},
	{nil, composer.Type, "osv:Packagist", "1.0"},
	{nil, cargo.Type, "osv:crates.io", "1.0.0"},
}

// FuzzMatchInstalledVersion matches one package with an arbitrary installed
// version against one advisory of each kind. Whatever the version: Match
// succeeds; a not-affected advisory gives nothing; the advisories that do
// not depend on the version give their ordinary findings; and the fixed and
// versions-list advisories give FIXABLE/UNFIXED or nothing for a valid
// version, UNKNOWN_VERSION (never nothing) for an invalid one, which is then
// the one degraded package. Memoized matches agree.
func FuzzMatchInstalledVersion(f *testing.F) {
	for _, c := range unparseableCases() {
		for _, p := range c.pkgs {
			f.Add(uint8(0), p.Version)
		}
	}
	for i, v := range []string{"1.0", "1.0-0", "0.9.0", "2.0.0", "1.0-r0", "0:0.9-1.el9", "latest", "", " ", "v1", "=1.0.0", "1.0 beta", "-", "1:", "0:"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, eco uint8, v string) {
		e := fuzzEcosystems[int(eco)%len(fuzzEcosystems)]
		kind := advisory.KindLanguage
		if e.typ.IsOS() {
			kind = advisory.KindSource
		}
		rec := func(id string, st advisory.Status, rs []advisory.Range, vs ...string) *advisory.Advisory {
			return &advisory.Advisory{ID: id, Source: "fuzz", Affected: []advisory.Affected{{Namespace: e.ns, Package: "pkg", Kind: kind, Status: st, Ranges: rs, Versions: vs}}}
		}
		advs := []*advisory.Advisory{
			rec("FUZZ-FIXED", advisory.StatusFixed, fixed(e.fix)),
			rec("FUZZ-EVERY", advisory.StatusAffected, []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}}}}),
			rec("FUZZ-NORANGE", advisory.StatusAffected, nil),
			rec("FUZZ-WONTFIX", advisory.StatusWillNotFix, fixed(e.fix)),
			rec("FUZZ-NOTAFFECTED", advisory.StatusNotAffected, nil),
			rec("FUZZ-NOTAFFECTED", advisory.StatusFixed, fixed(e.fix)),
		}
		if !e.typ.IsOS() {
			advs = append(advs, rec("FUZZ-LIST", advisory.StatusAffected, nil, e.fix))
		}
		p := inventory.Package{Name: "pkg", Version: v, Type: e.typ, SourceName: "pkg", Path: "fuzz/path"}
		inv := &inventory.Inventory{Distro: e.distro, Packages: []inventory.Package{p}}
		st := fakeStore{advs: advs}
		opts := Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}
		res, err := Match(context.Background(), st, inv, opts)
		if err != nil {
			t.Fatalf("Match(%q): %v", v, err)
		}
		ed, _ := opts.Ecosystems.ByType(p.Type)
		var c version.Comparator
		if ed != nil {
			c = ed.Version
		} else if d, ok := opts.Distros.ByNamespace(e.ns); ok {
			c = d.Version
		}
		if c == nil {
			t.Fatalf("%s: no comparator", e.ns)
		}
		_, verr := c.Compare(installedVersion(&p, ed, kind), installedVersion(&p, ed, kind))
		got := map[string]Finding{}
		for _, f := range res.Findings {
			if _, dup := got[f.ID]; dup {
				t.Fatalf("%q: two findings for %s", v, f.ID)
			}
			got[f.ID] = f
		}
		for _, id := range []string{"FUZZ-EVERY", "FUZZ-NORANGE"} {
			if got[id].Status != StatusUnfixed {
				t.Errorf("%s %q: %s status %q, want UNFIXED whatever the version", e.ns, v, id, got[id].Status)
			}
		}
		if got["FUZZ-WONTFIX"].Status != StatusWillNotFix {
			t.Errorf("%s %q: will-not-fix status %q", e.ns, v, got["FUZZ-WONTFIX"].Status)
		}
		if _, ok := got["FUZZ-NOTAFFECTED"]; ok {
			t.Errorf("%s %q: a not-affected record did not suppress", e.ns, v)
		}
		fx, list := got["FUZZ-FIXED"], got["FUZZ-LIST"]
		if verr != nil {
			want := Finding{Status: StatusUnknownVersion, FixedVersion: e.fix, VersionError: verr.Error()}
			if d := cmp.Diff(want, Finding{Status: fx.Status, FixedVersion: fx.FixedVersion, VersionError: fx.VersionError}); d != "" {
				t.Errorf("%s %q: fixed record (-want +got):\n%s", e.ns, v, d)
			}
			if !e.typ.IsOS() && (list.Status != StatusUnknownVersion || list.FixedVersion != "") {
				t.Errorf("%s %q: versions list: %q %q, want UNKNOWN_VERSION without a fix", e.ns, v, list.Status, list.FixedVersion)
			}
			if len(res.Degraded) != 1 || res.Degraded[0].Package.Version != v || res.Degraded[0].Advisory != "" || res.Degraded[0].Reason == "" {
				t.Errorf("%s %q: degraded %+v, want the package with a reason", e.ns, v, res.Degraded)
			}
		} else {
			if fx.Status != "" && (fx.Status != StatusFixable || fx.FixedVersion != e.fix) {
				t.Errorf("%s %q: fixed record gives %q %q", e.ns, v, fx.Status, fx.FixedVersion)
			}
			if list.Status != "" && list.Status != StatusUnfixed {
				t.Errorf("%s %q: versions list gives %q", e.ns, v, list.Status)
			}
			if len(res.Degraded) != 0 {
				t.Errorf("%s %q: valid version, degraded %+v", e.ns, v, res.Degraded)
			}
		}
		for _, f := range res.Findings {
			if (f.Status == StatusUnknownVersion) != (f.VersionError != "") {
				t.Errorf("%s %q: %s status %s with VersionError %q", e.ns, v, f.ID, f.Status, f.VersionError)
			}
		}
		memo := NewPackageMemo()
		for round := range 2 {
			m, err := Match(context.Background(), st, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true, Memo: memo})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(res, m); d != "" {
				t.Fatalf("%s %q: round %d with memo (-without +with):\n%s", e.ns, v, round, d)
			}
		}
	})
}
