package vulndb_test

import (
	"context"
	"testing"
	"time"

	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// BenchmarkUpdateSharedFeeds builds the DB from ../shared/feeds from
// scratch, then once more with nothing changed, and logs each source's
// figures. Profile it with
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
		rep, err := vulndb.Update(ctx, dir, ups, src, vulndb.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("first build %v", time.Since(start))
		for _, s := range rep.Sources {
			b.Logf("  %-20s %-9s %7d adv %8d aff %v", s.Name, s.Outcome, s.Advisories, s.Affected, s.Duration)
		}
		start = time.Now()
		if _, err := vulndb.Update(ctx, dir, ups, src, vulndb.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		b.Logf("no-change update %v", time.Since(start))
	}
}
