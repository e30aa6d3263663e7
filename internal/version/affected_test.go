package version_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

func intro(v string) advisory.Event { return advisory.Event{Introduced: v} }
func fixed(v string) advisory.Event { return advisory.Event{Fixed: v} }
func last(v string) advisory.Event  { return advisory.Event{LastAffected: v} }
func limit(v string) advisory.Event { return advisory.Event{Limit: v} }

func rng(evs ...advisory.Event) advisory.Range { return advisory.Range{Events: evs} }

func TestAffected(t *testing.T) {
	type result struct {
		Affected bool
		FixedIn  string
	}
	for _, tc := range []struct {
		name     string
		c        version.Comparator
		ranges   []advisory.Range
		versions []string
		v        string
		want     result
	}{
		{"installed equals fixed", version.Dpkg{}, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-2", result{false, ""}},
		{"one revision below fixed", version.Dpkg{}, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-1", result{true, "1.0-2"}},
		{"fixed equal with epoch spelled out", version.Dpkg{}, []advisory.Range{rng(intro("0"), fixed("0:1.0-2"))}, nil, "1.0-2", result{false, ""}},
		{"above fixed", version.Dpkg{}, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1:0.5-1", result{false, ""}},
		{"tilde backport below fixed", version.Dpkg{}, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-2~deb12u1", result{true, "1.0-2"}},
		{"introduced later than v", version.Dpkg{}, []advisory.Range{rng(intro("2.0"), fixed("3.0"))}, nil, "1.0", result{false, ""}},
		{"introduced equal to v", version.Dpkg{}, []advisory.Range{rng(intro("2.0"), fixed("3.0"))}, nil, "2.0", result{true, "3.0"}},
		{"last_affected inclusive", version.SemVer{}, []advisory.Range{rng(intro("0"), last("1.5.0"))}, nil, "1.5.0", result{true, ""}},
		{"above last_affected", version.SemVer{}, []advisory.Range{rng(intro("0"), last("1.5.0"))}, nil, "1.5.1", result{false, ""}},
		{"limit exclusive", version.SemVer{}, []advisory.Range{rng(intro("0"), limit("2.0.0"))}, nil, "2.0.0", result{false, ""}},
		{"below limit", version.SemVer{}, []advisory.Range{rng(intro("0"), limit("2.0.0"))}, nil, "1.0.0", result{true, ""}},
		{"unsorted events, inside", version.SemVer{}, []advisory.Range{rng(fixed("2.0.0"), intro("1.0.0"))}, nil, "1.5.0", result{true, "2.0.0"}},
		{"unsorted events, before", version.SemVer{}, []advisory.Range{rng(fixed("2.0.0"), intro("1.0.0"))}, nil, "0.5.0", result{false, ""}},
		{"two intervals in one range, first", version.SemVer{}, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "1.1.0", result{true, "1.2.0"}},
		{"two intervals in one range, gap", version.SemVer{}, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "1.5.0", result{false, ""}},
		{"two intervals in one range, second", version.SemVer{}, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "2.2.9", result{true, "2.3.0"}},
		{"two intervals in one range, at second fix", version.SemVer{}, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "2.3.0", result{false, ""}},
		{"branch ranges, second", version.SemVer{}, []advisory.Range{rng(intro("0"), fixed("1.2.0")), rng(intro("2.0.0"), fixed("2.3.0"))}, nil, "2.2.0", result{true, "2.3.0"}},
		{"overlapping ranges: the fix that leaves both", version.SemVer{}, []advisory.Range{rng(intro("0"), fixed("2.0.0")), rng(intro("0"), fixed("3.0.0"))}, nil, "1.0.0", result{true, "3.0.0"}},
		{"overlapping ranges, one unfixed", version.SemVer{}, []advisory.Range{rng(intro("0"), fixed("2.0.0")), rng(intro("0"))}, nil, "1.0.0", result{true, ""}},
		{"unfixed", version.APK{}, []advisory.Range{rng(intro("0"))}, nil, "1.2.3-r0", result{true, ""}},
		{"introduced equals fixed: empty", version.SemVer{}, []advisory.Range{rng(intro("1.0.0"), fixed("1.0.0"))}, nil, "1.0.0", result{false, ""}},
		{"apk revision below fix", version.APK{}, []advisory.Range{rng(intro("0"), fixed("1.2.3-r1"))}, nil, "1.2.3-r0", result{true, "1.2.3-r1"}},
		{"rpm z-stream above main fix", version.RPM{}, []advisory.Range{rng(intro("0"), fixed("0:1.0-1.el9"))}, nil, "1.0-1.el9_3", result{false, ""}},
		{"versions list hit: equal by the scheme, not as strings", version.SemVer{}, nil, []string{"1.0.0", "1.1.0"}, "v1.1.0", result{true, ""}},
		{"versions list miss", version.SemVer{}, nil, []string{"1.0.0", "1.1.0"}, "1.2.0", result{false, ""}},
		{"invalid entries of the versions list are skipped", version.SemVer{}, nil, []string{"1.1", "trunk", "1.1.0"}, "1.1.0", result{true, ""}},
		{"invalid entries of the versions list are skipped, miss", version.SemVer{}, nil, []string{"1.1", "trunk"}, "1.1.0", result{false, ""}},
		{"versions list besides ranges", version.SemVer{}, []advisory.Range{rng(intro("2.0.0"), fixed("2.1.0"))}, []string{"1.0.0"}, "1.0.0", result{true, ""}},
		{"no ranges, no versions: every version", version.SemVer{}, nil, nil, "1.0.0", result{true, ""}},
		{"ranges without events: every version", version.SemVer{}, []advisory.Range{{}}, nil, "1.0.0", result{true, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, fix, err := version.Affected(tc.c, tc.ranges, tc.versions, tc.v)
			if err != nil {
				t.Fatalf("Affected: %v", err)
			}
			if diff := cmp.Diff(tc.want, result{a, fix}); diff != "" {
				t.Errorf("Affected(%q) (-want +got):\n%s", tc.v, diff)
			}
		})
	}
}

func TestAffectedErrors(t *testing.T) {
	c := version.SemVer{}
	for _, tc := range []struct {
		name     string
		ranges   []advisory.Range
		versions []string
		v        string
		invalid  bool
	}{
		{"invalid installed version", []advisory.Range{rng(intro("0"), fixed("1.0.0"))}, nil, "1.0", true},
		{"invalid installed version, no ranges", nil, nil, "x", true},
		{"invalid installed version, versions list", nil, []string{"1.0.0"}, "x", true},
		{"invalid fixed version", []advisory.Range{rng(intro("0"), fixed("1.0"))}, nil, "1.0.0", true},
		{"event with two kinds", []advisory.Range{rng(advisory.Event{Introduced: "0", Fixed: "1.0.0"})}, nil, "1.0.0", false},
		{"event with no kind", []advisory.Range{rng(advisory.Event{})}, nil, "1.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := version.Affected(c, tc.ranges, tc.versions, tc.v)
			if err == nil {
				t.Fatal("Affected succeeded, want an error")
			}
			if got := errors.Is(err, version.ErrInvalid); got != tc.invalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, got, tc.invalid)
			}
		})
	}
}

// TestAffectsEvery: the entries that cover every version without a
// comparison, and that Affected agrees on each of them for valid versions.
func TestAffectsEvery(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ranges   []advisory.Range
		versions []string
		want     bool
	}{
		{"no ranges, no versions", nil, nil, true},
		{"ranges without events", []advisory.Range{{}, {}}, nil, true},
		{"introduced 0 only", []advisory.Range{rng(intro("0"))}, nil, true},
		{"introduced 0 and a later introduced", []advisory.Range{rng(intro("0"), intro("2.0.0"))}, nil, true},
		{"one branch open from 0, another fixed", []advisory.Range{rng(intro("1.0.0"), fixed("1.2.0")), rng(intro("0"))}, nil, true},
		{"introduced 0 and fixed", []advisory.Range{rng(intro("0"), fixed("1.0.0"))}, nil, false},
		{"introduced 0 and last_affected", []advisory.Range{rng(intro("0"), last("1.0.0"))}, nil, false},
		{"introduced 0 and limit", []advisory.Range{rng(intro("0"), limit("1.0.0"))}, nil, false},
		{"introduced later, never closed", []advisory.Range{rng(intro("1.0.0"))}, nil, false},
		{"versions list only", nil, []string{"1.0.0"}, false},
		{"versions list besides an open range", []advisory.Range{rng(intro("0"))}, []string{"1.0.0"}, true},
		{"malformed event", []advisory.Range{rng(advisory.Event{Introduced: "0", Fixed: "1.0.0"})}, nil, false},
		{"empty event", []advisory.Range{rng(intro("0"), advisory.Event{})}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := version.AffectsEvery(tc.ranges, tc.versions); got != tc.want {
				t.Fatalf("AffectsEvery = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			for _, v := range []string{"0.0.1", "1.0.0", "1.1.0", "99.0.0"} {
				hit, fix, err := version.Affected(version.SemVer{}, tc.ranges, tc.versions, v)
				if err != nil || !hit || fix != "" {
					t.Errorf("Affected(%q) = %v, %q, %v; AffectsEvery says every version, no fix", v, hit, fix, err)
				}
			}
		})
	}
}
