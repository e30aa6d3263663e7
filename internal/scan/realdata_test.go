package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

var (
	realDBOnce sync.Once
	realDB     *scan.VulnDB
	realDBErr  error
)

// sharedDB builds, once per test binary, a DB from ../shared/feeds holding
// the OS sources (NVD is left out: it only adds scores).
func sharedDB(t *testing.T) *scan.VulnDB {
	t.Helper()
	feeds := testutil.Shared(t, "feeds")
	if testing.Short() {
		t.Skip("builds a vulnerability DB from ../shared/feeds (about a minute)")
	}
	realDBOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stowaway-realdb-")
		if err != nil {
			realDBErr = err
			return
		}
		var ups []feed.Updater
		for _, u := range feedall.Updaters() {
			if !strings.HasPrefix(u.Name(), "nvd") && !strings.HasPrefix(u.Name(), "osv-") || u.Name() == "osv-Debian" {
				ups = append(ups, u)
			}
		}
		src, err := source.New(feeds, source.Options{})
		if err != nil {
			realDBErr = err
			return
		}
		rep, err := vulndb.Update(context.Background(), dir, ups, src, vulndb.UpdateOptions{})
		if err != nil {
			realDBErr = err
			return
		}
		for _, s := range rep.Sources {
			if s.Err != "" {
				realDBErr = fmt.Errorf("source %s: %s", s.Name, s.Err)
				return
			}
		}
		db, err := vulndb.Open(context.Background(), dir)
		if err != nil {
			realDBErr = err
			return
		}
		realDB = &scan.VulnDB{DB: db}
	})
	if realDBErr != nil {
		t.Fatalf("build DB from ../shared/feeds: %v", realDBErr)
	}
	return realDB
}

// TestRealImagesAgainstFeedOracles scans every OS image of ../shared/images
// and checks, for every OS package, that the CVE findings equal what the
// oracle derives from the raw feed files.
func TestRealImagesAgainstFeedOracles(t *testing.T) {
	db := sharedDB(t)
	images := testutil.Shared(t, "images")
	feeds := testutil.Shared(t, "feeds")
	type cfg struct {
		file, family, release string
	}
	cases := []cfg{
		{"alpine-3.16.tar", "alpine", "3.16"}, {"alpine-3.17.tar", "alpine", "3.17"}, {"alpine-3.18.tar", "alpine", "3.18"},
		{"alpine-3.19.tar", "alpine", "3.19"}, {"alpine-3.20.oci", "alpine", "3.20"},
		{"debian-10.tar", "debian", "10"}, {"debian-11.oci", "debian", "11"}, {"debian-12.tar", "debian", "12"},
		{"ubuntu-14.04.tar", "ubuntu", "trusty"}, {"ubuntu-16.04.tar", "ubuntu", "xenial"}, {"ubuntu-18.04.tar", "ubuntu", "bionic"},
		{"ubuntu-20.04.tar", "ubuntu", "focal"}, {"ubuntu-22.04.oci", "ubuntu", "jammy"},
		{"centos-7.tar", "redhat", "7"}, {"rhel-8.tar", "redhat", "8"}, {"rhel-9.oci", "redhat", "9"},
		{"amazonlinux-2.tar", "amazon", "2"}, {"amazonlinux-2023.oci", "amazon", "2023"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ctx := context.Background()
			src, err := resolve(filepath.Join(images, c.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Image(ctx, src, db, scan.Options{OS: all.OS()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != scan.StatusComplete {
				t.Fatalf("status %s: %s", res.Status, res.StatusDescription)
			}
			wanted := map[string]bool{}
			for _, p := range res.Inventory.Packages {
				wanted[p.Name] = true
				if p.SourceName != "" {
					wanted[p.SourceName] = true
				}
			}
			var o oracle
			switch c.family {
			case "alpine":
				o, err = newAlpineOracle(feeds, c.release)
			case "debian":
				o, err = newDebianOracle(feeds, c.release, wanted)
			case "ubuntu":
				o, err = newUbuntuOracle(feeds, c.release, wanted)
			case "redhat":
				o, err = newRedHatOracle(feeds, c.release, wanted)
			case "amazon":
				o, err = newAmazonOracle(feeds, c.release)
			}
			if err != nil {
				t.Fatal(err)
			}
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
			keys := make([]string, 0, len(counts))
			for k := range counts {
				keys = append(keys, fmt.Sprintf("%s=%d", k, counts[k]))
			}
			sort.Strings(keys)
			t.Logf("%d packages checked against the raw feed: %s", checked, strings.Join(keys, " "))
		})
	}
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
