package lifecycle

import (
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// FuzzMatchPattern compares the tag pattern matcher with a glob oracle
// ('*' is any run of bytes).
func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"prod*", "prod-1"}, {"*-rc*", "v1-rc2"}, {"a*a", "a"}, {"*", ""}, {"v*.*.*", "v1.2.3"}, {"x", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, tag string) {
		if len(pattern) > 64 || len(tag) > 256 {
			return
		}
		if got, want := wildcard.Match(pattern, tag), testutil.GlobMatch(pattern, tag); got != want {
			t.Fatalf("MatchPattern(%q, %q) = %v, want %v", pattern, tag, got, want)
		}
	})
}
