package vulndb_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/testdb"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

var realDB testdb.DB

func TestMain(m *testing.M) { os.Exit(realDB.Run(m)) }

var lookupSample = flag.Uint("vulndb.lookupsample", 8, "TestLookupsUnchangedRealFeeds asks 1 in N pairs, ids and aliases (1: all: about 170 s of CPU)")

// TestLookupsUnchangedRealFeeds: what readers see of the real-data DB
// ($STOWAWAY_TEST_DB, or one built from ../shared/feeds) is the golden
// digest recorded for those feeds (a sample of the pairs, ids and aliases;
// see -vulndb.lookupsample). It skips when the feeds differ from the ones
// the golden file was recorded with; a parser change that alters records
// rewrites it with -update.
func TestLookupsUnchangedRealFeeds(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	sum, err := testdb.FeedsSum(feeds)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", fmt.Sprintf("lookups-realfeeds-1-in-%d.json", *lookupSample))
	type file struct {
		FeedsSHA256SUMS string              `json:"feeds_sha256sums"`
		Digest          vulndb.LookupDigest `json:"digest"`
	}
	if !vulndb.UpdatingGolden() {
		var want file
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Skipf("no golden digest for 1 in %d lookups (%v); record one with -update", *lookupSample, err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", golden, err)
		}
		if want.FeedsSHA256SUMS != sum {
			t.Skipf("%s was recorded for other feeds (SHA256SUMS %s, ../shared/feeds has %s); record it anew with -update", golden, want.FeedsSHA256SUMS, sum)
		}
	}
	db := realDB.Open(t)
	got, err := vulndb.DigestLookups(context.Background(), db, uint32(*lookupSample))
	if err != nil {
		t.Fatal(err)
	}
	vulndb.CheckGolden(t, golden, file{FeedsSHA256SUMS: sum, Digest: got})
}

// BenchmarkUpdateSharedFeeds builds the DB from ../shared/feeds from
// scratch, then once more with nothing changed, and logs each source's
// figures. It builds what `db update --mirror` builds (the same updaters
// and supersedes). Profile it with
//
//	go test -run '^$' -bench UpdateSharedFeeds -benchtime 1x -cpuprofile cpu.prof ./internal/vulndb
//
// It skips without the shared data.
func BenchmarkUpdateSharedFeeds(b *testing.B) {
	sharedFeeds := testutil.Shared(b, "feeds")
	ctx := context.Background()
	for b.Loop() {
		dir := b.TempDir()
		ups, _ := source.InMirror(sharedFeeds, feedall.Updaters(feedall.Options{Bzip2: bz2.Auto(nil)}))
		src, err := source.New(sharedFeeds, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		opts := vulndb.UpdateOptions{Supersedes: distroall.Distros().Supersedes()}
		rep, err := vulndb.Update(ctx, dir, ups, src, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("first build %v", time.Since(start))
		for _, s := range rep.Sources {
			b.Logf("  %-20s %-9s %7d adv %8d aff %v", s.Name, s.Outcome, s.Advisories, s.Affected, s.Duration)
		}
		start = time.Now()
		if _, err := vulndb.Update(ctx, dir, ups, src, opts); err != nil {
			b.Fatal(err)
		}
		b.Logf("no-change update %v", time.Since(start))
	}
}
