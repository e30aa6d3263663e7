package ubuntu

import (
	"regexp"
	"testing"
)

// The regexps debVersion and debName replace.
var (
	debVersionRe = regexp.MustCompile(`^(\d+:)?[0-9][A-Za-z0-9.+~:-]*$`)
	debNameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)
)

func checkMatchers(t *testing.T, s string) {
	t.Helper()
	if got, want := debVersion.MatchString(s), debVersionRe.MatchString(s); got != want {
		t.Errorf("debVersion(%q) = %v, the regexp says %v", s, got, want)
	}
	if got, want := debName.MatchString(s), debNameRe.MatchString(s); got != want {
		t.Errorf("debName(%q) = %v, the regexp says %v", s, got, want)
	}
}

func TestMatchers(t *testing.T) {
	for _, s := range []string{
		"", "0", "1:2.3-4", "1:", ":1", "a", "A", "libc6", "g++", "lib-x.y+z", "-a", ".a", "+a",
		"1.2~rc1", "1.2_3", "1.2 3", "1.2\n", "\n1.2", "é", "1é", "a/b", "1:1:1", "0:1.2-3ubuntu0.1~esm1",
		"Linux", "linux-image-5.4.0-1", "ab\x00",
	} {
		checkMatchers(t, s)
	}
}

func FuzzMatchers(f *testing.F) {
	for _, s := range []string{"1:2.3-4", "libc6", "g++", "1.2~rc1", "A-b"} {
		f.Add(s)
	}
	f.Fuzz(checkMatchers)
}
