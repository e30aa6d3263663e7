package match

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// TestFixChannel: a finding carries the channel of the record whose fix
// it reports, and only when it reports a fix.
func TestFixChannel(t *testing.T) {
	xenial := &inventory.Distro{ID: "ubuntu", VersionID: "16.04", Release: "16.04", Status: inventory.OSSupported}
	libc := inventory.Package{Name: "libc-bin", Version: "2.23-0ubuntu11.3", Type: inventory.TypeDeb, SourceName: "glibc", SourceVersion: "2.23-0ubuntu11.3"}
	badLibc := libc
	badLibc.Version, badLibc.SourceVersion = "2.23 0ubuntu11.3", "2.23 0ubuntu11.3"
	rec := func(id, source string, st advisory.Status, fix string, ch advisory.FixChannel) *advisory.Advisory {
		af := advisory.Affected{Namespace: "ubuntu:16.04", Package: "glibc", Kind: advisory.KindSource, Status: st, FixChannel: ch}
		if fix != "" {
			af.Ranges = fixed(fix)
		}
		return &advisory.Advisory{ID: id, Source: source, Affected: []advisory.Affected{af}}
	}
	type got struct {
		ID, Status, Fixed string
		Channel           advisory.FixChannel
	}
	for _, tc := range []struct {
		name string
		pkg  inventory.Package
		advs []*advisory.Advisory
		want []got
	}{
		{
			name: "fix from an ESM pocket is marked",
			pkg:  libc,
			advs: []*advisory.Advisory{rec("CVE-2016-10228", "ubuntu-uct", advisory.StatusFixed, "2.23-0ubuntu11.3+esm3", advisory.ChannelESMInfra)},
			want: []got{{"CVE-2016-10228", "FIXABLE", "2.23-0ubuntu11.3+esm3", "esm-infra"}},
		},
		{
			name: "standard fix is unmarked",
			pkg:  libc,
			advs: []*advisory.Advisory{rec("CVE-2020-1", "ubuntu-uct", advisory.StatusFixed, "2.23-0ubuntu11.4", "")},
			want: []got{{"CVE-2020-1", "FIXABLE", "2.23-0ubuntu11.4", ""}},
		},
		{
			name: "already at the ESM fix: no finding, no channel anywhere",
			pkg:  libc,
			advs: []*advisory.Advisory{rec("CVE-2020-2", "ubuntu-uct", advisory.StatusFixed, "2.23-0ubuntu11.3", advisory.ChannelESMApps)},
		},
		{
			// The UCT record replaces the OVAL snapshot's standard fix.
			name: "channel of the record chosen, not of an outranked one",
			pkg:  libc,
			advs: []*advisory.Advisory{
				rec("CVE-2020-3", "ubuntu-oval", advisory.StatusFixed, "2.23-0ubuntu11.9", ""),
				rec("CVE-2020-3", "ubuntu-uct", advisory.StatusFixed, "2.23-0ubuntu11.3+esm1", advisory.ChannelESMInfraLegacy),
			},
			want: []got{{"CVE-2020-3", "FIXABLE", "2.23-0ubuntu11.3+esm1", "esm-infra-legacy"}},
		},
		{
			name: "undecided version keeps the channel of the fix it names",
			pkg:  badLibc,
			advs: []*advisory.Advisory{rec("CVE-2020-4", "ubuntu-uct", advisory.StatusFixed, "2.23-0ubuntu11.3+esm3", advisory.ChannelESMInfra)},
			want: []got{{"CVE-2020-4", "UNKNOWN_VERSION", "2.23-0ubuntu11.3+esm3", "esm-infra"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: xenial, Packages: []inventory.Package{tc.pkg}}
			res, err := Match(context.Background(), fakeStore{advs: tc.advs}, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
			if err != nil {
				t.Fatal(err)
			}
			var out []got
			for _, f := range res.Findings {
				out = append(out, got{f.ID, string(f.Status), f.FixedVersion, f.FixChannel})
			}
			if d := cmp.Diff(tc.want, out); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestMergeKeepsChannel: merging a finding into a weaker one takes its
// fix and the fix's channel together.
func TestMergeKeepsChannel(t *testing.T) {
	dst := Finding{ID: "CVE-1", Status: StatusUnfixed}
	mergeInto(&dst, Finding{ID: "CVE-1", Status: StatusFixable, FixedVersion: "1+esm1", FixChannel: advisory.ChannelESMApps})
	mergeInto(&dst, Finding{ID: "CVE-1", Status: StatusWillNotFix})
	if dst.Status != StatusFixable || dst.FixedVersion != "1+esm1" || dst.FixChannel != advisory.ChannelESMApps {
		t.Errorf("merged: %s %s %q", dst.Status, dst.FixedVersion, dst.FixChannel)
	}
}
