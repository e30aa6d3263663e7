package scan_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/redhat"
	feedsource "github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// vexFindingDifferences are the findings, for the CVEs of the mirror's VEX
// documents, that differ between a DB of the CVE API alone and one with
// VEX loaded as well, each with its reason. A line is
// "<image> <CVE> <package>: <CVE-API-only status> -> <with VEX status>".
var vexFindingDifferences = map[string]string{
	// The VEX documents of 2023-07 say "Will not fix" for vim where the
	// CVE API records of 2025-02 say "Fix deferred" (see
	// internal/feed/redhat TestVEXAgreesWithCVEAPI): VEX outranks.
	// CVE-2023-0051 (vim, centos-7 and rhel-9) agrees: Will not fix /
	// Out of support scope in both.
	"centos-7.tar CVE-2023-0049 vim-minimal: UNFIXED -> WILL_NOT_FIX": "data date",
	"rhel-8.tar CVE-2023-0049 vim-minimal: UNFIXED -> WILL_NOT_FIX":   "data date",
	"rhel-9.oci CVE-2023-0049 vim-minimal: UNFIXED -> WILL_NOT_FIX":   "data date",
}

// TestVEXFindingsAgainstCVEAPI scans the shared RHEL and CentOS images with
// a DB built from the Red Hat CVE API alone and one with the CSAF VEX
// documents too, and compares the findings for the CVEs the VEX documents
// cover: identical, or the difference is listed above. Findings for other
// CVEs must not change at all.
func TestVEXFindingsAgainstCVEAPI(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	images := testutil.Shared(t, "images")
	testutil.Shared(t, "feeds/redhat/csaf/v2/vex")
	ctx := context.Background()
	src, err := feedsource.New(feeds, feedsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	build := func(ups ...feed.Updater) *scan.VulnDB {
		dir := t.TempDir()
		rep, err := vulndb.Update(ctx, dir, ups, src, vulndb.UpdateOptions{})
		if err != nil || rep.Err() != nil {
			t.Fatalf("build DB: %v %v", err, rep.Err())
		}
		db, err := vulndb.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return &scan.VulnDB{DB: db}
	}
	apiOnly := build(redhat.New())
	both := build(redhat.NewVEX(redhat.VEXOptions{}), redhat.New())

	vexCVEs := map[string]bool{}
	if _, err := redhat.NewVEX(redhat.VEXOptions{}).Parse(ctx, osDirFS(filepath.Join(feeds, "redhat", "csaf", "v2", "vex")), func(a *advisoryT) error {
		vexCVEs[a.ID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	var diffs []string
	same := 0
	for _, img := range []string{"centos-7.tar", "rhel-8.tar", "rhel-9.oci"} {
		s, err := resolve(filepath.Join(images, img))
		if err != nil {
			t.Fatal(err)
		}
		findings := func(db *scan.VulnDB) map[string]string {
			res, err := scan.Image(ctx, s, db, scan.Options{OS: all.OS()})
			if err != nil {
				t.Fatalf("%s: %v", img, err)
			}
			out := map[string]string{}
			for _, f := range res.Findings {
				out[f.ID+" "+f.Package.Name] = fmt.Sprintf("%s %s", f.Status, f.FixedVersion)
			}
			return out
		}
		a, b := findings(apiOnly), findings(both)
		keys := map[string]bool{}
		for k := range a {
			keys[k] = true
		}
		for k := range b {
			keys[k] = true
		}
		for k := range keys {
			if a[k] == b[k] {
				if vexCVEs[strings.Fields(k)[0]] {
					same++
				}
				continue
			}
			if !vexCVEs[strings.Fields(k)[0]] {
				t.Errorf("%s %s: %q -> %q, a change for a CVE without a VEX document", img, k, a[k], b[k])
				continue
			}
			diffs = append(diffs, fmt.Sprintf("%s %s: %s -> %s", img, k, strings.TrimSpace(orNone(a[k])), strings.TrimSpace(orNone(b[k]))))
		}
	}
	sort.Strings(diffs)
	t.Logf("findings for the %d VEX CVEs: %d identical, %d different (all explained)", len(vexCVEs), same, len(diffs))
	var want []string
	for d := range vexFindingDifferences {
		want = append(want, d)
	}
	sort.Strings(want)
	if d := cmp.Diff(want, diffs); d != "" {
		t.Errorf("differences (-explained +found):\n%s", d)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

type advisoryT = advisory.Advisory

func osDirFS(dir string) fs.FS { return os.DirFS(dir) }
