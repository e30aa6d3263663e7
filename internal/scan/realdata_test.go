package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testdb"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// realDBs is this test binary's real-data DB: $STOWAWAY_TEST_DB when set
// (checked against ../shared/feeds), else built once and removed by TestMain.
var realDBs testdb.DB

func TestMain(m *testing.M) { os.Exit(realDBs.Run(m)) }

// realDB returns the DB of everything in ../shared/feeds, as `stowaway db
// update --mirror ../shared/feeds` builds it.
func realDB(t *testing.T) *scan.VulnDB {
	t.Helper()
	return &scan.VulnDB{DB: realDBs.Open(t)}
}

type osImage struct {
	file, family, release string
}

var osImages = []osImage{
	{"alpine-3.16.tar", "alpine", "3.16"}, {"alpine-3.17.tar", "alpine", "3.17"}, {"alpine-3.18.tar", "alpine", "3.18"},
	{"alpine-3.19.tar", "alpine", "3.19"}, {"alpine-3.20.oci", "alpine", "3.20"},
	{"debian-10.tar", "debian", "10"}, {"debian-11.oci", "debian", "11"}, {"debian-12.tar", "debian", "12"},
	{"ubuntu-14.04.tar", "ubuntu", "trusty"}, {"ubuntu-16.04.tar", "ubuntu", "xenial"}, {"ubuntu-18.04.tar", "ubuntu", "bionic"},
	{"ubuntu-20.04.tar", "ubuntu", "focal"}, {"ubuntu-22.04.oci", "ubuntu", "jammy"},
	{"centos-7.tar", "redhat", "7"}, {"rhel-8.tar", "redhat", "8"}, {"rhel-9.oci", "redhat", "9"},
	{"amazonlinux-2.tar", "amazon", "2"}, {"amazonlinux-2023.oci", "amazon", "2023"},
}

