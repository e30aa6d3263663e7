package match

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// ufinding is the part of a finding the unparseable-version tests compare.
type ufinding struct {
	ID, Pkg, Version, Path, Status, Fixed, Severity, VersionError string
}

func ufindings(fs []Finding) []ufinding {
	var out []ufinding
	for _, f := range fs {
		out = append(out, ufinding{f.ID, f.Package.Name, f.Package.Version, f.Package.Path, string(f.Status), f.FixedVersion, string(f.Severity), f.VersionError})
	}
	return out
}

// udegraded is a Degraded entry as the tests compare it.
type udegraded struct {
	Pkg, Version, Type, Path, Namespace, Advisory, Reason string
}

func udegradeds(ds []Degraded) []udegraded {
	var out []udegraded
	for _, d := range ds {
		out = append(out, udegraded{d.Package.Name, d.Package.Version, string(d.Package.Type), d.Package.Path, d.Namespace, d.Advisory, d.Reason})
	}
	return out
}

func rngs(evs ...advisory.Event) []advisory.Range { return []advisory.Range{{Events: evs}} }

// unparseableCase is an inventory holding packages whose versions their
// schemes cannot parse, with their vulnerable siblings.
type unparseableCase struct {
	name     string
	distro   *inventory.Distro
	pkgs     []inventory.Package
	advs     []*advisory.Advisory
	nvd      map[string]*advisory.Advisory
	language bool
	want     []ufinding
	degraded []udegraded
}

func (tc unparseableCase) inventory() *inventory.Inventory {
	inv := &inventory.Inventory{Distro: tc.distro, Packages: append([]inventory.Package(nil), tc.pkgs...)}
	for i := range inv.Packages {
		inv.Packages[i].PURL = names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}.PURL(inv.Packages[i], tc.distro)
	}
	return inv
}

