package match

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// fakeStore serves advisories from memory.
type fakeStore struct {
	advs []*advisory.Advisory
	nvd  map[string]*advisory.Advisory
}

func (s fakeStore) Candidates(_ context.Context, ns, pkg string) ([]Candidate, error) {
	var out []Candidate
	for _, a := range s.advs {
		for _, af := range a.Affected {
			if af.Namespace == ns && af.Package == pkg {
				out = append(out, Candidate{Advisory: a, Affected: af})
			}
		}
	}
	return out, nil
}

func (s fakeStore) Enrichment(_ context.Context, id string) (*advisory.Advisory, error) {
	return s.nvd[id], nil
}

func (s fakeStore) Advisory(_ context.Context, id string) ([]*advisory.Advisory, error) {
	var out []*advisory.Advisory
	for _, a := range s.advs {
		if a.ID == id {
			out = append(out, a)
		}
	}
	return out, nil
}

func fixed(v string) []advisory.Range {
	return []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
}

// brief is the part of a finding the table compares.
type brief struct {
	ID, Pkg, Status, Fixed, Severity, SevSource string
	Related                                     []string
}

func briefs(fs []Finding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{f.ID, f.Package.Name, string(f.Status), f.FixedVersion, string(f.Severity), f.SeveritySource, f.Related})
	}
	return out
}