// TestRealImagesAgainstFeedOracles scans every OS image of ../shared/images
// and checks, for every OS package, that the CVE findings equal what an
// oracle derives from the raw feed files. It logs each image's packages and
// findings by severity.
func TestRealImagesAgainstFeedOracles(t *testing.T) {
	db := realDB(t)
	images := testutil.Shared(t, "images")
	feeds := testutil.Shared(t, "feeds")
	ctx := context.Background()

	// Scan everything first, so that each raw bundle is read once.
	results := map[string]*report.Scan{}
	wanted := map[string]map[string]bool{}
	releases := map[string][]string{}
	for _, c := range osImages {
		src, err := resolve(filepath.Join(images, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		res, err := scan.Image(ctx, src, db, scan.Options{OS: all.OS()})
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		results[c.file] = res
		if wanted[c.family] == nil {
			wanted[c.family] = map[string]bool{}
		}
		for _, p := range res.Inventory.Packages {
			wanted[c.family][p.Name] = true
			if p.SourceName != "" {
				wanted[c.family][p.SourceName] = true
			}
		}
		releases[c.family] = append(releases[c.family], c.release)
	}
	oracles := map[string]oracle{}
	// CVE ids rejected by the CVE program give no finding from any feed.
	rejected := map[string]bool{}
	if err := nvdRejected(feeds, rejected); err != nil {
		t.Fatal(err)
	}
	if err := ovalRejected(feeds, rejected); err != nil {
		t.Fatal(err)
	}
	debs, err := newDebianOracles(feeds, releases["debian"], wanted["debian"], rejected)
	if err != nil {
		t.Fatal(err)
	}
	for r, o := range debs {
		oracles["debian/"+r] = o
	}
	ubs, err := newUbuntuOracles(feeds, releases["ubuntu"], wanted["ubuntu"], rejected)
	if err != nil {
		t.Fatal(err)
	}
	for r, o := range ubs {
		oracles["ubuntu/"+r] = o
	}
	rhs, err := newRedHatOracles(feeds, releases["redhat"], wanted["redhat"], rejected)
	if err != nil {
		t.Fatal(err)
	}
	for r, o := range rhs {
		oracles["redhat/"+r] = o
	}
	for _, r := range releases["alpine"] {
		if oracles["alpine/"+r], err = newAlpineOracle(feeds, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range releases["amazon"] {
		if oracles["amazon/"+r], err = newAmazonOracle(feeds, r); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range osImages {
		t.Run(c.file, func(t *testing.T) {
			res := results[c.file]
			if res.Status != scan.StatusComplete {
				t.Fatalf("status %s: %s", res.Status, res.StatusDescription)
			}
			for _, f := range res.Findings {
				if rejected[f.ID] {
					t.Errorf("%s %s: finding for %s, a CVE id the CVE program rejected", f.Package.Name, f.Package.Version, f.ID)
				}
			}
			o := oracles[c.family+"/"+c.release]
			got := map[string]map[string]expectation{}
			for _, f := range res.Findings {
				if !strings.HasPrefix(f.ID, "CVE-") {
					continue
				}
				k := pkgKey(f.Package)
				if got[k] == nil {
					got[k] = map[string]expectation{}
				}
				got[k][f.ID] = expectation{string(f.Status), f.FixedVersion}
			}
			counts := map[string]int{}
			checked := 0
			for _, p := range res.Inventory.Packages {
				want, err := o.expect(p)
				if err != nil {
					t.Errorf("%s: oracle: %v", p.Name, err)
					continue
				}
				for id := range want {
					if rejected[id] {
						delete(want, id)
					}
				}
				checked++
				if len(want) == 0 {
					counts["clean"]++
				}
				for _, e := range want {
					counts[e.Status]++
				}
				g := got[pkgKey(p)]
				if g == nil {
					g = map[string]expectation{}
				}
				if d := cmp.Diff(normalize(want), normalize(g)); d != "" {
					t.Errorf("%s %s: findings differ from the feed oracle (-oracle +stowaway):\n%s", p.Name, p.Version, d)
				}
			}
			if checked < 10 && checked < len(res.Inventory.Packages) {
				t.Errorf("checked %d packages, want at least 10", checked)
			}
			t.Logf("%d packages checked against the raw feed: %s", checked, summarize(counts))
			t.Logf("findings by severity: %s", summarize(report.SeverityCounts(res.Findings)))
		})
	}
}

func summarize[K ~string](m map[K]int) string {
	var keys []string
	for k, v := range m {
		keys = append(keys, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

func pkgKey(p inventory.Package) string { return p.Name + "@" + p.Version + "@" + p.Arch }

// normalize makes fixed versions comparable across "0:" epoch spellings.
func normalize(m map[string]expectation) map[string]expectation {
	out := make(map[string]expectation, len(m))
	for k, v := range m {
		v.Fixed = strings.TrimPrefix(v.Fixed, "0:")
		out[k] = v
	}
	return out
}

// TestUbuntuAccuracy scans the shared Ubuntu images against the DB of
// ../shared/feeds and checks the findings that issue 22 showed wrong: CVE
// ids the CVE program rejected, and an ESM pocket's not-affected losing to
// the base release's ignored. It also checks that no record of a real
// rejected id, one per feed that has such a record, is in the DB at all.
func TestUbuntuAccuracy(t *testing.T) {
	db := realDB(t)
	images := testutil.Shared(t, "images")
	ctx := context.Background()
	gone := []struct{ image, pkg, id, why string }{
		{"ubuntu-14.04.tar", "libc-bin", "CVE-2011-3336", "trusty: ignored, trusty/esm: not-affected"},
		{"ubuntu-14.04.tar", "ntpdate", "CVE-2014-9297", "rejected (the tracker's ** REJECT ** text)"},
		{"ubuntu-18.04.tar", "libncursesw5", "CVE-2018-10754", "rejected"},
		{"ubuntu-20.04.tar", "libstdc++6", "CVE-2020-35537", "rejected"},
	}
	scanned := map[string][]string{}
	for _, g := range gone {
		if _, ok := scanned[g.image]; !ok {
			src, err := resolve(filepath.Join(images, g.image))
			if err != nil {
				t.Fatalf("%s: %v", g.image, err)
			}
			res, err := scan.Image(ctx, src, db, scan.Options{OS: all.OS()})
			if err != nil {
				t.Fatalf("%s: %v", g.image, err)
			}
			var keys []string
			for _, p := range res.Inventory.Packages {
				keys = append(keys, "pkg "+p.Name)
			}
			for _, f := range res.Findings {
				keys = append(keys, f.Package.Name+" "+f.ID)
			}
			scanned[g.image] = keys
		}
		if !slices.Contains(scanned[g.image], "pkg "+g.pkg) {
			t.Errorf("%s has no package %s: the check would prove nothing", g.image, g.pkg)
		}
		if slices.Contains(scanned[g.image], g.pkg+" "+g.id) {
			t.Errorf("%s: %s still reported on %s (%s)", g.image, g.id, g.pkg, g.why)
		}
	}
	// One real rejected record per feed that has one: no source keeps a
	// record of the id, by id or by alias.
	for _, id := range []string{
		"CVE-2014-9297",  // ubuntu-uct and nvd ("Rejected reason: DO NOT USE THIS CANDIDATE NUMBER.")
		"CVE-2018-10754", // ubuntu-uct only (2018: not in the NVD 1.1 snapshot)
		"CVE-2020-28476", // ubuntu-oval (focal, bionic ...) and ubuntu-uct
		"CVE-2024-26609", // redhat only ("[REJECTED CVE] ...")
		"CVE-2018-10886", // an osv-Debian CVE record of an id ubuntu-uct/nvd reject
		"CVE-2017-9410",  // an alpine secdb fix listed under an id nvd rejects
		"CVE-2012-6686",  // redhat "[REJECTED CVE] This CVE has been rejected."
	} {
		advs, err := db.DB.Advisory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		aliased, err := db.DB.ByAlias(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range append(advs, aliased...) {
			if len(a.Affected) > 0 {
				t.Errorf("%s: %s record %s still stored with %d affected entries", id, a.Source, a.ID, len(a.Affected))
			}
		}
	}
	// A CVE rejected as a duplicate leaves the records that alias it
	// standing, without the alias: CVE-2023-5129 (a duplicate of
	// CVE-2023-4863) in Debian's CVE-2023-4863 and GHSA-j7hp-h8jx-5ppr.
	for _, id := range []string{"CVE-2023-4863", "GHSA-j7hp-h8jx-5ppr"} {
		advs, err := db.DB.Advisory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(advs) == 0 {
			t.Errorf("%s: no record left", id)
		}
		for _, a := range advs {
			if slices.Contains(a.Aliases, "CVE-2023-5129") {
				t.Errorf("%s (%s) still aliases the rejected CVE-2023-5129", id, a.Source)
			}
		}
	}
}
