package all

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// TestSchemes pins the version comparator of every namespace that has
// feeds, as the descriptors give it.
func TestSchemes(t *testing.T) {
	distros, ecos := Distros(), ecoall.Ecosystems()
	comparator := func(ns string) (version.Comparator, bool) {
		if d, ok := distros.ByNamespace(ns); ok && len(d.Releases) > 0 {
			return d.Version, true
		}
		if e, ok := ecos.ByNamespace(ns); ok {
			return e.Version, true
		}
		return nil, false
	}
	for _, tc := range []struct {
		ns   string
		want version.Comparator
	}{
		{"debian:12", version.Dpkg{}},
		{"ubuntu:22.04", version.Dpkg{}},
		{"alpine:3.19", version.APK{}},
		{"rhel:9", version.RPM{}},
		{"centos:7", version.RPM{}},
		{"ol:8", version.RPM{}},
		{"amzn:2", version.RPM{}},
		{"amzn:2023", version.RPM{}},
		{"osv:PyPI", pypi.Comparator{}},
		{"osv:npm", version.SemVer{}},
		{"osv:crates.io", version.SemVer{}},
		{"osv:Go", golang.Comparator{}},
		{"osv:Maven", maven.Comparator{}},
		{"osv:RubyGems", rubygems.Comparator{}},
		{"osv:NuGet", nuget.Comparator{}},
		{"osv:Packagist", composer.Comparator{}},
	} {
		got, ok := comparator(tc.ns)
		if !ok {
			t.Errorf("%q: no descriptor", tc.ns)
			continue
		}
		// The comparators are empty structs: their types tell them apart.
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("comparator of %q (-want +got):\n%s", tc.ns, d)
		}
	}
	for _, ns := range []string{"", "debian", "osv:", "osv:pypi", "osv:Hackage", "gentoo:1", "arch:rolling"} {
		if c, ok := comparator(ns); ok {
			t.Errorf("comparator of %q = %T, want none", ns, c)
		}
	}
}
