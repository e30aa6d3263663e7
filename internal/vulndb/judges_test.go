package vulndb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestJudgesAgreesWithAdvisory: Judges answers from the records' pairs what
// Advisory's affected entries show, for every source, id and namespace,
// including a namespace whose only entry was malformed (not stored, so not
// judged) and ids some sources lack.
func TestJudgesAgreesWithAdvisory(t *testing.T) {
	two := osAdv("CVE-2024-1", "ubuntu:20.04", "pcre3", "1")
	two.Affected = append(two.Affected,
		advisory.Affected{Namespace: "ubuntu:22.04", Package: "pcre3", Kind: advisory.KindSource, Status: advisory.StatusAffected},
		advisory.Affected{Namespace: "ubuntu:22.04", Package: "pcre3", Kind: advisory.KindBinary, Status: advisory.StatusAffected},
		// Malformed: dropped, so ubuntu:23.04 is not judged.
		advisory.Affected{Namespace: "ubuntu:23.04", Package: "", Status: advisory.StatusAffected})
	oval := osAdv("CVE-2024-1", "ubuntu:20.04", "pcre2", "1")
	second := osAdv("CVE-2024-1", "ubuntu:18.04", "pcre3", "1") // a second record of the id in one source
	other := osAdv("CVE-2024-2", "debian:12", "openssl", "3")
	nvd := &advisory.Advisory{ID: "CVE-2024-1", Description: "NVD text"}
	dir := t.TempDir()
	mustUpdate(t, dir,
		&fakeUpdater{name: "ubuntu-uct", version: "1", advs: []*advisory.Advisory{two, second}},
		&fakeUpdater{name: "ubuntu-oval", version: "1", advs: []*advisory.Advisory{oval}},
		&fakeUpdater{name: "debian", version: "1", advs: []*advisory.Advisory{other}},
		&fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{nvd}})
	db := mustOpen(t, dir)
	ctx := context.Background()

	got := map[[3]string]bool{}
	fromAdvisory := map[[3]string]bool{}
	for _, id := range []string{"CVE-2024-1", "CVE-2024-2", "CVE-1999-0"} {
		advs, err := db.Advisory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []string{"ubuntu-uct", "ubuntu-oval", "debian", "nvd", "nosuch"} {
			for _, ns := range []string{"ubuntu:18.04", "ubuntu:20.04", "ubuntu:22.04", "ubuntu:23.04", "debian:12", ""} {
				k := [3]string{src, id, ns}
				v, err := db.Judges(ctx, src, id, ns)
				if err != nil {
					t.Fatal(err)
				}
				if v {
					got[k] = true
				}
				for _, a := range advs {
					for _, af := range a.Affected {
						if a.Source == src && af.Namespace == ns {
							fromAdvisory[k] = true
						}
					}
				}
			}
		}
	}
	if diff := cmp.Diff(fromAdvisory, got); diff != "" {
		t.Errorf("Judges differs from Advisory (-Advisory +Judges):\n%s", diff)
	}
	want := map[[3]string]bool{
		{"ubuntu-uct", "CVE-2024-1", "ubuntu:18.04"}:  true,
		{"ubuntu-uct", "CVE-2024-1", "ubuntu:20.04"}:  true,
		{"ubuntu-uct", "CVE-2024-1", "ubuntu:22.04"}:  true,
		{"ubuntu-oval", "CVE-2024-1", "ubuntu:20.04"}: true,
		{"debian", "CVE-2024-2", "debian:12"}:         true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Judges (-want +got):\n%s", diff)
	}
}
