package version

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/advisory"
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
		scheme   Scheme
		ranges   []advisory.Range
		versions []string
		v        string
		want     result
	}{
		{"installed equals fixed", SchemeDpkg, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-2", result{false, ""}},
		{"one revision below fixed", SchemeDpkg, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-1", result{true, "1.0-2"}},
		{"fixed equal with epoch spelled out", SchemeDpkg, []advisory.Range{rng(intro("0"), fixed("0:1.0-2"))}, nil, "1.0-2", result{false, ""}},
		{"above fixed", SchemeDpkg, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1:0.5-1", result{false, ""}},
		{"tilde backport below fixed", SchemeDpkg, []advisory.Range{rng(intro("0"), fixed("1.0-2"))}, nil, "1.0-2~deb12u1", result{true, "1.0-2"}},
		{"introduced later than v", SchemeDpkg, []advisory.Range{rng(intro("2.0"), fixed("3.0"))}, nil, "1.0", result{false, ""}},
		{"introduced equal to v", SchemeDpkg, []advisory.Range{rng(intro("2.0"), fixed("3.0"))}, nil, "2.0", result{true, "3.0"}},
		{"last_affected inclusive", SchemeSemVer, []advisory.Range{rng(intro("0"), last("1.5.0"))}, nil, "1.5.0", result{true, ""}},
		{"above last_affected", SchemeSemVer, []advisory.Range{rng(intro("0"), last("1.5.0"))}, nil, "1.5.1", result{false, ""}},
		{"limit exclusive", SchemeSemVer, []advisory.Range{rng(intro("0"), limit("2.0.0"))}, nil, "2.0.0", result{false, ""}},
		{"below limit", SchemeSemVer, []advisory.Range{rng(intro("0"), limit("2.0.0"))}, nil, "1.0.0", result{true, ""}},
		{"unsorted events, inside", SchemeSemVer, []advisory.Range{rng(fixed("2.0.0"), intro("1.0.0"))}, nil, "1.5.0", result{true, "2.0.0"}},
		{"unsorted events, before", SchemeSemVer, []advisory.Range{rng(fixed("2.0.0"), intro("1.0.0"))}, nil, "0.5.0", result{false, ""}},
		{"two intervals in one range, first", SchemeSemVer, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "1.1.0", result{true, "1.2.0"}},
		{"two intervals in one range, gap", SchemeSemVer, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "1.5.0", result{false, ""}},
		{"two intervals in one range, second", SchemeSemVer, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "2.2.9", result{true, "2.3.0"}},
		{"two intervals in one range, at second fix", SchemeSemVer, []advisory.Range{rng(intro("2.0.0"), fixed("2.3.0"), intro("1.0.0"), fixed("1.2.0"))}, nil, "2.3.0", result{false, ""}},
		{"branch ranges, second", SchemeSemVer, []advisory.Range{rng(intro("0"), fixed("1.2.0")), rng(intro("2.0.0"), fixed("2.3.0"))}, nil, "2.2.0", result{true, "2.3.0"}},
		{"overlapping ranges: the fix that leaves both", SchemeSemVer, []advisory.Range{rng(intro("0"), fixed("2.0.0")), rng(intro("0"), fixed("3.0.0"))}, nil, "1.0.0", result{true, "3.0.0"}},
		{"overlapping ranges, one unfixed", SchemeSemVer, []advisory.Range{rng(intro("0"), fixed("2.0.0")), rng(intro("0"))}, nil, "1.0.0", result{true, ""}},
		{"unfixed", SchemeAPK, []advisory.Range{rng(intro("0"))}, nil, "1.2.3-r0", result{true, ""}},
		{"introduced equals fixed: empty", SchemeSemVer, []advisory.Range{rng(intro("1.0.0"), fixed("1.0.0"))}, nil, "1.0.0", result{false, ""}},
		{"apk revision below fix", SchemeAPK, []advisory.Range{rng(intro("0"), fixed("1.2.3-r1"))}, nil, "1.2.3-r0", result{true, "1.2.3-r1"}},
		{"rpm z-stream above main fix", SchemeRPM, []advisory.Range{rng(intro("0"), fixed("0:1.0-1.el9"))}, nil, "1.0-1.el9_3", result{false, ""}},
		{"go stdlib", SchemeGo, []advisory.Range{rng(intro("0"), fixed("1.21.5"))}, nil, "go1.21.4", result{true, "1.21.5"}},
		{"go stdlib fixed", SchemeGo, []advisory.Range{rng(intro("1.21.0-0"), fixed("1.21.5"))}, nil, "go1.21.5", result{false, ""}},
		{"versions list hit", SchemePEP440, nil, []string{"1.0", "1.1"}, "1.1.0", result{true, ""}},
		{"versions list miss", SchemePEP440, nil, []string{"1.0", "1.1"}, "1.2", result{false, ""}},
		{"invalid entries of the versions list are skipped", SchemePEP440, nil, []string{"0.7.10p1", "trunk", "1.1"}, "1.1.0", result{true, ""}},
		{"invalid entries of the versions list are skipped, miss", SchemePEP440, nil, []string{"0.7.10p1", "trunk"}, "1.1.0", result{false, ""}},
		{"versions list besides ranges", SchemePEP440, []advisory.Range{rng(intro("2.0"), fixed("2.1"))}, []string{"1.0"}, "1.0", result{true, ""}},
		{"no ranges, no versions: every version", SchemePEP440, nil, nil, "1.0", result{true, ""}},
		{"ranges without events: every version", SchemePEP440, []advisory.Range{{}}, nil, "1.0", result{true, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := For(tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			a, fix, err := Affected(c, tc.ranges, tc.versions, tc.v)
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
	c := SemVer{}
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
			_, _, err := Affected(c, tc.ranges, tc.versions, tc.v)
			if err == nil {
				t.Fatal("Affected succeeded, want an error")
			}
			if got := errors.Is(err, ErrInvalid); got != tc.invalid {
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
			if got := AffectsEvery(tc.ranges, tc.versions); got != tc.want {
				t.Fatalf("AffectsEvery = %v, want %v", got, tc.want)
			}
			if !tc.want {
				return
			}
			for _, v := range []string{"0.0.1", "1.0.0", "1.1.0", "99.0.0"} {
				hit, fix, err := Affected(SemVer{}, tc.ranges, tc.versions, v)
				if err != nil || !hit || fix != "" {
					t.Errorf("Affected(%q) = %v, %q, %v; AffectsEvery says every version, no fix", v, hit, fix, err)
				}
			}
		})
	}
}
