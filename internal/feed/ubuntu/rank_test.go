package ubuntu

import (
	"context"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
)

// memStore serves the advisories the updaters emitted, as the DB would.
type memStore []*advisory.Advisory

func (s memStore) Candidates(_ context.Context, ns, pkg string) ([]match.Candidate, error) {
	var out []match.Candidate
	for _, a := range s {
		for _, af := range a.Affected {
			if af.Namespace == ns && af.Package == pkg {
				out = append(out, match.Candidate{Advisory: a, Affected: af})
			}
		}
	}
	return out, nil
}

func (memStore) Enrichment(context.Context, string) (*advisory.Advisory, error) { return nil, nil }

func (s memStore) Advisory(_ context.Context, id string) ([]*advisory.Advisory, error) {
	var out []*advisory.Advisory
	for _, a := range s {
		if a.ID == id {
			out = append(out, a)
		}
	}
	return out, nil
}

// TestSourcePerRelease feeds the matcher what the three updaters emit for
// the same CVE and checks the choice of source per release that the
// package doc states: where OSV covers a release (jammy) its record wins
// over the tracker's older state; for lunar, which Canonical's OSV no
// longer lists, the tracker's record decides; a CVE only the OVAL
// snapshot has for lunar is still reported.
func TestSourcePerRelease(t *testing.T) {
	// The tracker's (older) state: jammy still needed, lunar fixed.
	uct, bad := convertUCT([]byte(`{
		"candidate": "CVE-2023-4911", "priority": "high", "public_date": "2023-10-03 17:00:00 UTC",
		"packages": {
			"jammy": {"glibc": {"name": "glibc", "status": "needed"}, "curl": {"name": "curl", "status": "released", "note": "7.81.0-1ubuntu1.14"}},
			"lunar": {"glibc": {"name": "glibc", "status": "released", "note": "2.37-0ubuntu2.1"}}
		}}`))
	if uct == nil || len(bad) != 0 {
		t.Fatalf("UCT: %v", bad)
	}
	// Canonical's OSV: jammy fixed; no lunar entry.
	osvRec := `{"id": "UBUNTU-CVE-2023-4911", "upstream": ["CVE-2023-4911"], "modified": "2023-10-03T17:00:00Z",
		"severity": [{"type": "Ubuntu", "score": "high"}],
		"affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "glibc", "purl": "pkg:deb/ubuntu/glibc?arch=src?distro=jammy"},
			"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.35-0ubuntu3.4"}]}]},
			{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "curl"},
			"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.81.0-1ubuntu1.14"}]}]}]}`
	o, err := parseAll(t, NewOSV(), fstest.MapFS{"all.zip": {Data: zipBytes(t, map[string]string{"UBUNTU-CVE-2023-4911.json": osvRec})}})
	if err != nil || len(o.Advisories) != 1 {
		t.Fatalf("OSV: %d advisories, %v, %v", len(o.Advisories), err, o.Stats.Malformed)
	}
	// OVAL (binary names): lunar libc6 for the same CVE, and one CVE only it has.
	oval := []*advisory.Advisory{
		{ID: "CVE-2023-4911", Source: "ubuntu-oval", Affected: []advisory.Affected{{Namespace: "ubuntu:23.04", Package: "libc6", Kind: advisory.KindBinary, Status: advisory.StatusFixed,
			Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "2.37-0ubuntu2"}}}}}}},
		{ID: "CVE-2023-9999", Source: "ubuntu-oval", Severity: "LOW", Affected: []advisory.Affected{{Namespace: "ubuntu:23.04", Package: "libc6", Kind: advisory.KindBinary, Status: advisory.StatusAffected}}},
	}
	store := append(memStore{uct, o.Advisories[0]}, oval...)

	libc := func(ver string) []inventory.Package {
		return []inventory.Package{
			{Name: "libc6", Version: ver, Type: inventory.TypeDeb, SourceName: "glibc", SourceVersion: ver, PURL: "pkg:deb/ubuntu/libc6@" + ver},
			{Name: "libcurl4", Version: "7.81.0-1ubuntu1.10", Type: inventory.TypeDeb, SourceName: "curl", SourceVersion: "7.81.0-1ubuntu1.10", PURL: "pkg:deb/ubuntu/libcurl4@7.81.0-1ubuntu1.10"},
		}
	}
	type brief struct{ ID, Status, Fixed, Source string }
	run := func(release, ver string) []brief {
		t.Helper()
		inv := &inventory.Inventory{
			Distro:   &inventory.Distro{ID: "ubuntu", VersionID: release, Release: release, Status: inventory.OSSupported},
			Packages: libc(ver),
		}
		res, err := match.Match(context.Background(), store, inv, match.Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
		if err != nil {
			t.Fatal(err)
		}
		var out []brief
		for _, f := range res.Findings {
			out = append(out, brief{f.Package.Name + " " + f.ID, string(f.Status), f.FixedVersion, f.SeveritySource})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out
	}
	// jammy: OSV's fix, not the tracker's "needed"; where both say the
	// same (curl), one finding from OSV.
	if d := cmp.Diff([]brief{
		{"libc6 CVE-2023-4911", "FIXABLE", "2.35-0ubuntu3.4", "vendor:ubuntu-osv"},
		{"libcurl4 CVE-2023-4911", "FIXABLE", "7.81.0-1ubuntu1.14", "vendor:ubuntu-osv"},
	}, run("22.04", "2.35-0ubuntu3.1")); d != "" {
		t.Errorf("jammy (-want +got):\n%s", d)
	}
	// lunar: the tracker's fix (not OVAL's older one), and OVAL's own CVE.
	if d := cmp.Diff([]brief{
		{"libc6 CVE-2023-4911", "FIXABLE", "2.37-0ubuntu2.1", "vendor:ubuntu-uct"},
		{"libc6 CVE-2023-9999", "UNFIXED", "", "vendor:ubuntu-oval"},
	}, run("23.04", "2.37-0ubuntu1")); d != "" {
		t.Errorf("lunar (-want +got):\n%s", d)
	}
}
