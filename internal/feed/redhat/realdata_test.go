package redhat

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestRealData parses the mirror's bundle (../shared/feeds/redhat) and checks
// the count given in SOURCES.md plus a few records by hand.
func TestRealData(t *testing.T) {
	dir := testutil.Shared(t, "feeds/redhat")
	want := map[string]*advisory.Advisory{
		"CVE-2023-38545": nil, // curl: two el9 z-stream fixes on the main stream, one EUS 9.0 fix
		"CVE-2023-40181": nil, // freerdp: Will not fix on RHEL 8
		"CVE-2019-2420":  nil, // mysql:8.0 module NSVC fix on RHEL 8
		"CVE-2023-30582": nil, // nodejs:18/nodejs Not affected
	}
	start := time.Now()
	var peak uint64
	n := 0
	rejected := map[string]bool{}
	st, err := New().Parse(context.Background(), os.DirFS(dir), func(a *advisory.Advisory) error {
		if _, ok := want[a.ID]; ok {
			want[a.ID] = a
		}
		if a.Rejected {
			rejected[a.ID] = true
		}
		if n++; n%2000 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parsed %d records in %v, peak heap in use ~%d MiB, %d malformed, newest %v", st.Records, time.Since(start), peak>>20, len(st.Malformed), st.Newest)
	for i, m := range st.Malformed {
		if i < 10 {
			t.Logf("malformed: %+v", m)
		}
	}
	// 45 records say "[REJECTED CVE] ..." (CVE-2024-26609, a kernel CVE
	// rejected upstream, among them) or "This CVE ID has been rejected".
	if len(rejected) != 45 || !rejected["CVE-2024-26609"] || rejected["CVE-2023-38545"] {
		t.Errorf("%d rejected records (want 45), CVE-2024-26609 %v, CVE-2023-38545 %v", len(rejected), rejected["CVE-2024-26609"], rejected["CVE-2023-38545"])
	}
	if st.Records != 21394 {
		t.Errorf("Records = %d, want 21,394 (SOURCES.md)", st.Records)
	}
	if len(st.Malformed) > 20 {
		t.Errorf("%d malformed entries, expected only a handful", len(st.Malformed))
	}
	if st.Newest.Before(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Newest = %v, want 2025 (snapshot of 2025-02-15)", st.Newest)
	}

	pick := func(id, ns, pkg string) []advisory.Affected {
		a := want[id]
		if a == nil {
			t.Fatalf("%s not emitted", id)
		}
		var out []advisory.Affected
		for _, af := range a.Affected {
			if af.Namespace == ns && af.Package == pkg {
				out = append(out, af)
			}
		}
		return out
	}
	fixed := func(ns, pkg, module, v, adv string) advisory.Affected {
		return advisory.Affected{Namespace: ns, Package: pkg, Kind: advisory.KindSource, Module: module, Status: advisory.StatusFixed, Ranges: fixedRange(v), Advisory: adv}
	}
	for _, tc := range []struct {
		id, ns, pkg string
		want        []advisory.Affected
	}{
		{"CVE-2023-38545", "rhel:9", "curl", []advisory.Affected{
			fixed("rhel:9", "curl", "", "7.76.1-23.el9_2.4", "RHSA-2023:5763"),
			fixed("rhel:9", "curl", "", "7.76.1-26.el9_3.2", "RHSA-2023:6745"),
		}},
		{"CVE-2023-38545", "rhel:9.0-eus", "curl", []advisory.Affected{fixed("rhel:9.0-eus", "curl", "", "7.76.1-14.el9_0.9", "RHSA-2023:5700")}},
		{"CVE-2023-38545", "rhel:8", "curl", []advisory.Affected{{Namespace: "rhel:8", Package: "curl", Kind: advisory.KindSource, Status: advisory.StatusNotAffected}}},
		{"CVE-2023-40181", "rhel:8", "freerdp", []advisory.Affected{{Namespace: "rhel:8", Package: "freerdp", Kind: advisory.KindSource, Status: advisory.StatusWillNotFix}}},
		{"CVE-2019-2420", "rhel:8", "mysql:8.0", []advisory.Affected{fixed("rhel:8", "mysql:8.0", "mysql:8.0", "8000020190807131617", "RHSA-2019:2511")}},
		{"CVE-2023-30582", "rhel:9", "nodejs", []advisory.Affected{
			{Namespace: "rhel:9", Package: "nodejs", Kind: advisory.KindSource, Status: advisory.StatusNotAffected},
			{Namespace: "rhel:9", Package: "nodejs", Kind: advisory.KindSource, Module: "nodejs:18", Status: advisory.StatusNotAffected},
		}},
	} {
		got := pick(tc.id, tc.ns, tc.pkg)
		for i := range got {
			got[i].Severity = "" // per-product impact is not under test here
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s %s %s (-want +got):\n%s", tc.id, tc.ns, tc.pkg, d)
		}
	}
	if a := want["CVE-2023-38545"]; a.Severity != "HIGH" || a.VendorSeverity != "Important" || len(a.CVSS) == 0 || a.CVSS[0].Source != "redhat" {
		t.Errorf("CVE-2023-38545 severity/CVSS: %q %q %+v", a.VendorSeverity, a.Severity, a.CVSS)
	}
}
