package ubuntu

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

func TestPocketChannel(t *testing.T) {
	for key, want := range map[string]advisory.FixChannel{
		"xenial":                  "",
		"esm-infra/xenial":        "esm-infra",
		"esm-infra/bionic":        "esm-infra",
		"trusty/esm":              "esm-infra",
		"precise/esm":             "esm-infra",
		"esm-infra-legacy/trusty": "esm-infra-legacy",
		"esm-apps/xenial":         "esm-apps",
		"esm-apps/noble":          "esm-apps",
	} {
		if got := pocketChannel(key); got != want {
			t.Errorf("pocketChannel(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestUCTFixChannel: a fix taken from an ESM pocket is marked with the
// pocket's Ubuntu Pro service; a fix from the release's own key, and any
// entry that is not a fix, is not.
func TestUCTFixChannel(t *testing.T) {
	type got struct {
		NS, Status, Fixed string
		Channel           advisory.FixChannel
	}
	for _, tc := range []struct {
		name     string
		packages string
		want     []got
	}{
		{
			// As CVE-2016-10228 in the tracker: xenial ignored, the fix in esm-infra.
			name: "esm-infra fix replaces an ignored release",
			packages: `"xenial": {"glibc": {"status": "ignored", "note": "end of standard support"}},
				"esm-infra/xenial": {"glibc": {"status": "released", "note": "2.23-0ubuntu11.3+esm3"}}`,
			want: []got{{"ubuntu:16.04", "fixed", "2.23-0ubuntu11.3+esm3", "esm-infra"}},
		},
		{
			name: "older <rel>/esm key is esm-infra",
			packages: `"trusty": {"glibc": {"status": "needed"}},
				"trusty/esm": {"glibc": {"status": "released", "note": "2.19-0ubuntu6.15+esm1"}}`,
			want: []got{{"ubuntu:14.04", "fixed", "2.19-0ubuntu6.15+esm1", "esm-infra"}},
		},
		{
			name: "legacy pocket keeps its own channel",
			packages: `"trusty": {"glibc": {"status": "ignored"}},
				"esm-infra-legacy/trusty": {"glibc": {"status": "released", "note": "2.19-0ubuntu6.15+esm3"}}`,
			want: []got{{"ubuntu:14.04", "fixed", "2.19-0ubuntu6.15+esm3", "esm-infra-legacy"}},
		},
		{
			name:     "esm-apps, with no entry for the release itself",
			packages: `"esm-apps/focal": {"glibc": {"status": "released", "note": "9.9-1"}}`,
			want:     []got{{"ubuntu:20.04", "fixed", "9.9-1", "esm-apps"}},
		},
		{
			name: "the release's own fix is standard, even with an ESM pocket and an +esm version",
			packages: `"xenial": {"glibc": {"status": "released", "note": "2.23-0ubuntu3+esm1"}},
				"esm-infra/xenial": {"glibc": {"status": "released", "note": "2.23-0ubuntu11.3+esm3"}}`,
			want: []got{{"ubuntu:16.04", "fixed", "2.23-0ubuntu3+esm1", ""}},
		},
		{
			name:     "an ESM pocket that is not a fix gives no channel",
			packages: `"esm-infra/xenial": {"glibc": {"status": "needed"}}`,
			want:     []got{{"ubuntu:16.04", "affected", "", ""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, bad := convertUCT([]byte(`{"candidate": "CVE-2016-10228", "packages": {` + tc.packages + `}}`))
			if a == nil || len(bad) > 0 {
				t.Fatalf("convertUCT: %v, malformed %v", a, bad)
			}
			var out []got
			for _, af := range a.Affected {
				out = append(out, got{af.Namespace, string(af.Status), fixedOf(af), af.FixChannel})
			}
			if d := cmp.Diff(tc.want, out); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
