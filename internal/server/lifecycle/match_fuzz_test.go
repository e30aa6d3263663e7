package lifecycle

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzMatchPattern compares the tag pattern matcher with a regular
// expression built from the pattern ('*' is any run of characters).
func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"prod*", "prod-1"}, {"*-rc*", "v1-rc2"}, {"a*a", "a"}, {"*", ""}, {"v*.*.*", "v1.2.3"}, {"x", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, tag string) {
		if len(pattern) > 64 || len(tag) > 256 {
			return
		}
		parts := strings.Split(pattern, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if got, want := MatchPattern(pattern, tag), re.MatchString(tag); got != want {
			t.Fatalf("MatchPattern(%q, %q) = %v, want %v", pattern, tag, got, want)
		}
	})
}
