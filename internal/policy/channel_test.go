package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

func TestIgnoreFixChannel(t *testing.T) {
	pro := func(id string, ch advisory.FixChannel) match.Finding {
		f := finding(id, "libc-bin", "pkg:deb/ubuntu/libc-bin@2.23-0ubuntu11.3", "MEDIUM", "2.23-0ubuntu11.3+esm3")
		f.FixChannel = ch
		return f
	}
	all := []match.Finding{
		pro("CVE-2016-10228", advisory.ChannelESMInfra),
		pro("CVE-2020-0001", advisory.ChannelESMApps),
		pro("CVE-2020-0002", advisory.ChannelESMInfraLegacy),
		finding("CVE-2020-0003", "libc-bin", "pkg:deb/ubuntu/libc-bin@2.23-0ubuntu11.3", "MEDIUM", "2.23-0ubuntu11.4"),
		finding("CVE-2020-0004", "libc-bin", "pkg:deb/ubuntu/libc-bin@2.23-0ubuntu11.3", "LOW", ""),
	}
	for _, tc := range []struct {
		name       string
		opts       Options
		kept       []string
		suppressed map[string]string
	}{
		{name: "no filter: every finding", opts: Options{},
			kept: []string{"CVE-2016-10228", "CVE-2020-0001", "CVE-2020-0002", "CVE-2020-0003", "CVE-2020-0004"}},
		{name: "a Pro-only fix counts as a fix for --ignore-unfixed", opts: Options{IgnoreUnfixed: true},
			kept:       []string{"CVE-2016-10228", "CVE-2020-0001", "CVE-2020-0002", "CVE-2020-0003"},
			suppressed: map[string]string{"CVE-2020-0004": "no fix available (--ignore-unfixed)"}},
		{name: "one channel", opts: Options{IgnoreFixChannels: []string{"esm-infra"}},
			kept:       []string{"CVE-2020-0001", "CVE-2020-0002", "CVE-2020-0003", "CVE-2020-0004"},
			suppressed: map[string]string{"CVE-2016-10228": "fix only through Ubuntu Pro esm-infra (--ignore-fix-channel)"}},
		{name: "a list, any case, repeated flags; legacy is its own channel", opts: Options{IgnoreFixChannels: []string{"ESM-Infra, esm-apps", ""}},
			kept: []string{"CVE-2020-0002", "CVE-2020-0003", "CVE-2020-0004"},
			suppressed: map[string]string{"CVE-2016-10228": "fix only through Ubuntu Pro esm-infra (--ignore-fix-channel)",
				"CVE-2020-0001": "fix only through Ubuntu Pro esm-apps (--ignore-fix-channel)"}},
		{name: "a machine without Pro: only standard fixes", opts: Options{IgnoreUnfixed: true, IgnoreFixChannels: []string{"esm-infra", "esm-apps", "esm-infra-legacy"}},
			kept: []string{"CVE-2020-0003"},
			suppressed: map[string]string{"CVE-2016-10228": "fix only through Ubuntu Pro esm-infra (--ignore-fix-channel)",
				"CVE-2020-0001": "fix only through Ubuntu Pro esm-apps (--ignore-fix-channel)",
				"CVE-2020-0002": "fix only through Ubuntu Pro esm-infra-legacy (--ignore-fix-channel)",
				"CVE-2020-0004": "no fix available (--ignore-unfixed)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Names = names.Names{Distros: distroall.Distros()}
			kept, supp, err := Apply(all, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range kept {
				got = append(got, f.ID)
			}
			if d := cmp.Diff(tc.kept, got); d != "" {
				t.Errorf("kept (-want +got):\n%s", d)
			}
			gotSupp := map[string]string{}
			for _, s := range supp {
				gotSupp[s.Finding.ID] = s.Reason
			}
			if tc.suppressed == nil {
				tc.suppressed = map[string]string{}
			}
			if d := cmp.Diff(tc.suppressed, gotSupp); d != "" {
				t.Errorf("suppressed (-want +got):\n%s", d)
			}
		})
	}
	for _, bad := range []string{"esm", "standard", "fips", "esm-infra,pro"} {
		if _, _, err := Apply(all, Options{IgnoreFixChannels: []string{bad}}); err == nil || !strings.Contains(err.Error(), "unknown fix channel") {
			t.Errorf("%q: err = %v, want unknown fix channel", bad, err)
		}
	}
}
