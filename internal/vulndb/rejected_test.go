package vulndb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

func rejectedAdv(a *advisory.Advisory) *advisory.Advisory {
	a.Rejected = true
	a.Description = "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER."
	return a
}

// TestRejectedIDs: a CVE id that one source marks rejected leaves no record
// of it in the DB from any source, whatever the order of the sources and
// whether the marking source changed; records aliasing it lose the alias;
// withdrawn records are dropped on their own; every drop is counted.
func TestRejectedIDs(t *testing.T) {
	ctx := context.Background()
	withdrawn := osAdv("GHSA-wwww-wwww-wwww", "osv:PyPI", "django", "4.2", "CVE-2024-0002")
	withdrawn.Withdrawn = day(5)
	distro := &fakeUpdater{name: "distro", version: "1", advs: []*advisory.Advisory{
		osAdv("CVE-2024-0001", "debian:12", "pkga", "1.1"), // rejected by tracker
		osAdv("CVE-2024-0002", "debian:12", "pkga", "1.2"), // its GHSA is withdrawn: stays
		osAdv("CVE-2024-0004", "debian:12", "pkgb", "2.0"), // rejected by nvd (a later source)
		// Aliases one rejected and one live CVE: kept, without the rejected alias.
		osAdv("DSA-0001-1", "debian:12", "pkgc", "3.0", "CVE-2024-0001", "CVE-2024-0003"),
		// Names only rejected CVEs: kept, under its own id.
		osAdv("DLA-0001-1", "debian:12", "pkgd", "4.0", "CVE-2024-0001", "CVE-2024-0004"),
		// A CVE record aliasing a rejected CVE keeps its own id.
		osAdv("CVE-2024-0005", "debian:12", "pkge", "5.0", "CVE-2024-0004"),
		withdrawn,
	}}
	tracker := &fakeUpdater{name: "tracker", version: "1", advs: []*advisory.Advisory{
		rejectedAdv(osAdv("CVE-2024-0001", "ubuntu:22.04", "pkga", "1.1")),
		osAdv("CVE-2024-0002", "ubuntu:22.04", "pkga", "1.2"),
	}}
	nvd := &fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{
		rejectedAdv(&advisory.Advisory{ID: "CVE-2024-0004"}),
		{ID: "CVE-2024-0003", Description: "live"},
		// Rejected is about CVE ids: another id is only dropped.
		rejectedAdv(&advisory.Advisory{ID: "GSD-2024-0001"}),
	}}
	dir := t.TempDir()
	rep := mustUpdate(t, dir, distro, tracker, nvd)

	type counts struct{ Advisories, Affected, Enrichment, Rejected, Withdrawn int }
	got := map[string]counts{}
	for _, s := range rep.Sources {
		got[s.Name] = counts{s.Advisories, s.Affected, s.Enrichment, s.Rejected, s.Withdrawn}
	}
	want := map[string]counts{
		"distro":  {Advisories: 4, Affected: 4, Rejected: 2, Withdrawn: 1},
		"tracker": {Advisories: 1, Affected: 1, Rejected: 1},
		"nvd":     {Enrichment: 1, Rejected: 1, Withdrawn: 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report counts (-want +got):\n%s", d)
	}
	if rep.RejectedIDs != 2 {
		t.Errorf("RejectedIDs = %d, want 2", rep.RejectedIDs)
	}

	db := mustOpen(t, dir)
	wantPairs := map[[2]string]map[string]string{
		{"debian:12", "pkga"}:    {"CVE-2024-0002": "1.2"},
		{"debian:12", "pkgb"}:    {},
		{"debian:12", "pkgc"}:    {"DSA-0001-1": "3.0"},
		{"debian:12", "pkgd"}:    {"DLA-0001-1": "4.0"},
		{"debian:12", "pkge"}:    {"CVE-2024-0005": "5.0"},
		{"ubuntu:22.04", "pkga"}: {"CVE-2024-0002": "1.2"},
		{"osv:PyPI", "django"}:   {},
	}
	for p, w := range wantPairs {
		if d := cmp.Diff(w, fixedOf(t, db, p[0], p[1])); d != "" {
			t.Errorf("%v (-want +got):\n%s", p, d)
		}
	}
	for _, tc := range []struct {
		pkg  string
		want []string
	}{{"pkgc", []string{"CVE-2024-0003"}}, {"pkgd", nil}, {"pkge", nil}} {
		recs, err := db.Lookup(ctx, "debian:12", tc.pkg)
		if err != nil || len(recs) != 1 {
			t.Fatalf("Lookup %s: %v %v", tc.pkg, recs, err)
		}
		if d := cmp.Diff(tc.want, recs[0].Advisory.Aliases); d != "" {
			t.Errorf("%s aliases (-want +got):\n%s", recs[0].Advisory.ID, d)
		}
	}
	for _, id := range []string{"CVE-2024-0001", "CVE-2024-0004", "GHSA-wwww-wwww-wwww"} {
		advs, err := db.Advisory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		al, err := db.ByAlias(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range append(advs, al...) {
			ids = append(ids, a.Source+":"+a.ID)
		}
		if len(ids) > 0 {
			t.Errorf("%s: still stored, by id or alias, as %v", id, ids)
		}
	}
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Sources {
		if w := want[s.Name]; s.Rejected != w.Rejected || s.Withdrawn != w.Withdrawn || s.Advisories != w.Advisories {
			t.Errorf("status %s: %+v, want %+v", s.Name, s, w)
		}
	}

	// A second build in which only distro changed: the tracker's and NVD's
	// copied-forward rejections still apply to distro's new records, and
	// the pairs whose records the rejection changed count as changed.
	distro.version = "2"
	distro.advs = append(distro.advs, osAdv("CVE-2024-0001", "debian:11", "pkga", "1.0"))
	rep2 := mustUpdate(t, dir, distro, tracker, nvd)
	for _, s := range rep2.Sources {
		if s.Name == "tracker" && s.Outcome != Unchanged {
			t.Errorf("tracker outcome %s, want unchanged", s.Outcome)
		}
		if s.Name == "distro" && (s.Rejected != 3 || s.Advisories != 4) {
			t.Errorf("distro on rebuild: %+v, want 3 rejected, 4 advisories", s)
		}
	}
	db2 := mustOpen(t, dir)
	if got := fixedOf(t, db2, "debian:11", "pkga"); len(got) != 0 {
		t.Errorf("debian:11 pkga = %v, want nothing (CVE-2024-0001 is rejected)", got)
	}
	if rep2.RejectedIDs != 2 {
		t.Errorf("rebuild RejectedIDs = %d, want 2", rep2.RejectedIDs)
	}

	// The rejection changes pairs: without NVD's mark CVE-2024-0004 stays,
	// and DLA-0001-1's and CVE-2024-0005's aliases keep it.
	other := t.TempDir()
	mustUpdate(t, other, distro, tracker, &fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{{ID: "CVE-2024-0003"}}})
	db3 := mustOpen(t, other)
	changed, err := db2.ChangedPairs(ctx, db3)
	if err != nil {
		t.Fatal(err)
	}
	wantChanged := []Pair{{"debian:12", "pkgb"}, {"debian:12", "pkgd"}, {"debian:12", "pkge"}}
	if d := cmp.Diff(wantChanged, changed); d != "" {
		t.Errorf("changed pairs (-want +got):\n%s", d)
	}
}