func unparseableCases() []unparseableCase {
	alpine := &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported}
	debian := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	rhel9 := &inventory.Distro{ID: "rhel", VersionID: "9.2", Release: "9", Status: inventory.OSSupported}
	const apkDB, dpkgDB, rpmDB = "lib/apk/db/installed", "var/lib/dpkg/status", "var/lib/rpm/rpmdb.sqlite"
	lang := func(a *advisory.Advisory, ns, pkg string, st advisory.Status, rs []advisory.Range, vs ...string) *advisory.Advisory {
		a.Affected = append(a.Affected, advisory.Affected{Namespace: ns, Package: pkg, Kind: advisory.KindLanguage, Status: st, Ranges: rs, Versions: vs})
		return a
	}
	return []unparseableCase{
		{
			name: "apk 1.2.4_r2 beside musl-utils 1.2.4-r2; an advisory's own invalid version", distro: alpine,
			pkgs: []inventory.Package{
				{Name: "musl", Version: "1.2.4_r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4_r2", Path: apkDB},
				{Name: "musl-utils", Version: "1.2.4-r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4-r2", Path: apkDB},
				{Name: "busybox", Version: "1.36.1-r15", Type: inventory.TypeAPK, SourceName: "busybox", SourceVersion: "1.36.1-r15", Path: apkDB},
			},
			advs: []*advisory.Advisory{
				{ID: "CVE-2025-26519", Source: "alpine", Affected: []advisory.Affected{
					{Namespace: "alpine:3.19", Package: "musl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1.2.4-r3")}}},
				// secdb "0": not affected, whatever the version.
				{ID: "CVE-2020-28928", Source: "alpine", Affected: []advisory.Affected{
					{Namespace: "alpine:3.19", Package: "musl", Kind: advisory.KindSource, Status: advisory.StatusNotAffected}}},
				// A fixed version apk-tools itself rejects (Alpine's secdb has a few).
				{ID: "CVE-2022-28391", Source: "alpine", Affected: []advisory.Affected{
					{Namespace: "alpine:3.19", Package: "busybox", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1.35.0.r7")}}},
			},
			nvd: map[string]*advisory.Advisory{"CVE-2025-26519": {ID: "CVE-2025-26519", CVSS: []advisory.CVSS{{Version: "3.1", Score: 8.1, Source: "nvd"}}}},
			want: []ufinding{
				{"CVE-2025-26519", "musl", "1.2.4_r2", apkDB, "UNKNOWN_VERSION", "1.2.4-r3", "HIGH", `apk: version "1.2.4_r2": invalid version: unknown suffix "_r"`},
				{"CVE-2025-26519", "musl-utils", "1.2.4-r2", apkDB, "FIXABLE", "1.2.4-r3", "HIGH", ""},
				{"CVE-2022-28391", "busybox", "1.36.1-r15", apkDB, "UNKNOWN_VERSION", "", "UNDEFINED",
					`advisory CVE-2022-28391 (alpine): version: affected: range 0: event version: apk: version "1.35.0.r7": invalid version: no digits after '.'`},
			},
			degraded: []udegraded{
				{"busybox", "1.36.1-r15", "apk", apkDB, "alpine:3.19", "CVE-2022-28391",
					`advisory CVE-2022-28391 (alpine): version: affected: range 0: event version: apk: version "1.35.0.r7": invalid version: no digits after '.'`},
				{"musl", "1.2.4_r2", "apk", apkDB, "alpine:3.19", "", `apk: version "1.2.4_r2": invalid version: unknown suffix "_r"`},
			},
		},
		{
			name: "npm latest, a git URL and an empty version beside lodash 4.17.15; =v and white space are npm spellings", language: true,
			pkgs: []inventory.Package{
				{Name: "lodash", Version: "latest", Type: npm.Type, Path: "app/package.json"},
				{Name: "lodash", Version: "git+https://github.com/lodash/lodash.git#4.17.15", Type: npm.Type, Path: "app/node_modules/lodash/package.json"},
				{Name: "lodash", Version: "", Type: npm.Type, Path: "vendor/lodash/package.json"},
				{Name: "lodash", Version: "4.17.15", Type: npm.Type, Path: "srv/node_modules/lodash/package.json"},
				{Name: "lodash", Version: " =v4.17.16 ", Type: npm.Type, Path: "old/node_modules/lodash/package.json"},
				{Name: "lodash", Version: "4.17.21", Type: npm.Type, Path: "new/node_modules/lodash/package.json"},
			},
			advs: []*advisory.Advisory{
				lang(&advisory.Advisory{ID: "GHSA-35jh-r3h4-6jhm", Aliases: []string{"CVE-2021-23337"}, Source: "osv-npm", Severity: "HIGH"},
					"osv:npm", "lodash", advisory.StatusFixed, rngs(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "4.17.21"})),
				// Every version, no fix: the version does not matter.
				lang(&advisory.Advisory{ID: "GHSA-aaaa-bbbb-cccc", Source: "osv-npm", Severity: "LOW"},
					"osv:npm", "lodash", advisory.StatusAffected, rngs(advisory.Event{Introduced: "0"})),
			},
			want: []ufinding{
				// Sorted by severity, id, name, then path.
				{"CVE-2021-23337", "lodash", "git+https://github.com/lodash/lodash.git#4.17.15", "app/node_modules/lodash/package.json", "UNKNOWN_VERSION", "4.17.21", "HIGH",
					`semver: version "git+https://github.com/lodash/lodash.git#4.17.15": invalid version: invalid characters in version`},
				{"CVE-2021-23337", "lodash", "latest", "app/package.json", "UNKNOWN_VERSION", "4.17.21", "HIGH", `semver: version "latest": invalid version: invalid semantic version`},
				{"CVE-2021-23337", "lodash", " =v4.17.16 ", "old/node_modules/lodash/package.json", "FIXABLE", "4.17.21", "HIGH", ""},
				{"CVE-2021-23337", "lodash", "4.17.15", "srv/node_modules/lodash/package.json", "FIXABLE", "4.17.21", "HIGH", ""},
				{"CVE-2021-23337", "lodash", "", "vendor/lodash/package.json", "UNKNOWN_VERSION", "4.17.21", "HIGH", "semver: empty version: invalid version"},
				{"GHSA-aaaa-bbbb-cccc", "lodash", "git+https://github.com/lodash/lodash.git#4.17.15", "app/node_modules/lodash/package.json", "UNFIXED", "", "LOW", ""},
				{"GHSA-aaaa-bbbb-cccc", "lodash", "latest", "app/package.json", "UNFIXED", "", "LOW", ""},
				{"GHSA-aaaa-bbbb-cccc", "lodash", "4.17.21", "new/node_modules/lodash/package.json", "UNFIXED", "", "LOW", ""},
				{"GHSA-aaaa-bbbb-cccc", "lodash", " =v4.17.16 ", "old/node_modules/lodash/package.json", "UNFIXED", "", "LOW", ""},
				{"GHSA-aaaa-bbbb-cccc", "lodash", "4.17.15", "srv/node_modules/lodash/package.json", "UNFIXED", "", "LOW", ""},
				{"GHSA-aaaa-bbbb-cccc", "lodash", "", "vendor/lodash/package.json", "UNFIXED", "", "LOW", ""},
			},
			degraded: []udegraded{
				{"lodash", "", "npm", "vendor/lodash/package.json", "osv:npm", "", "semver: empty version: invalid version"},
				{"lodash", "git+https://github.com/lodash/lodash.git#4.17.15", "npm", "app/node_modules/lodash/package.json", "osv:npm", "",
					`semver: version "git+https://github.com/lodash/lodash.git#4.17.15": invalid version: invalid characters in version`},
				{"lodash", "latest", "npm", "app/package.json", "osv:npm", "", `semver: version "latest": invalid version: invalid semantic version`},
			},
		},
		{
			name: "pypi 2.10.0 beta beside Jinja2 2.10: a fix, and a versions list with none", language: true,
			pkgs: []inventory.Package{
				{Name: "Jinja2", Version: "2.10.0 beta", Type: pypi.Type, Path: "site-packages/Jinja2-2.10.0 beta.dist-info/METADATA"},
				{Name: "Jinja2", Version: "2.10", Type: pypi.Type, Path: "site-packages/Jinja2-2.10.dist-info/METADATA"},
			},
			advs: []*advisory.Advisory{
				lang(&advisory.Advisory{ID: "CVE-2019-10906", Source: "osv-PyPI", Severity: "HIGH"},
					"osv:PyPI", "jinja2", advisory.StatusFixed, rngs(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "2.10.1"})),
				lang(&advisory.Advisory{ID: "PYSEC-2099-1", Source: "osv-PyPI", Severity: "MEDIUM"},
					"osv:PyPI", "jinja2", advisory.StatusAffected, nil, "2.10", "2.9.6", "trunk"),
				// A list with a pre-PEP 440 entry: skipped for a valid
				// installed version, which it cannot equal.
				lang(&advisory.Advisory{ID: "PYSEC-2099-2", Source: "osv-PyPI", Severity: "LOW"},
					"osv:PyPI", "jinja2", advisory.StatusAffected, nil, "0.7.10p1", "2.9"),
			},
			want: []ufinding{
				{"CVE-2019-10906", "Jinja2", "2.10.0 beta", "site-packages/Jinja2-2.10.0 beta.dist-info/METADATA", "UNKNOWN_VERSION", "2.10.1", "HIGH",
					`pep440: version "2.10.0 beta": space or control character at byte 6: invalid version`},
				{"CVE-2019-10906", "Jinja2", "2.10", "site-packages/Jinja2-2.10.dist-info/METADATA", "FIXABLE", "2.10.1", "HIGH", ""},
				{"PYSEC-2099-1", "Jinja2", "2.10.0 beta", "site-packages/Jinja2-2.10.0 beta.dist-info/METADATA", "UNKNOWN_VERSION", "", "MEDIUM",
					`pep440: version "2.10.0 beta": space or control character at byte 6: invalid version`},
				{"PYSEC-2099-1", "Jinja2", "2.10", "site-packages/Jinja2-2.10.dist-info/METADATA", "UNFIXED", "", "MEDIUM", ""},
				{"PYSEC-2099-2", "Jinja2", "2.10.0 beta", "site-packages/Jinja2-2.10.0 beta.dist-info/METADATA", "UNKNOWN_VERSION", "", "LOW",
					`pep440: version "2.10.0 beta": space or control character at byte 6: invalid version`},
			},
			degraded: []udegraded{{"Jinja2", "2.10.0 beta", "pypi", "site-packages/Jinja2-2.10.0 beta.dist-info/METADATA", "osv:PyPI", "",
				`pep440: version "2.10.0 beta": space or control character at byte 6: invalid version`}},
		},
		{
			name: "rubygems rack (-) beside rack 2.0.0: branch ranges report the fix that leaves them all", language: true,
			pkgs: []inventory.Package{
				{Name: "rack", Version: "-", Type: rubygems.Type, Path: "app/Gemfile.lock"},
				{Name: "rack", Version: "2.0.0", Type: rubygems.Type, Path: "srv/Gemfile.lock"},
			},
			advs: []*advisory.Advisory{
				lang(&advisory.Advisory{ID: "GHSA-j6w9-fv6q-3q52", Aliases: []string{"CVE-2020-8184"}, Source: "osv-RubyGems", Severity: "HIGH"},
					"osv:RubyGems", "rack", advisory.StatusFixed, []advisory.Range{
						{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "2.1.4"}}},
						{Events: []advisory.Event{{Introduced: "2.2.0"}, {Fixed: "2.2.3"}}}}),
			},
			want: []ufinding{
				{"CVE-2020-8184", "rack", "-", "app/Gemfile.lock", "UNKNOWN_VERSION", "2.2.3", "HIGH", `rubygems: version "-": invalid version: invalid gem version`},
				{"CVE-2020-8184", "rack", "2.0.0", "srv/Gemfile.lock", "FIXABLE", "2.1.4", "HIGH", ""},
			},
			degraded: []udegraded{{"rack", "-", "gem", "app/Gemfile.lock", "osv:RubyGems", "", `rubygems: version "-": invalid version: invalid gem version`}},
		},
		{
			name: "dpkg version with a space: fixed, unfixed, will-not-fix and not-affected records", distro: debian,
			pkgs: []inventory.Package{
				{Name: "libssl3", Version: "3.0.11-1 deb12u2", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1 deb12u2", Path: dpkgDB},
				{Name: "openssl", Version: " 3.0.11-1~deb12u2\t", Type: inventory.TypeDeb, SourceName: "openssl", Path: dpkgDB},
				// The binary version is bad, the source version that
				// Debian's records compare is fine: findings as usual,
				// still listed as degraded.
				{Name: "libcrypt1", Version: "1:4.4.33 2", Type: inventory.TypeDeb, SourceName: "libxcrypt", SourceVersion: "1:4.4.33-2", Path: dpkgDB},
			},
			advs: []*advisory.Advisory{
				{ID: "CVE-2024-0727", Source: "osv-Debian", Severity: "MEDIUM", Affected: []advisory.Affected{
					{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.0.13-1~deb12u1")}}},
				{ID: "CVE-2023-0001", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
				{ID: "CVE-2023-0002", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix, Ranges: fixed("9.9")}}},
				{ID: "CVE-2023-0003", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusNotAffected}}},
				{ID: "DSA-9999-1", Aliases: []string{"CVE-2023-0003"}, Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("9.9")}}},
				{ID: "CVE-2024-9999", Source: "osv-Debian", Severity: "LOW", Affected: []advisory.Affected{
					{Namespace: "debian:12", Package: "libxcrypt", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1:4.4.33-3")}}},
			},
			want: []ufinding{
				{"CVE-2024-0727", "libssl3", "3.0.11-1 deb12u2", dpkgDB, "UNKNOWN_VERSION", "3.0.13-1~deb12u1", "MEDIUM", `dpkg: version "3.0.11-1 deb12u2": space or control character at byte 8: invalid version`},
				{"CVE-2024-0727", "openssl", " 3.0.11-1~deb12u2\t", dpkgDB, "FIXABLE", "3.0.13-1~deb12u1", "MEDIUM", ""},
				{"CVE-2024-9999", "libcrypt1", "1:4.4.33 2", dpkgDB, "FIXABLE", "1:4.4.33-3", "LOW", ""},
				{"CVE-2023-0001", "libssl3", "3.0.11-1 deb12u2", dpkgDB, "UNFIXED", "", "UNDEFINED", ""},
				{"CVE-2023-0001", "openssl", " 3.0.11-1~deb12u2\t", dpkgDB, "UNFIXED", "", "UNDEFINED", ""},
				{"CVE-2023-0002", "libssl3", "3.0.11-1 deb12u2", dpkgDB, "WILL_NOT_FIX", "", "UNDEFINED", ""},
				{"CVE-2023-0002", "openssl", " 3.0.11-1~deb12u2\t", dpkgDB, "WILL_NOT_FIX", "", "UNDEFINED", ""},
			},
			degraded: []udegraded{
				{"libcrypt1", "1:4.4.33 2", "deb", dpkgDB, "debian:12", "", `dpkg: version "1:4.4.33 2": space or control character at byte 8: invalid version`},
				{"libssl3", "3.0.11-1 deb12u2", "deb", dpkgDB, "debian:12", "", `dpkg: version "3.0.11-1 deb12u2": space or control character at byte 8: invalid version`},
			},
		},
		{
			name: "records of one vulnerability that disagree: the strongest outcome wins", distro: debian,
			pkgs: []inventory.Package{
				{Name: "zlib1g", Version: "1:1.2.13 dfsg-1", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.13 dfsg-1", Path: dpkgDB},
				{Name: "libz-good", Version: "1:1.2.13.dfsg-1", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.13.dfsg-1", Path: dpkgDB},
			},
			advs: []*advisory.Advisory{
				// A fix (undecided for the bad version) beats "affected, every version".
				{ID: "CVE-2023-1001", Source: "osv-Debian", Affected: []advisory.Affected{
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusAffected},
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1:1.3-1")}}},
				// Will-not-fix beats an undecided record without a fix.
				{ID: "CVE-2023-1002", Source: "osv-Debian", Affected: []advisory.Affected{
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusAffected, Ranges: rngs(advisory.Event{Introduced: "1:1.2.0"})},
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix}}},
				// An evaluated FIXABLE beats a record whose own version is
				// bad; the package is not degraded by it.
				{ID: "CVE-2023-1003", Source: "osv-Debian", Affected: []advisory.Affected{
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1:1.3-1")},
					{Namespace: "debian:12", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("x1.3")}}},
			},
			want: []ufinding{
				{"CVE-2023-1001", "libz-good", "1:1.2.13.dfsg-1", dpkgDB, "FIXABLE", "1:1.3-1", "UNDEFINED", ""},
				{"CVE-2023-1001", "zlib1g", "1:1.2.13 dfsg-1", dpkgDB, "UNKNOWN_VERSION", "1:1.3-1", "UNDEFINED", `dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version`},
				{"CVE-2023-1002", "libz-good", "1:1.2.13.dfsg-1", dpkgDB, "UNFIXED", "", "UNDEFINED", ""},
				{"CVE-2023-1002", "zlib1g", "1:1.2.13 dfsg-1", dpkgDB, "WILL_NOT_FIX", "", "UNDEFINED", ""},
				{"CVE-2023-1003", "libz-good", "1:1.2.13.dfsg-1", dpkgDB, "FIXABLE", "1:1.3-1", "UNDEFINED", ""},
				{"CVE-2023-1003", "zlib1g", "1:1.2.13 dfsg-1", dpkgDB, "UNKNOWN_VERSION", "1:1.3-1", "UNDEFINED", `dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version`},
			},
			degraded: []udegraded{{"zlib1g", "1:1.2.13 dfsg-1", "deb", dpkgDB, "debian:12", "", `dpkg: version "1:1.2.13 dfsg-1": space or control character at byte 8: invalid version`}},
		},
		{
			name: "rpm empty version (no epoch is added to it)", distro: rhel9,
			pkgs: []inventory.Package{
				{Name: "curl-minimal", Version: "", Type: inventory.TypeRPM, SourceName: "curl", Path: rpmDB},
				{Name: "libcurl", Version: "7.76.1-23.el9", Release: "23.el9", Type: inventory.TypeRPM, SourceName: "curl", SourceVersion: "7.76.1-23.el9", Path: rpmDB},
			},
			advs: []*advisory.Advisory{{ID: "CVE-2023-38545", Source: "redhat", Severity: "HIGH", Affected: []advisory.Affected{
				{Namespace: "rhel:9", Package: "curl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("0:7.76.1-26.el9_3.2")}}}},
			want: []ufinding{
				{"CVE-2023-38545", "curl-minimal", "", rpmDB, "UNKNOWN_VERSION", "0:7.76.1-26.el9_3.2", "HIGH", "rpm: empty version: invalid version"},
				{"CVE-2023-38545", "libcurl", "7.76.1-23.el9", rpmDB, "FIXABLE", "0:7.76.1-26.el9_3.2", "HIGH", ""},
			},
			degraded: []udegraded{{"curl-minimal", "", "rpm", rpmDB, "rhel:9", "", "rpm: empty version: invalid version"}},
		},
		{
			name: "language packages are not matched, so not degraded, in BASIC scans",
			pkgs: []inventory.Package{{Name: "lodash", Version: "latest", Type: npm.Type, Path: "app/package.json"}},
			advs: []*advisory.Advisory{lang(&advisory.Advisory{ID: "GHSA-35jh-r3h4-6jhm", Source: "osv-npm"},
				"osv:npm", "lodash", advisory.StatusFixed, rngs(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "4.17.21"}))},
		},
	}
}

// TestMatchUnparseableVersions: a package whose version its scheme cannot
// parse completes the match, is never dropped (UNKNOWN_VERSION, or the
// ordinary finding when the record does not depend on the version), is
// listed as degraded, and leaves its vulnerable siblings' findings alone.
func TestMatchUnparseableVersions(t *testing.T) {
	for _, tc := range unparseableCases() {
		t.Run(tc.name, func(t *testing.T) {
			inv := tc.inventory()
			st := fakeStore{advs: tc.advs, nvd: tc.nvd}
			opts := Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: tc.language}
			res, err := Match(context.Background(), st, inv, opts)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if d := cmp.Diff(tc.want, ufindings(res.Findings)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.degraded, udegradeds(res.Degraded)); d != "" {
				t.Errorf("degraded (-want +got):\n%s", d)
			}
			checkMemo(t, st, inv, opts, res)
		})
	}
}

// failingStore fails every lookup.
type failingStore struct{ fakeStore }

var errStore = errors.New("disk on fire")

func (failingStore) Candidates(context.Context, string, string) ([]Candidate, error) {
	return nil, errStore
}

// TestMatchErrorsThatRemainErrors: store errors and cancellation still fail
// a match that holds a degraded package; only comparisons degrade.
func TestMatchErrorsThatRemainErrors(t *testing.T) {
	inv := &inventory.Inventory{Packages: []inventory.Package{{Name: "lodash", Version: "latest", Type: npm.Type}}}
	if _, err := Match(context.Background(), failingStore{}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}); !errors.Is(err, errStore) {
		t.Errorf("store error: Match error = %v, want %v", err, errStore)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Match(ctx, fakeStore{}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: Match error = %v, want context.Canceled", err)
	}
}

// TestTouchingUnparseable: matching the packages Touching keeps for any one
// key (a rescan's change pass) gives exactly the whole match's findings and
// degraded packages for those packages.
func TestTouchingUnparseable(t *testing.T) {
	for _, tc := range unparseableCases() {
		t.Run(tc.name, func(t *testing.T) {
			inv := tc.inventory()
			st := fakeStore{advs: tc.advs, nvd: tc.nvd}
			opts := Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: tc.language}
			whole, err := Match(context.Background(), st, inv, opts)
			if err != nil {
				t.Fatal(err)
			}
			keys := Keys(inv, opts)
			if len(tc.want) > 0 && len(keys) == 0 {
				t.Fatal("no keys")
			}
			for _, k := range keys {
				sub := Touching(inv, opts, map[Key]bool{k: true})
				kept := map[string]bool{}
				for _, p := range sub.Packages {
					kept[p.PURL+"\x00"+p.Path] = true
				}
				want := &Result{}
				for _, f := range whole.Findings {
					if kept[f.Package.PURL+"\x00"+f.Package.Path] {
						want.Findings = append(want.Findings, f)
					}
				}
				for _, d := range whole.Degraded {
					if kept[d.Package.PURL+"\x00"+d.Package.Path] {
						want.Degraded = append(want.Degraded, d)
					}
				}
				got, err := Match(context.Background(), st, sub, opts)
				if err != nil {
					t.Fatalf("%v: %v", k, err)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("key %v: (-whole match +touching match):\n%s", k, d)
				}
			}
		})
	}
}

func TestDegradedLabel(t *testing.T) {
	long := strings.Repeat("a", 100)
	tests := []struct {
		name string
		d    Degraded
		want string
	}{
		{"installed version", Degraded{Package: inventory.Package{Name: "lodash", Version: "latest", Path: "app/package.json"}}, `lodash "latest" (app/package.json)`},
		{"advisory's version", Degraded{Package: inventory.Package{Name: "busybox", Version: "1.36.1-r15", Path: "lib/apk/db/installed"}, Advisory: "CVE-2022-28391"},
			`busybox "1.36.1-r15" (lib/apk/db/installed; advisory CVE-2022-28391)`},
		{"no path, empty version", Degraded{Package: inventory.Package{Name: "left-pad"}}, `left-pad ""`},
		{"control characters and bad UTF-8", Degraded{Package: inventory.Package{Name: "x\x1b[31m", Version: "1\n2\xff", Path: "a\tb"}}, `x?[31m "1?2?" (a?b)`},
		{"clipped", Degraded{Package: inventory.Package{Name: long, Version: long, Path: long}},
			`aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (` + strings.Repeat("a", 46) + "..." + strings.Repeat("a", 47) + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Label(); got != tc.want {
				t.Errorf("Label() = %s, want %s", got, tc.want)
			}
		})
	}
	// Clipping never splits a rune.
	if got := Clip("ééééé", 6); got != "...é" {
		t.Errorf("Clip(ééééé, 6) = %q, want %q", got, "...é")
	}
}
