package rescan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testdb"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

var realDBs testdb.DB

func TestMain(m *testing.M) { os.Exit(realDBs.Run(m)) }

// checkView compares, for inv stored and read back as a rescan does, the
// view's records and status (rematchView) and change-pass packages
// (viewCache.touching) with those of the decoded inventory (Rematch,
// match.Touching), basic and enhanced.
func checkView(t *testing.T, db *vulndb.DB, name string, inv *inventory.Inventory) (fast bool) {
	t.Helper()
	ctx := context.Background()
	codec, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	data, err := codec.Encode(inv)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := codec.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	views := newViewCache(DefaultViewRefs)
	v, err := views.get(codec, data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decoded, v.inventory()); diff != "" {
		t.Errorf("%s: view's inventory (-decoded +view):\n%s", name, diff)
	}
	for _, enhanced := range []bool{false, true} {
		m := ScanMatcher{}
		slow, err := m.Pass(db).Rematch(ctx, decoded, enhanced)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Pass(db).(*scanPass).rematchView(ctx, v, enhanced)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != slow.Status {
			t.Errorf("%s enhanced=%v: status %s, want %s", name, enhanced, got.Status, slow.Status)
		}
		if diff := cmp.Diff(slow.Records, got.Records); diff != "" {
			t.Errorf("%s enhanced=%v: records (-whole inventory +view):\n%s", name, enhanced, diff)
		}
		// Every other key of the image changed.
		keys := map[match.Key]bool{}
		for i, k := range match.Keys(decoded, scan.Options{Enhanced: enhanced}.MatchOptions()) {
			if i%2 == 0 {
				keys[k] = true
			}
		}
		if diff := cmp.Diff(match.Touching(decoded, scan.Options{Enhanced: enhanced}.MatchOptions(), keys), views.touching(v, enhanced, keys)); diff != "" {
			t.Errorf("%s enhanced=%v: touching (-decoded +view):\n%s", name, enhanced, diff)
		}
	}
	return v.ids != nil && v.distinct
}

// TestViewSameAsInventoryRealImages: on the real-data DB, the inventories
// of OS and language images give, through their views, the records,
// status and change-pass packages their decoded inventories give.
func TestViewSameAsInventoryRealImages(t *testing.T) {
	if raceEnabled {
		// Under -race (before .ci/run's shared DB exists) it would build
		// the real-data DB itself: minutes of the race run's 5. It has no
		// concurrency of its own; the main test run covers it.
		t.Skip("real-data comparison skipped under -race; the main test run covers it")
	}
	db := realDBs.Open(t)
	images := testutil.Shared(t, "images")
	ctx := context.Background()
	for _, name := range []string{"debian-12.tar", "alpine-3.19.tar", "amazonlinux-2023.oci", "lang-python-node.oci", "lang-java-go.tar"} {
		t.Run(name, func(t *testing.T) {
			src, err := source.Resolve(ctx, filepath.Join(images, name), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := scan.Image(ctx, src, &scan.VulnDB{DB: db}, scan.Options{OS: all.OS(), Language: all.Language(), Enhanced: true})
			if err != nil {
				t.Fatal(err)
			}
			fast := checkView(t, db, name, rep.Inventory)
			t.Logf("%s: %d packages, %d findings, per-package records: %v", name, len(rep.Inventory.Packages), len(rep.Findings), fast)
		})
	}
}

// TestViewSameAsInventoryEdges: inventories whose packages share a PURL
// and path (merged findings), with two copies of one package, with an
// unparseable version, and of an OS the DB does not cover, on the fixture
// DB.
func TestViewSameAsInventoryEdges(t *testing.T) {
	dir := t.TempDir()
	buildDB(t, dir, secdb(feed2), day0)
	db, err := vulndb.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shared := alpineInv("sha256:s", "busybox=1.36.1-r5", "openssl=3.1.4-r0", "zlib=1.3-r0")
	for i := range shared.Packages {
		shared.Packages[i].PURL = ""
	}
	twice := alpineInv("sha256:t", "busybox=1.36.1-r5", "openssl=3.1.4-r0")
	twice.Packages = append(twice.Packages, twice.Packages[0])
	twice.Packages[2].Path = "other/lib/apk/db/installed"
	odd := alpineInv("sha256:o", "musl=1.2.4_r2", "busybox=1.36.1-r5")
	unsupported := alpineInv("sha256:u", "busybox=1.36.1-r5")
	unsupported.Distro = &inventory.Distro{ID: "alpine", VersionID: "2.1", Release: "2.1", Status: inventory.OSUnsupported, Reason: "too old"}
	none := alpineInv("sha256:n")
	for _, c := range []struct {
		name     string
		inv      *inventory.Inventory
		wantFast bool
	}{
		{"shared PURL and path", shared, false},
		{"one package twice", twice, true},
		{"unparseable version", odd, true},
		{"unsupported OS", unsupported, true},
		{"no packages", none, true},
	} {
		if fast := checkView(t, db, c.name, c.inv); fast != c.wantFast {
			t.Errorf("%s: per-package records %v, want %v", c.name, fast, c.wantFast)
		}
	}
}
