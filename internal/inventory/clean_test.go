package inventory

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "busybox"},
		{"", ""},
		{"b\x00x", "b\uFFFDx"},
		{"\xff\xfe garbage", "\uFFFD garbage"},
		{"ok \u00e9", "ok \u00e9"},
	} {
		if got := CleanText(tc.in); got != tc.want {
			t.Errorf("CleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	p := Package{Name: "a\x00", Version: "1\xff", Path: "x/\xc3", Licenses: []string{"MIT\x00"}, CPEs: []string{"cpe:\xff"}}
	p.Clean()
	want := Package{Name: "a\uFFFD", Version: "1\uFFFD", Path: "x/\uFFFD", Licenses: []string{"MIT\uFFFD"}, CPEs: []string{"cpe:\uFFFD"}}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("Clean (-want +got):\n%s", d)
	}
}
