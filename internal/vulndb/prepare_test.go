package vulndb

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestPreparePairs: a record's pairs are its distinct (namespace, package)
// pairs in the order of first appearance, below and above the size where
// prepare switches from a list search to a set.
func TestPreparePairs(t *testing.T) {
	entry := func(ns, pkg string) advisory.Affected {
		return advisory.Affected{Namespace: ns, Package: pkg, Status: advisory.StatusAffected}
	}
	many := func(distinct, repeat int) ([]advisory.Affected, [][2]string) {
		var affs []advisory.Affected
		var want [][2]string
		for r := range repeat {
			for i := range distinct {
				ns, pkg := fmt.Sprintf("debian:%d", i%3+10), fmt.Sprintf("pkg%d", i)
				affs = append(affs, entry(ns, pkg))
				if r == 0 {
					want = append(want, [2]string{ns, pkg})
				}
			}
		}
		return affs, want
	}
	for _, tc := range []struct {
		name             string
		distinct, repeat int
	}{
		{"one entry", 1, 1},
		{"one pair many times", 1, 50},
		{"below the switch", 16, 3},
		{"at the switch", 17, 2},
		{"well above it", 500, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			affs, want := many(tc.distinct, tc.repeat)
			p := prepare("src", &advisory.Advisory{ID: "CVE-2024-0001", Affected: affs})
			if len(p.malformed) != 0 {
				t.Fatalf("malformed: %v", p.malformed)
			}
			var got [][2]string
			if err := json.Unmarshal([]byte(p.pairs), &got); err != nil {
				t.Fatalf("pairs %q: %v", p.pairs, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pairs (-want +got):\n%s", diff)
			}
			if len(p.affs) != len(affs) {
				t.Errorf("%d rows prepared, want %d", len(p.affs), len(affs))
			}
		})
	}
}
