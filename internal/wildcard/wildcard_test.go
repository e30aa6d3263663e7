package wildcard

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// The union of the semantics of the four matchers this package replaced.
func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		whole, filter bool
	}{
		{"", "", true, true},
		{"", "abc", false, true}, // a filter without '*' is a substring
		{"abc", "abc", true, true},
		{"b", "abc", false, true},
		{"abd", "abc", false, false},
		{"*", "", true, true},
		{"*", "anything/at/all", true, true},
		{"prod-*", "prod-api", true, true},
		{"prod-*", "xprod-api", false, false},
		{"*-dev", "team/api-dev", true, true},
		{"*-dev", "team/api-dev2", false, false},
		{"a*a", "a", false, false},
		{"a*a", "aa", true, true},
		{"a*b*c", "aXbYc", true, true},
		{"a*b*c", "acb", false, false},
		{"**", "x", true, true},
		{"v1.*.*", "v1.2.3", true, true},
		{"v1.*.*", "v1.2", false, false},
		{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{"*\xff*", "a\xffb", true, true},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.name); got != tc.whole {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.whole)
		}
		if got := MatchFilter(tc.pattern, tc.name); got != tc.filter {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.filter)
		}
		if oracle := testutil.GlobMatch(tc.pattern, tc.name); Match(tc.pattern, tc.name) != oracle {
			t.Errorf("Match(%q, %q) disagrees with the oracle (%v)", tc.pattern, tc.name, oracle)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*b*c", "aXbYc")
	f.Add("*", "")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 256 {
			return
		}
		if got, want := Match(pattern, name), testutil.GlobMatch(pattern, name); got != want {
			t.Errorf("Match(%q, %q) = %v, oracle %v", pattern, name, got, want)
		}
	})
}
