package vulndb

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// fakeUpdater serves a fixed list of advisories. Its "upstream" is one file
// whose content is version: Fetch says Unchanged when the state already
// holds that version.
type fakeUpdater struct {
	name      string
	version   string
	advs      []*advisory.Advisory
	malformed []feed.Malformed
	fetchErr  error
	// parseErrAfter > 0 makes Parse fail after emitting that many records.
	parseErrAfter int
	// gate, when set, is called after the first emit (tests block there).
	gate func()
	// gen, when set, generates records instead of advs.
	gen func(emit func(*advisory.Advisory) error) error
	// parts is returned as Stats.Parts, dataVersion as Stats.Version.
	parts       map[string]int
	dataVersion string
}

func (u *fakeUpdater) Name() string      { return u.name }
func (u *fakeUpdater) Upstream() string  { return "https://example.invalid/" + u.name }
func (u *fakeUpdater) MirrorDir() string { return u.name }

func (u *fakeUpdater) Fetch(ctx context.Context, _ feed.Source, prev feed.State) (feed.Snapshot, error) {
	if u.fetchErr != nil {
		return feed.Snapshot{}, u.fetchErr
	}
	if prev["feed.json"].SHA256 == u.version {
		return feed.Snapshot{State: prev, Unchanged: true}, nil
	}
	return feed.Snapshot{
		FS:    fstest.MapFS{"feed.json": {Data: []byte(u.version)}},
		State: feed.State{"feed.json": {SHA256: u.version, FetchedAt: time.Unix(1, 0).UTC()}},
	}, nil
}

func (u *fakeUpdater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	if _, err := fs.ReadFile(fsys, "feed.json"); err != nil {
		return feed.Stats{}, err
	}
	if u.gen != nil {
		return feed.Stats{}, u.gen(emit)
	}
	st := feed.Stats{Malformed: u.malformed, Parts: u.parts, Version: u.dataVersion}
	for i, a := range u.advs {
		if u.parseErrAfter > 0 && i == u.parseErrAfter {
			return st, errors.New("feed truncated")
		}
		if err := emit(a); err != nil {
			return st, err
		}
		if i == 0 && u.gate != nil {
			u.gate()
		}
		st.Records++
		if a != nil && a.Modified.After(st.Newest) {
			st.Newest = a.Modified
		}
	}
	return st, nil
}

func updaters(us ...*fakeUpdater) []feed.Updater {
	out := make([]feed.Updater, len(us))
	for i, u := range us {
		out[i] = u
	}
	return out
}

func noSource(feed.Updater) feed.Source { return nil }

func day(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }

// osAdv is an advisory fixing pkg in ns at fixed.
func osAdv(id, ns, pkg, fixed string, aliases ...string) *advisory.Advisory {
	return &advisory.Advisory{
		ID: id, Aliases: aliases, Description: id + " description", Severity: "HIGH", VendorSeverity: "high",
		Modified: day(2),
		Affected: []advisory.Affected{{
			Namespace: ns, Package: pkg, Kind: advisory.KindSource, Status: advisory.StatusFixed,
			Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: fixed}}}},
		}},
	}
}

func mustUpdate(t testing.TB, dir string, us ...*fakeUpdater) *Report {
	t.Helper()
	rep, err := Update(context.Background(), dir, updaters(us...), noSource, UpdateOptions{})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rep
}

func mustOpen(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fixed returns the fixed versions of the records of one pair, by advisory id.
func fixedOf(t testing.TB, db *DB, ns, pkg string) map[string]string {
	t.Helper()
	recs, err := db.Lookup(context.Background(), ns, pkg)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	out := map[string]string{}
	for _, r := range recs {
		v := ""
		for _, rg := range r.Affected.Ranges {
			for _, e := range rg.Events {
				if e.Fixed != "" {
					v = e.Fixed
				}
			}
		}
		out[r.Advisory.ID] = v
	}
	return out
}
