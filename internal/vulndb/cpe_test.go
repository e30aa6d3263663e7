package vulndb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

func nvdAdv(id string, modified int, score float64, ranges ...advisory.CPERange) *advisory.Advisory {
	return &advisory.Advisory{ID: id, Description: id + " text", Modified: day(modified),
		CVSS: []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: score, Source: "nvd"}}, CPE: ranges}
}

var (
	osslCPE = advisory.CPE{Vendor: "openssl", Product: "openssl"}
	curlCPE = advisory.CPE{Vendor: "haxx", Product: "curl"}
	libCPE  = advisory.CPE{Vendor: "haxx", Product: "libcurl"}
)

// TestCPERanges stores NVD records' CPE ranges, reads them back as
// nvd:cpe records of the classified product, keeps only the most recently
// modified record's ranges, merges a CVE listed under two CPEs of one
// product, copies them forward unchanged and reports bad ranges.
func TestCPERanges(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	nvd := &fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{
		nvdAdv("CVE-2023-0001", 1, 9.8, advisory.CPERange{CPE: osslCPE, Start: "1.1.1", End: "1.1.1w"},
			advisory.CPERange{CPE: osslCPE, Start: "3.0.0", StartExcluding: true, End: "3.0.11", EndIncluding: true},
			advisory.CPERange{CPE: osslCPE, Version: "1.0.2"}),
		// An older copy of the same CVE with other ranges (a yearly feed):
		// the newer one's ranges stand.
		nvdAdv("CVE-2023-0001", 0, 5.0, advisory.CPERange{CPE: osslCPE, Version: "0.9.8"}),
		nvdAdv("CVE-2023-0002", 1, 7.5, advisory.CPERange{CPE: curlCPE, End: "8.4.0"}, advisory.CPERange{CPE: libCPE, End: "8.4.0"}),
		nvdAdv("CVE-2023-0003", 1, 7.5, advisory.CPERange{CPE: libCPE}),
		nvdAdv("CVE-2023-0004", 1, 7.5, advisory.CPERange{CPE: osslCPE, Version: "1.0", Start: "0.9"}),
		nvdAdv("CVE-2023-0005", 1, 7.5),
	}}
	rep := mustUpdate(t, dir, nvd)
	var errs []string
	for _, s := range rep.Sources {
		for _, m := range s.Malformed {
			errs = append(errs, m.ID+": "+m.Err)
		}
	}
	if d := cmp.Diff([]string{"CVE-2023-0004: vulndb: cpe[0]: cpe range openssl:openssl: an exact version and a range"}, errs); d != "" {
		t.Errorf("malformed (-want +got):\n%s", d)
	}
	check := func(db *DB) {
		t.Helper()
		recs, err := db.Lookup(ctx, advisory.CPENamespace, "openssl")
		if err != nil {
			t.Fatal(err)
		}
		var got []advisory.Affected
		for _, r := range recs {
			if r.Advisory.ID != "CVE-2023-0001" || r.Advisory.CVSS[0].Score != 9.8 {
				t.Errorf("record %s with %v", r.Advisory.ID, r.Advisory.CVSS)
			}
			got = append(got, r.Affected)
		}
		want := []advisory.Affected{{Namespace: "nvd:cpe", Package: "openssl", Kind: advisory.KindLanguage, Status: advisory.StatusFixed,
			Ranges: []advisory.Range{
				{Events: []advisory.Event{{Introduced: "1.1.1"}, {Fixed: "1.1.1w"}}},
				{Events: []advisory.Event{{Introduced: ">3.0.0"}, {LastAffected: "3.0.11"}}},
			},
			Versions: []string{"1.0.2"},
		}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("openssl (-want +got):\n%s", d)
		}
		recs, err = db.Lookup(ctx, advisory.CPENamespace, "libcurl")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.Advisory.ID+" "+string(r.Affected.Status))
		}
		if d := cmp.Diff([]string{"CVE-2023-0002 fixed", "CVE-2023-0003 affected"}, ids); d != "" {
			t.Errorf("libcurl (-want +got):\n%s", d)
		}
		if recs, err := db.Lookup(ctx, advisory.CPENamespace, "not-a-product"); err != nil || recs != nil {
			t.Errorf("unknown product: %v, %v", recs, err)
		}
		// The record stays NVD's enrichment.
		if e, err := db.Enrichment(ctx, "CVE-2023-0002"); err != nil || e == nil || e.Description != "CVE-2023-0002 text" {
			t.Errorf("enrichment: %+v, %v", e, err)
		}
	}
	db := mustOpen(t, dir)
	check(db)
	db.Close()
	// Unchanged: copied forward (a second source changed, so rows, not
	// the file, are copied).
	other := &fakeUpdater{name: "alpine", version: "1", advs: []*advisory.Advisory{osAdv("CVE-2024-0001", "alpine:3.19", "musl", "1.2")}}
	mustUpdate(t, dir, nvd, other)
	db = mustOpen(t, dir)
	check(db)
	db.Close()
	// A changed range of one product is a changed pair (nvd:cpe, openssl)
	// for continuous rescans; curl's pairs are unchanged.
	nvd.version = "2"
	nvd.advs[0] = nvdAdv("CVE-2023-0001", 2, 9.8, advisory.CPERange{CPE: osslCPE, Start: "1.1.1", End: "1.1.1x"})
	mustUpdate(t, dir, nvd, other)
	db = mustOpen(t, dir)
	defer db.Close()
	cs, err := db.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Pair{{Namespace: "nvd:cpe", Package: "openssl"}}, cs.Pairs); d != "" || !cs.Complete {
		t.Errorf("changes (complete %v; -want +got):\n%s", cs.Complete, d)
	}
}
