package ubuntu

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestRealDataOSV reads the real Canonical record UBUNTU-CVE-2023-4911
// both as the mirror's osv/Ubuntu/all.zip and in Canonical's repository
// layout (ubuntu-security-notices/osv/cve/2023/, zipped here as osv.dev
// serves it): the same advisory either way.
func TestRealDataOSV(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	fromZip, err := parseAll(t, NewOSV(), os.DirFS(filepath.Join(feeds, OSVMirrorDir)))
	if err != nil {
		t.Fatal(err)
	}
	repoFile := filepath.Join(feeds, "ubuntu/ubuntu-security-notices/osv/cve/2023/UBUNTU-CVE-2023-4911.json")
	if _, err := os.Stat(repoFile); err != nil {
		t.Skipf("real-data test skipped: %v", err)
	}
	fromRepo, err := parseAll(t, NewOSV(), fstest.MapFS{"all.zip": {Data: osvZip(t, repoFile)}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fromZip, fromRepo); d != "" {
		t.Errorf("all.zip vs repository layout (-zip +repo):\n%s", d)
	}
	if len(fromZip.Stats.Malformed) != 0 || len(fromZip.Stats.Skipped) != 0 {
		t.Errorf("malformed %v, skipped %v", fromZip.Stats.Malformed, fromZip.Stats.Skipped)
	}
	if len(fromZip.Advisories) != 1 {
		t.Fatalf("%d advisories, want 1", len(fromZip.Advisories))
	}
	a := fromZip.Advisories[0]
	if a.ID != "CVE-2023-4911" || a.VendorSeverity != "high" || a.Severity != "HIGH" {
		t.Errorf("id %q, vendor severity %q, severity %q", a.ID, a.VendorSeverity, a.Severity)
	}
	if d := cmp.Diff([]string{"UBUNTU-CVE-2023-4911"}, a.Aliases); d != "" {
		t.Errorf("aliases (-want +got):\n%s", d)
	}
	if len(a.CVSS) != 1 || a.CVSS[0].Score != 7.8 {
		t.Errorf("CVSS = %+v, want the record's 3.1 vector scored 7.8", a.CVSS)
	}
	if d := cmp.Diff([]entry{
		{"CVE-2023-4911", "ubuntu:22.04", "glibc", "source", "fixed", "2.35-0ubuntu3.4", ""},
		{"CVE-2023-4911", "ubuntu:24.04", "glibc", "source", "fixed", "2.38-1ubuntu6", ""},
	}, flatten(fromZip.Advisories)); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
}

// TestRealDataOSVAgreesWithUCT compares the OSV record of CVE-2023-4911
// with the tracker's (the mirror's UCT bundle, read up to that record):
// for every release both cover, the same package, status, fixed version
// and fix channel. The tracker also covers releases OSV no longer lists
// (lunar, end of life), which is why they keep coming from UCT/OVAL.
// Reaching 2023 in the bundle decompresses most of it (about 30 s of CPU),
// so like the full UCT count it runs with STOWAWAY_REALDATA_FULL=1.
func TestRealDataOSVAgreesWithUCT(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	if !full() {
		t.Skip("reads most of the UCT bundle; set STOWAWAY_REALDATA_FULL=1 to compare OSV with UCT")
	}
	o, err := parseAll(t, NewOSV(), os.DirFS(filepath.Join(feeds, OSVMirrorDir)))
	if err != nil || len(o.Advisories) != 1 {
		t.Fatalf("OSV: %d advisories, %v", len(o.Advisories), err)
	}
	u := uctRecordOf(t, filepath.Join(feeds, "ubuntu", UCTBundle), "2023/CVE-2023-4911.json")
	type fix struct{ Status, Fixed, Channel string }
	uct := map[string]fix{}
	for _, af := range u.Affected {
		if af.Package == "glibc" {
			uct[af.Namespace] = fix{string(af.Status), fixedOf(af), string(af.FixChannel)}
		}
	}
	if _, ok := uct["ubuntu:23.04"]; !ok {
		t.Errorf("UCT has no lunar entry for glibc: %v", uct)
	}
	for _, af := range o.Advisories[0].Affected {
		got := fix{string(af.Status), fixedOf(af), string(af.FixChannel)}
		if d := cmp.Diff(uct[af.Namespace], got); d != "" {
			t.Errorf("%s %s: UCT vs OSV (-uct +osv):\n%s", af.Namespace, af.Package, d)
		}
	}
	if got := uct["ubuntu:22.04"].Fixed; got != "2.35-0ubuntu3.4" {
		t.Errorf("UCT jammy glibc fixed in %q, want 2.35-0ubuntu3.4", got)
	}
}

// uctRecordOf converts one record of the UCT bundle, streaming the tar up
// to it (the bundle is sorted by year).
func uctRecordOf(t *testing.T, bundle, name string) *advisory.Advisory {
	t.Helper()
	f, err := os.Open(bundle)
	if err != nil {
		t.Skipf("real-data test skipped: %v", err)
	}
	defer f.Close()
	tr := tar.NewReader(bzip2.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in %s", name, bundle)
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Clean(h.Name) != name {
			continue
		}
		data, err := readReused(new(bytes.Buffer), tr, DefaultMaxRecordSize)
		if err != nil {
			t.Fatal(err)
		}
		a, bad := convertUCT(data)
		if a == nil {
			t.Fatalf("%s: %v", name, bad)
		}
		return a
	}
}
