package vulndb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// channelAdv is an Ubuntu record fixed at fixed through channel.
func channelAdv(id, pkg, fixed string, channel advisory.FixChannel) *advisory.Advisory {
	a := osAdv(id, "ubuntu:16.04", pkg, fixed)
	a.Affected[0].FixChannel = channel
	return a
}

// channelsOf maps each advisory id of a pair to its stored fix channel.
func channelsOf(t *testing.T, db *DB, ns, pkg string) map[string]advisory.FixChannel {
	t.Helper()
	recs, err := db.Lookup(context.Background(), ns, pkg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]advisory.FixChannel{}
	for _, r := range recs {
		out[r.Advisory.ID] = r.Affected.FixChannel
	}
	return out
}

// TestFixChannelStored: the channel survives the DB, and an unknown
// channel or a channel on a record without a fix is malformed.
func TestFixChannelStored(t *testing.T) {
	bad := channelAdv("CVE-4", "glibc", "1", "esm-everything")
	notFixed := channelAdv("CVE-5", "glibc", "1", advisory.ChannelESMApps)
	notFixed.Affected[0].Status, notFixed.Affected[0].Ranges = advisory.StatusAffected, nil
	u := &fakeUpdater{name: "ubuntu-uct", version: "1", advs: []*advisory.Advisory{
		channelAdv("CVE-2016-10228", "glibc", "2.23-0ubuntu11.3+esm3", advisory.ChannelESMInfra),
		channelAdv("CVE-2", "glibc", "2.23-0ubuntu11", advisory.ChannelStandard),
		channelAdv("CVE-3", "glibc", "2.23-0ubuntu11.3+esm1", advisory.ChannelESMInfraLegacy),
		channelAdv("CVE-6", "glibc", "2.23-0ubuntu11.3+esm1", advisory.ChannelESMApps),
		bad, notFixed,
	}}
	dir := t.TempDir()
	rep := mustUpdate(t, dir, u)
	wantBad := []feed.Malformed{
		{ID: "CVE-4", Err: `vulndb: affected[0]: unknown fix channel "esm-everything"`},
		{ID: "CVE-5", Err: `vulndb: affected[0]: fix channel "esm-apps" on a record with status "affected"`},
	}
	if d := cmp.Diff(wantBad, rep.Sources[0].Malformed); d != "" {
		t.Errorf("malformed (-want +got):\n%s", d)
	}
	want := map[string]advisory.FixChannel{"CVE-2016-10228": "esm-infra", "CVE-2": "", "CVE-3": "esm-infra-legacy", "CVE-6": "esm-apps"}
	if d := cmp.Diff(want, channelsOf(t, mustOpen(t, dir), "ubuntu:16.04", "glibc")); d != "" {
		t.Errorf("stored channels (-want +got):\n%s", d)
	}
}

// TestFixChannelChangesPair: a record whose only change is its channel
// changes its pair's hash, so a continuous rescan re-matches it.
func TestFixChannelChangesPair(t *testing.T) {
	dir := t.TempDir()
	mustUpdate(t, dir, &fakeUpdater{name: "u", version: "1", advs: []*advisory.Advisory{
		channelAdv("CVE-1", "glibc", "2.23-0ubuntu11.3+esm3", advisory.ChannelStandard),
		channelAdv("CVE-2", "zlib", "1.0", advisory.ChannelStandard),
	}})
	rep := mustUpdate(t, dir, &fakeUpdater{name: "u", version: "2", advs: []*advisory.Advisory{
		channelAdv("CVE-1", "glibc", "2.23-0ubuntu11.3+esm3", advisory.ChannelESMInfra),
		channelAdv("CVE-2", "zlib", "1.0", advisory.ChannelStandard),
	}})
	if rep.ChangedPairs != 1 {
		t.Errorf("ChangedPairs = %d, want 1 (ubuntu:16.04 glibc)", rep.ChangedPairs)
	}
}

// TestOldSchemaRebuilt: a previous DB of schema version 1 (no fix
// channels) is not copied forward, even when the feed is unchanged: the
// source is fetched and parsed again, so its records get their channels.
func TestOldSchemaRebuilt(t *testing.T) {
	dir := t.TempDir()
	u := &fakeUpdater{name: "ubuntu-uct", version: "1", advs: []*advisory.Advisory{
		channelAdv("CVE-2016-10228", "glibc", "2.23-0ubuntu11.3+esm3", advisory.ChannelESMInfra)}}
	rep := mustUpdate(t, dir, u)
	setMeta(t, rep.Path, "schema_version", "1")
	rep2 := mustUpdate(t, dir, u)
	if rep2.Sources[0].Outcome != Updated || rep2.Previous == "" {
		t.Errorf("second update: outcome %s, previous %q; want updated and the old DB ignored", rep2.Sources[0].Outcome, rep2.Previous)
	}
	if got := channelsOf(t, mustOpen(t, dir), "ubuntu:16.04", "glibc"); got["CVE-2016-10228"] != advisory.ChannelESMInfra {
		t.Errorf("channel after rebuild: %v", got)
	}
}
