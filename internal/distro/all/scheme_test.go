package all

import (
	"testing"

	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// TestSchemes pins the version scheme of every namespace that has feeds,
// as the descriptors give it.
func TestSchemes(t *testing.T) {
	distros, ecos := Distros(), ecoall.Ecosystems()
	scheme := func(ns string) (version.Scheme, bool) {
		if d, ok := distros.ByNamespace(ns); ok && len(d.Releases) > 0 {
			return d.Scheme, true
		}
		if e, ok := ecos.ByNamespace(ns); ok {
			return e.Scheme, true
		}
		return "", false
	}
	for _, tc := range []struct {
		ns   string
		want version.Scheme
	}{
		{"debian:12", version.SchemeDpkg},
		{"ubuntu:22.04", version.SchemeDpkg},
		{"alpine:3.19", version.SchemeAPK},
		{"rhel:9", version.SchemeRPM},
		{"centos:7", version.SchemeRPM},
		{"ol:8", version.SchemeRPM},
		{"amzn:2", version.SchemeRPM},
		{"amzn:2023", version.SchemeRPM},
		{"osv:PyPI", version.SchemePEP440},
		{"osv:npm", version.SchemeSemVer},
		{"osv:crates.io", version.SchemeSemVer},
		{"osv:Go", version.SchemeGo},
		{"osv:Maven", version.SchemeMaven},
		{"osv:RubyGems", version.SchemeRubyGems},
		{"osv:NuGet", version.SchemeNuGet},
		{"osv:Packagist", version.SchemeComposer},
	} {
		if got, ok := scheme(tc.ns); !ok || got != tc.want {
			t.Errorf("scheme of %q = %q (known %v), want %q", tc.ns, got, ok, tc.want)
		}
	}
	for _, ns := range []string{"", "debian", "osv:", "osv:pypi", "osv:Hackage", "gentoo:1", "arch:rolling"} {
		if s, ok := scheme(ns); ok {
			t.Errorf("scheme of %q = %q, want none", ns, s)
		}
	}
}
