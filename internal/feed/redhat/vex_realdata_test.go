package redhat

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestVEXRealData parses the mirror's VEX directory as laid out upstream
// (archive, archive_latest.txt, the 10 documents beside it, changes.csv,
// an empty deletions.csv): every document once, none malformed.
func TestVEXRealData(t *testing.T) {
	dir := testutil.Shared(t, "feeds/redhat/csaf/v2/vex")
	got, st, err := parseVEX(t, NewVEX(VEXOptions{}), os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 10 || len(st.Malformed) != 0 {
		t.Errorf("stats %+v: want the 10 documents and none malformed", st)
	}
	curl := got["CVE-2023-38545"]
	if curl == nil {
		t.Fatal("CVE-2023-38545 missing")
	}
	var fixes []string
	for _, af := range curl.Affected {
		if af.Package == "curl" {
			fixes = append(fixes, fmt.Sprintf("%s %s %s %s", af.Namespace, af.Status, fixedOf(af), af.Advisory))
		}
	}
	want := []string{
		"rhel:7 not-affected  ",
		"rhel:8 not-affected  ",
		"rhel:9 fixed 7.76.1-23.el9_2.4 RHSA-2023:5763", // the 9.2 EUS z-stream, named by the main-stream CPE
		"rhel:9 fixed 7.76.1-26.el9_3.2 RHSA-2023:6745",
		"rhel:9.0-eus fixed 7.76.1-14.el9_0.9 RHSA-2023:5700",
	}
	if d := cmp.Diff(want, fixes); d != "" {
		t.Errorf("CVE-2023-38545 curl (-want +got):\n%s", d)
	}
	if curl.VendorSeverity != "Important" || len(curl.CVSS) != 1 || curl.CVSS[0].Score != 8.1 {
		t.Errorf("CVE-2023-38545 severity %q, CVSS %+v", curl.VendorSeverity, curl.CVSS)
	}
}

func fixedOf(af advisory.Affected) string {
	for _, r := range af.Ranges {
		for _, e := range r.Events {
			if e.Fixed != "" {
				return e.Fixed
			}
		}
	}
	return ""
}

// vexCVEDifferences are the records on which the two Red Hat sources
// disagree for CVEs that both carry, each with its explanation. A line is
// "<source> only: <id> <namespace> <package> <module> <status> <fixed>".
var vexCVEDifferences = map[string]string{
	// The VEX documents (current_release_date 2023-07-08 and 2023-12-01)
	// and the CVE API records (2025-02-15) are different snapshots in
	// time: Red Hat moved vim from "Will not fix" to "Fix deferred", and
	// kernel-rt from "Affected" to "Will not fix", after the VEX
	// documents were generated. Both updaters map these states the same
	// way (Fix deferred / none_available: affected; Will not fix /
	// no_fix_planned: will-not-fix).
	"VEX only: CVE-2023-0049 rhel:7 vim  will-not-fix ":       "snapshot date: vim Will not fix in the VEX of 2023-07-08",
	"VEX only: CVE-2023-0049 rhel:8 vim  will-not-fix ":       "snapshot date",
	"VEX only: CVE-2023-0049 rhel:9 vim  will-not-fix ":       "snapshot date",
	"API only: CVE-2023-0049 rhel:7 vim  affected ":           "snapshot date: vim Fix deferred in the CVE API of 2025-02-15",
	"API only: CVE-2023-0049 rhel:8 vim  affected ":           "snapshot date",
	"API only: CVE-2023-0049 rhel:9 vim  affected ":           "snapshot date",
	"VEX only: CVE-2023-0045 rhel:8 kernel-rt  affected ":     "snapshot date: kernel-rt none_available in the VEX of 2023-12-01",
	"VEX only: CVE-2023-0045 rhel:9 kernel-rt  affected ":     "snapshot date",
	"API only: CVE-2023-0045 rhel:8 kernel-rt  will-not-fix ": "snapshot date: kernel-rt Will not fix in the CVE API of 2025-02-15",
	"API only: CVE-2023-0045 rhel:9 kernel-rt  will-not-fix ": "snapshot date",
}

// vexNotInCVEAPI are the VEX documents whose CVE the CVE API mirror lacks
// (it keeps only CVEs with a RHEL 7-9 product, SOURCES.md): neither has a
// RHEL 7-9 record, so there is nothing to compare.
var vexNotInCVEAPI = []string{"CVE-2023-0044", "CVE-2023-0118"}

// TestVEXAgreesWithCVEAPI parses both Red Hat sources of the mirror and
// compares, for every CVE present in both, the records of the rhel:7, 8
// and 9 namespaces and their EUS/z-stream namespaces (package, module,
// status, fixed version): they agree,
// or the difference is listed with its reason above.
func TestVEXAgreesWithCVEAPI(t *testing.T) {
	vexDir := testutil.Shared(t, "feeds/redhat/csaf/v2/vex")
	apiDir := testutil.Shared(t, "feeds/redhat")
	key := func(id string, af advisory.Affected) string {
		return fmt.Sprintf("%s %s %s %s %s %s", id, af.Namespace, af.Package, af.Module, af.Status, fixedOf(af))
	}
	// rhel:7, 8, 9 and their pinned z-streams (rhel:9.0-eus, ...).
	main := func(ns string) bool { return strings.HasPrefix(ns, "rhel:") }
	vexRecs, _, err := parseVEX(t, NewVEX(VEXOptions{}), os.DirFS(vexDir))
	if err != nil {
		t.Fatal(err)
	}
	apiRecs := map[string]*advisory.Advisory{}
	if _, err := New().Parse(context.Background(), os.DirFS(apiDir), func(a *advisory.Advisory) error {
		if vexRecs[a.ID] != nil {
			apiRecs[a.ID] = a
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for id := range vexRecs {
		if apiRecs[id] == nil {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if d := cmp.Diff(vexNotInCVEAPI, missing); d != "" {
		t.Errorf("VEX CVEs absent from the CVE API (-want +got):\n%s", d)
	}
	var diffs []string
	compared := 0
	for id, api := range apiRecs {
		vex := map[string]bool{}
		for _, af := range vexRecs[id].Affected {
			if main(af.Namespace) {
				vex[key(id, af)] = true
			}
		}
		for _, af := range api.Affected {
			if !main(af.Namespace) {
				continue
			}
			compared++
			if k := key(id, af); vex[k] {
				delete(vex, k)
			} else {
				diffs = append(diffs, "API only: "+k)
			}
		}
		for k := range vex {
			diffs = append(diffs, "VEX only: "+k)
		}
	}
	sort.Strings(diffs)
	t.Logf("%d CVEs in both, %d CVE-API records of rhel:* compared, %d differences (all explained)", len(apiRecs), compared, len(diffs))
	var unexplained []string
	for _, d := range diffs {
		if _, ok := vexCVEDifferences[d]; !ok {
			unexplained = append(unexplained, d)
		}
	}
	if len(unexplained) > 0 {
		t.Errorf("unexplained differences:\n%s", strings.Join(unexplained, "\n"))
	}
	for d := range vexCVEDifferences {
		if i := sort.SearchStrings(diffs, d); i == len(diffs) || diffs[i] != d {
			t.Errorf("explained difference no longer occurs (remove it): %s", d)
		}
	}
}
