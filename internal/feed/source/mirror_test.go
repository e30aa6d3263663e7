package source

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

type namedUpdater struct{ name, dir string }

func (u namedUpdater) Name() string      { return u.name }
func (u namedUpdater) Upstream() string  { return "https://example.invalid/" }
func (u namedUpdater) MirrorDir() string { return u.dir }
func (namedUpdater) Fetch(context.Context, feed.Source, feed.State) (feed.Snapshot, error) {
	return feed.Snapshot{}, nil
}
func (namedUpdater) Parse(context.Context, fs.FS, func(*advisory.Advisory) error) (feed.Stats, error) {
	return feed.Stats{}, nil
}

func TestInMirror(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "alpine", "secdb"), 0o755)
	ups := []feed.Updater{namedUpdater{"alpine", "alpine/secdb"}, namedUpdater{"oracle", "oracle"}}
	names := func(us []feed.Updater) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Name())
		}
		return out
	}
	for _, tc := range []struct {
		mirror          string
		present, absent []string
	}{
		{root, []string{"alpine"}, nil},
		{"file://" + root, []string{"alpine"}, nil},
		{"", []string{"alpine", "oracle"}, nil},
		{"https://mirror.example/feeds", []string{"alpine", "oracle"}, nil},
	} {
		p, a := InMirror(tc.mirror, ups)
		want := tc.absent
		if tc.mirror == root || tc.mirror == "file://"+root {
			want = []string{"oracle"}
		}
		if d := cmp.Diff(tc.present, names(p)); d != "" {
			t.Errorf("%q present: %s", tc.mirror, d)
		}
		if d := cmp.Diff(want, names(a)); d != "" {
			t.Errorf("%q absent: %s", tc.mirror, d)
		}
	}
}

type mirrorOnlyUpdater struct{ namedUpdater }

func (mirrorOnlyUpdater) MirrorOnly() string { return "superseded online" }

func TestOnline(t *testing.T) {
	ups := []feed.Updater{namedUpdater{"new", "x/new"}, mirrorOnlyUpdater{namedUpdater{"old", "x"}}}
	run, skipped := Online("", ups)
	if len(run) != 1 || run[0].Name() != "new" {
		t.Errorf("online run = %v, want only new", run)
	}
	if d := cmp.Diff(map[string]string{"old": "superseded online"}, skipped); d != "" {
		t.Errorf("online skipped: %s", d)
	}
	for _, m := range []string{t.TempDir(), "https://mirror.example/feeds"} {
		run, skipped := Online(m, ups)
		if len(run) != 2 || skipped != nil {
			t.Errorf("mirror %q: run %v, skipped %v; want both run", m, run, skipped)
		}
	}
}