func TestMatch(t *testing.T) {
	debian := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	alpine := &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported}
	rhel9 := &inventory.Distro{ID: "rhel", VersionID: "9.2", Release: "9", Status: inventory.OSSupported}
	centos7 := &inventory.Distro{ID: "centos", VersionID: "7.5.1804", Release: "7", Status: inventory.OSSupported}
	amzn := &inventory.Distro{ID: "amzn", VersionID: "2023", Release: "2023", Status: inventory.OSSupported}
	libssl := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2"}
	cvss98 := advisory.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "nvd"}

	tests := []struct {
		name     string
		distro   *inventory.Distro
		pkgs     []inventory.Package
		advs     []*advisory.Advisory
		nvd      map[string]*advisory.Advisory
		language bool
		want     []brief
	}{
		{
			name: "debian matches the source package and version", distro: debian, pkgs: []inventory.Package{libssl},
			advs: []*advisory.Advisory{{ID: "CVE-2024-0727", Source: "osv-Debian", Severity: "MEDIUM", Affected: []advisory.Affected{
				{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.0.13-1~deb12u1")}}}},
			want: []brief{{"CVE-2024-0727", "libssl3", "FIXABLE", "3.0.13-1~deb12u1", "MEDIUM", "vendor:osv-Debian", nil}},
		},
		{
			name: "installed equals fixed: no finding", distro: debian,
			pkgs: []inventory.Package{{Name: "libssl3", Version: "3.0.13-1~deb12u1", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.13-1~deb12u1"}},
			advs: []*advisory.Advisory{{ID: "CVE-2024-0727", Source: "osv-Debian", Affected: []advisory.Affected{
				{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.0.13-1~deb12u1")}}}},
		},
		{
			name: "one revision below fixed (apk -r suffix) is affected", distro: alpine,
			pkgs: []inventory.Package{{Name: "libcrypto3", Version: "3.1.4-r4", Type: inventory.TypeAPK, SourceName: "openssl", SourceVersion: "3.1.4-r4"}},
			advs: []*advisory.Advisory{{ID: "CVE-2023-6129", Source: "alpine", Affected: []advisory.Affected{
				{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.1.4-r5")}}}},
			nvd:  map[string]*advisory.Advisory{"CVE-2023-6129": {ID: "CVE-2023-6129", CVSS: []advisory.CVSS{{Version: "3.1", Score: 6.5, Source: "nvd"}}}},
			want: []brief{{"CVE-2023-6129", "libcrypto3", "FIXABLE", "3.1.4-r5", "MEDIUM", "cvss3:nvd", nil}},
		},
		{
			name: "a CVSS v2 score alone is rated on NVD's v2 scale (9.3 is HIGH, not CRITICAL)", distro: alpine,
			pkgs: []inventory.Package{{Name: "libcrypto3", Version: "3.1.4-r4", Type: inventory.TypeAPK, SourceName: "openssl", SourceVersion: "3.1.4-r4"}},
			advs: []*advisory.Advisory{{ID: "CVE-2009-0001", Source: "alpine", Affected: []advisory.Affected{
				{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.1.4-r5")}}}},
			nvd:  map[string]*advisory.Advisory{"CVE-2009-0001": {ID: "CVE-2009-0001", CVSS: []advisory.CVSS{{Version: "2.0", Score: 9.3, Source: "nvd"}}}},
			want: []brief{{"CVE-2009-0001", "libcrypto3", "FIXABLE", "3.1.4-r5", "HIGH", "cvss2:nvd", nil}},
		},
		{
			// NVD 2.0 records carry CVSS v4.0 too (internal/feed/nvd): it is
			// recorded but rates nothing, so v3 then v2 decide as before and
			// a v4-only score leaves the finding UNDEFINED.
			name: "CVSS v4.0 never picks the severity", distro: alpine,
			pkgs: []inventory.Package{{Name: "libcrypto3", Version: "3.1.4-r4", Type: inventory.TypeAPK, SourceName: "openssl", SourceVersion: "3.1.4-r4"}},
			advs: []*advisory.Advisory{
				{ID: "CVE-2024-0041", Source: "alpine", Affected: []advisory.Affected{{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.1.4-r5")}}},
				{ID: "CVE-2024-0042", Source: "alpine", Affected: []advisory.Affected{{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.1.4-r5")}}},
				{ID: "CVE-2024-0043", Source: "alpine", Affected: []advisory.Affected{{Namespace: "alpine:3.19", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.1.4-r5")}}},
			},
			nvd: map[string]*advisory.Advisory{
				"CVE-2024-0041": {ID: "CVE-2024-0041", CVSS: []advisory.CVSS{{Version: "4.0", Score: 9.3, Source: "nvd"}, {Version: "3.1", Score: 5.3, Source: "nvd"}}},
				"CVE-2024-0042": {ID: "CVE-2024-0042", CVSS: []advisory.CVSS{{Version: "2.0", Score: 4.3, Source: "nvd"}, {Version: "4.0", Score: 9.3, Source: "cna@example.org"}}},
				"CVE-2024-0043": {ID: "CVE-2024-0043", CVSS: []advisory.CVSS{{Version: "4.0", Score: 9.3, Source: "cna@example.org"}}},
			},
			want: []brief{
				{"CVE-2024-0041", "libcrypto3", "FIXABLE", "3.1.4-r5", "MEDIUM", "cvss3:nvd", nil},
				{"CVE-2024-0042", "libcrypto3", "FIXABLE", "3.1.4-r5", "MEDIUM", "cvss2:nvd", nil},
				{"CVE-2024-0043", "libcrypto3", "FIXABLE", "3.1.4-r5", "UNDEFINED", "none", nil},
			},
		},
		{
			name: "unfixed, will-not-fix, and not-affected beating another record", distro: debian, pkgs: []inventory.Package{libssl},
			advs: []*advisory.Advisory{
				{ID: "CVE-2023-0001", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
				{ID: "CVE-2023-0002", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix}}},
				{ID: "CVE-2023-0003", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusNotAffected}}},
				{ID: "DSA-9999-1", Aliases: []string{"CVE-2023-0003"}, Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("9.9")}}},
			},
			want: []brief{
				{"CVE-2023-0001", "libssl3", "UNFIXED", "", "UNDEFINED", "none", nil},
				{"CVE-2023-0002", "libssl3", "WILL_NOT_FIX", "", "UNDEFINED", "none", nil},
			},
		},
		{
			name: "withdrawn and rejected records are never findings, whatever the store returns", distro: debian, pkgs: []inventory.Package{libssl},
			advs: []*advisory.Advisory{
				{ID: "CVE-2023-0010", Source: "osv-Debian", Rejected: true, Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
				{ID: "DSA-9998-1", Aliases: []string{"CVE-2023-0011"}, Source: "osv-Debian", Withdrawn: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("9.9")}}},
				{ID: "CVE-2023-0011", Source: "osv-Debian", Affected: []advisory.Affected{{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
			},
			// The withdrawn DSA neither gives its fix nor hides its CVE.
			want: []brief{{"CVE-2023-0011", "libssl3", "UNFIXED", "", "UNDEFINED", "none", nil}},
		},
		{
			name: "vendor advisory listing CVEs gives one finding per CVE, merged with the CVE record", distro: amzn,
			pkgs: []inventory.Package{{Name: "curl", Version: "8.0.1-1.amzn2023", Epoch: 0, Release: "1.amzn2023", Type: inventory.TypeRPM, Arch: "x86_64", SourceName: "curl"}},
			advs: []*advisory.Advisory{
				{ID: "ALAS2023-2023-100", Aliases: []string{"CVE-2023-38545", "CVE-2023-38546"}, Source: "amazon", Severity: "CRITICAL", Affected: []advisory.Affected{
					{Namespace: "amzn:2023", Package: "curl", Kind: advisory.KindBinary, Status: advisory.StatusFixed, Ranges: fixed("0:8.4.0-1.amzn2023"), Arches: []string{"x86_64", "aarch64"}}}},
				{ID: "ALAS2023-2023-200", Aliases: []string{"CVE-2023-38545"}, Source: "amazon", Severity: "HIGH", Affected: []advisory.Affected{
					{Namespace: "amzn:2023", Package: "curl", Kind: advisory.KindBinary, Status: advisory.StatusFixed, Ranges: fixed("0:8.5.0-1.amzn2023"), Arches: []string{"aarch64"}}}},
			},
			want: []brief{
				{"CVE-2023-38545", "curl", "FIXABLE", "0:8.4.0-1.amzn2023", "CRITICAL", "vendor:amazon", []string{"ALAS2023-2023-100", "CVE-2023-38546"}},
				{"CVE-2023-38546", "curl", "FIXABLE", "0:8.4.0-1.amzn2023", "CRITICAL", "vendor:amazon", []string{"ALAS2023-2023-100", "CVE-2023-38545"}},
			},
		},
		{
			name: "red hat: source rpm name, module streams, z-stream fixes", distro: rhel9,
			pkgs: []inventory.Package{
				{Name: "libcurl", Version: "7.76.1-23.el9_2.5", Release: "23.el9_2.5", Type: inventory.TypeRPM, SourceName: "curl", SourceVersion: "7.76.1-23.el9_2.5"},
				{Name: "curl-minimal", Version: "7.76.1-14.el9", Release: "14.el9", Type: inventory.TypeRPM, SourceName: "curl", SourceVersion: "7.76.1-14.el9"},
				{Name: "nodejs", Version: "1:18.14.2-2.module+el9.2.0+18177+4ab1c0d1", Epoch: 1, Release: "2.module+el9.2.0+18177+4ab1c0d1", Type: inventory.TypeRPM, SourceName: "nodejs", Module: "nodejs:18:9020020230322:rhel9"},
			},
			advs: []*advisory.Advisory{
				{ID: "CVE-2023-38545", Source: "redhat", Severity: "HIGH", Affected: []advisory.Affected{
					{Namespace: "rhel:9", Package: "curl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("0:7.76.1-23.el9_2.4")},
					{Namespace: "rhel:9", Package: "curl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("0:7.76.1-26.el9_3.2")}}},
				{ID: "CVE-2023-30581", Source: "redhat", Severity: "HIGH", Affected: []advisory.Affected{
					{Namespace: "rhel:9", Package: "nodejs", Kind: advisory.KindSource, Module: "nodejs:18", Status: advisory.StatusFixed, Ranges: fixed("1:18.17.1-1.module+el9.2.0+19753+58118bc0")},
					{Namespace: "rhel:9", Package: "nodejs", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1:16.20.0-1.el9")}}},
			},
			want: []brief{
				{"CVE-2023-30581", "nodejs", "FIXABLE", "1:18.17.1-1.module+el9.2.0+19753+58118bc0", "HIGH", "vendor:redhat", nil},
				{"CVE-2023-38545", "curl-minimal", "FIXABLE", "0:7.76.1-23.el9_2.4", "HIGH", "vendor:redhat", nil},
			},
		},
		{
			name: "ubuntu: the CVE tracker outranks the older OVAL snapshot", distro: &inventory.Distro{ID: "ubuntu", VersionID: "20.04", Release: "20.04", Status: inventory.OSSupported},
			pkgs: []inventory.Package{{Name: "libssl1.1", Version: "1.1.1f-1ubuntu2.19", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "1.1.1f-1ubuntu2.19"}},
			advs: []*advisory.Advisory{
				{ID: "CVE-2021-3711", Source: "ubuntu-oval", Severity: "HIGH", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "libssl1.1", Kind: advisory.KindBinary, Status: advisory.StatusFixed, Ranges: fixed("1.1.1f-1ubuntu2.99")}}},
				{ID: "CVE-2021-3711", Source: "ubuntu-uct", Severity: "HIGH", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1.1.1f-1ubuntu2.8")}}},
				{ID: "CVE-2021-9999", Source: "ubuntu-oval", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "libssl1.1", Kind: advisory.KindBinary, Status: advisory.StatusFixed, Ranges: fixed("1.1.1f-1ubuntu2.99")}}},
				// The tracker judged CVE-2017-11164 for focal and listed only pcre3.
				{ID: "CVE-2017-11164", Source: "ubuntu-oval", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "libssl1.1", Kind: advisory.KindBinary, Status: advisory.StatusAffected}}},
				{ID: "CVE-2017-11164", Source: "ubuntu-uct", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "pcre3", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
			},
			want: []brief{{"CVE-2021-9999", "libssl1.1", "FIXABLE", "1.1.1f-1ubuntu2.99", "LOW", "vendor:ubuntu-oval", nil}},
		},
		{
			// Identical records of two sources are not deduplicated into
			// one: the outranked one alone would be "judged elsewhere".
			name: "ubuntu: OSV and the tracker agree", distro: &inventory.Distro{ID: "ubuntu", VersionID: "22.04", Release: "22.04", Status: inventory.OSSupported},
			pkgs: []inventory.Package{{Name: "libc6", Version: "2.35-0ubuntu3", Type: inventory.TypeDeb, SourceName: "glibc", SourceVersion: "2.35-0ubuntu3"}},
			advs: []*advisory.Advisory{
				{ID: "CVE-2023-4911", Source: "ubuntu-uct", Severity: "HIGH", Affected: []advisory.Affected{{Namespace: "ubuntu:22.04", Package: "glibc", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("2.35-0ubuntu3.4")}}},
				{ID: "CVE-2023-4911", Source: "ubuntu-osv", Severity: "HIGH", Affected: []advisory.Affected{{Namespace: "ubuntu:22.04", Package: "glibc", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("2.35-0ubuntu3.4")}}},
			},
			want: []brief{{"CVE-2023-4911", "libc6", "FIXABLE", "2.35-0ubuntu3.4", "HIGH", "vendor:ubuntu-osv", nil}},
		},
		{
			name: "centos 7 uses rhel 7 data", distro: centos7,
			pkgs: []inventory.Package{{Name: "openssl-libs", Version: "1:1.0.2k-12.el7", Epoch: 1, Release: "12.el7", Type: inventory.TypeRPM, SourceName: "openssl"}},
			advs: []*advisory.Advisory{{ID: "CVE-2018-0737", Source: "redhat", Severity: "LOW", Affected: []advisory.Affected{
				{Namespace: "rhel:7", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("1:1.0.2k-16.el7")}}}},
			want: []brief{{"CVE-2018-0737", "openssl-libs", "FIXABLE", "1:1.0.2k-16.el7", "LOW", "vendor:redhat", nil}},
		},
		{
			name: "osv aliases dedupe PYSEC and GHSA into the CVE; NVD scores it", distro: nil, language: true,
			pkgs: []inventory.Package{{Name: "Requests", Version: "2.19.1", Type: pypi.Type, Path: "site-packages/requests-2.19.1.dist-info/METADATA"}},
			advs: []*advisory.Advisory{
				{ID: "PYSEC-2018-28", Aliases: []string{"CVE-2018-18074", "GHSA-x84v-xcm2-53pg"}, Source: "osv-PyPI", Affected: []advisory.Affected{{Namespace: "osv:PyPI", Package: "requests", Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("2.20.0")}}},
				{ID: "GHSA-x84v-xcm2-53pg", Aliases: []string{"CVE-2018-18074"}, Source: "osv-PyPI", Affected: []advisory.Affected{{Namespace: "osv:PyPI", Package: "requests", Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("2.20.0")}}},
			},
			nvd:  map[string]*advisory.Advisory{"CVE-2018-18074": {ID: "CVE-2018-18074", CVSS: []advisory.CVSS{cvss98}}},
			want: []brief{{"CVE-2018-18074", "Requests", "FIXABLE", "2.20.0", "CRITICAL", "cvss3:nvd", []string{"GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"}}},
		},
		{
			name: "language packages are not matched by BASIC scans", distro: nil, language: false,
			pkgs: []inventory.Package{{Name: "requests", Version: "2.19.1", Type: pypi.Type}},
			advs: []*advisory.Advisory{{ID: "GHSA-x84v-xcm2-53pg", Source: "osv-PyPI", Affected: []advisory.Affected{{Namespace: "osv:PyPI", Package: "requests", Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: fixed("2.20.0")}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: tc.distro, Packages: tc.pkgs}
			for i := range inv.Packages {
				inv.Packages[i].PURL = names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}.PURL(inv.Packages[i], tc.distro)
			}
			res, err := Match(context.Background(), fakeStore{advs: tc.advs, nvd: tc.nvd}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: tc.language})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, briefs(res.Findings)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			checkMemo(t, fakeStore{advs: tc.advs, nvd: tc.nvd}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: tc.language}, res)
			// A store with the Judge capability gives the same findings
			// without being asked for whole advisories.
			judged, err := Match(context.Background(), judgingStore{fakeStore{advs: tc.advs, nvd: tc.nvd}}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: tc.language})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(briefs(res.Findings), briefs(judged.Findings)); d != "" {
				t.Errorf("with Judge (-Advisory +Judge):\n%s", d)
			}
		})
	}
}

// judgingStore is a fakeStore with the Judge capability whose Advisory
// fails: a match that still asks for whole advisories fails.
type judgingStore struct{ fakeStore }

func (s judgingStore) Advisory(_ context.Context, id string) ([]*advisory.Advisory, error) {
	return nil, fmt.Errorf("Advisory(%s) asked of a store that judges", id)
}

func (s judgingStore) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	advs, err := s.fakeStore.Advisory(ctx, id)
	if err != nil {
		return false, err
	}
	for _, a := range advs {
		for _, af := range a.Affected {
			if a.Source == source && af.Namespace == namespace {
				return true, nil
			}
		}
	}
	return false, nil
}

// TestJudgeThroughPrefetch: an inventory large enough to be prefetched
// still reaches the store's Judge capability (the prefetching wrapper must
// not hide it), and the outranked record judged elsewhere is dropped.
func TestJudgeThroughPrefetch(t *testing.T) {
	focal := &inventory.Distro{ID: "ubuntu", VersionID: "20.04", Release: "20.04", Status: inventory.OSSupported}
	pkgs := []inventory.Package{{Name: "libssl1.1", Version: "1.1.1f-1ubuntu2.19", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "1.1.1f-1ubuntu2.19"}}
	for i := range 2 * prefetchWorkers {
		n := fmt.Sprintf("pad%d", i)
		pkgs = append(pkgs, inventory.Package{Name: n, Version: "1", Type: inventory.TypeDeb, SourceName: n, SourceVersion: "1"})
	}
	if len(Keys(&inventory.Inventory{Distro: focal, Packages: pkgs}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})) < 2*prefetchWorkers {
		t.Fatal("inventory too small to be prefetched")
	}
	advs := []*advisory.Advisory{
		{ID: "CVE-2017-11164", Source: "ubuntu-oval", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "libssl1.1", Kind: advisory.KindBinary, Status: advisory.StatusAffected}}},
		{ID: "CVE-2017-11164", Source: "ubuntu-uct", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "pcre3", Kind: advisory.KindSource, Status: advisory.StatusAffected}}},
		{ID: "CVE-2021-9999", Source: "ubuntu-oval", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:20.04", Package: "libssl1.1", Kind: advisory.KindBinary, Status: advisory.StatusFixed, Ranges: fixed("1.1.1f-1ubuntu2.99")}}},
	}
	res, err := Match(context.Background(), judgingStore{fakeStore{advs: advs}}, &inventory.Inventory{Distro: focal, Packages: pkgs}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{{"CVE-2021-9999", "libssl1.1", "FIXABLE", "1.1.1f-1ubuntu2.99", "LOW", "vendor:ubuntu-oval", nil}}
	if d := cmp.Diff(want, briefs(res.Findings)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// checkMemo: a memo shared between matches gives the same result (findings
// and degraded packages) as res, matched without a memo, on its first
// (filling) and later (answering) uses, even after a caller has scribbled
// on the findings it got.
func checkMemo(t *testing.T, st Store, inv *inventory.Inventory, opts Options, res *Result) {
	t.Helper()
	memo := NewPackageMemo()
	opts.Memo = memo
	for round := range 3 {
		got, err := Match(context.Background(), st, inv, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(res, got); d != "" {
			t.Errorf("round %d with memo (-without +with):\n%s", round, d)
		}
		for i := range got.Findings {
			got.Findings[i].Related = append(got.Findings[i].Related[:0:0], "SCRIBBLE")
			if len(got.Findings[i].Sources) > 0 {
				got.Findings[i].Sources[0] = "scribble"
			}
		}
	}
	if hits, misses := memo.Stats(); len(res.Findings)+len(res.Degraded) > 0 && (hits == 0 || misses == 0) {
		t.Errorf("memo stats: %d hits, %d misses; want both", hits, misses)
	}
}

// TestPackageMemoKeepsCallersPackage: a memo hit reports the caller's
// package (its path and layer), not the one that filled the memo, and
// packages that differ in a field matching reads are not confused.
func TestPackageMemoKeepsCallersPackage(t *testing.T) {
	debian := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	st := fakeStore{advs: []*advisory.Advisory{{ID: "CVE-2024-0727", Source: "osv-Debian", Severity: "MEDIUM", Affected: []advisory.Affected{
		{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed("3.0.13-1~deb12u1")}}}}}
	pkg := func(v, layer string) inventory.Package {
		return inventory.Package{Name: "libssl3", Version: v, Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: v, Path: "var/lib/dpkg/status", Layer: layer}
	}
	memo := NewPackageMemo()
	tests := []struct {
		name string
		pkg  inventory.Package
		want []string // layers of the findings
	}{
		{"fills", pkg("3.0.11-1~deb12u2", "sha256:a"), []string{"sha256:a"}},
		{"hit keeps the caller's layer", pkg("3.0.11-1~deb12u2", "sha256:b"), []string{"sha256:b"}},
		{"another version is matched, not answered", pkg("3.0.13-1~deb12u1", "sha256:c"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Match(context.Background(), st, &inventory.Inventory{Distro: debian, Packages: []inventory.Package{tc.pkg}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Memo: memo})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Package.Layer)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if hits, misses := memo.Stats(); hits != 1 || misses != 2 {
		t.Errorf("memo stats: %d hits, %d misses; want 1 and 2", hits, misses)
	}
}
