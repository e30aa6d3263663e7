package source

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// InMirror splits updaters into those whose directory exists in a local
// mirror and those it lacks. For an empty mirror (the real upstreams) or a
// mirror URL every updater is kept: only a local directory can be checked.
func InMirror(mirror string, updaters []feed.Updater) (present, absent []feed.Updater) {
	dir := strings.TrimPrefix(mirror, "file://")
	if mirror == "" || strings.HasPrefix(mirror, "http://") || strings.HasPrefix(mirror, "https://") {
		return updaters, nil
	}
	for _, u := range updaters {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(u.MirrorDir()))); err == nil && fi.IsDir() {
			present = append(present, u)
		} else {
			absent = append(absent, u)
		}
	}
	return present, absent
}

// Online splits updaters for an update from the real upstreams (an empty
// mirror): the updaters that feed.MirrorOnly marks are skipped, with their
// reasons. For any mirror every updater runs.
func Online(mirror string, updaters []feed.Updater) (run []feed.Updater, skipped map[string]string) {
	if mirror != "" {
		return updaters, nil
	}
	for _, u := range updaters {
		if m, ok := u.(feed.MirrorOnly); ok {
			if skipped == nil {
				skipped = map[string]string{}
			}
			skipped[u.Name()] = m.MirrorOnly()
			continue
		}
		run = append(run, u)
	}
	return run, skipped
}
