package vulndb

import (
	"context"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// skippingUpdater is a fakeUpdater whose parser also reports what it
// left out on purpose.
type skippingUpdater struct {
	*fakeUpdater
	skipped map[string]int
}

func (u skippingUpdater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	st, err := u.fakeUpdater.Parse(ctx, fsys, emit)
	st.Skipped = u.skipped
	return st, err
}

// TestSkippedReported: a parser's Stats.Skipped reaches the source's
// report when the source is parsed, apart from Malformed.
func TestSkippedReported(t *testing.T) {
	u := skippingUpdater{
		fakeUpdater: &fakeUpdater{name: "distro", version: "1", advs: []*advisory.Advisory{osAdv("CVE-2024-0001", "debian:12", "pkga", "1.1")}},
		skipped:     map[string]int{"FIPS entries": 3},
	}
	rep, err := Update(context.Background(), t.TempDir(), []feed.Updater{u}, noSource, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sources) != 1 {
		t.Fatalf("%d sources", len(rep.Sources))
	}
	s := rep.Sources[0]
	if d := cmp.Diff(map[string]int{"FIPS entries": 3}, s.Skipped); d != "" || len(s.Malformed) != 0 || s.Advisories != 1 {
		t.Errorf("skipped (-want +got):\n%s\nmalformed %v, advisories %d", d, s.Malformed, s.Advisories)
	}
}
