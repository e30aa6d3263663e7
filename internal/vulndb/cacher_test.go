package vulndb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// cachingUpdater records the cache directory Update gives it.
type cachingUpdater struct {
	*fakeUpdater
	dir  string
	seen *[]string
}

func (u cachingUpdater) WithCacheDir(dir string) feed.Updater {
	*u.seen = append(*u.seen, dir)
	u.dir = dir
	return u
}

// TestCacherGetsItsDirectory: an updater that keeps files between runs is
// given <DB dir>/cache/<name>, on every update.
func TestCacherGetsItsDirectory(t *testing.T) {
	dir := t.TempDir()
	var seen []string
	u := cachingUpdater{fakeUpdater: &fakeUpdater{name: "cached", version: "1"}, seen: &seen}
	for range 2 {
		if _, err := Update(context.Background(), dir, []feed.Updater{u}, noSource, UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := filepath.Join(dir, CacheDir, "cached")
	if len(seen) != 2 || seen[0] != want || seen[1] != want {
		t.Errorf("cache dirs given: %v, want %s twice", seen, want)
	}
}
