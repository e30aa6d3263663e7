package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FetchFiles is the Fetch that most updaters share: it gets each of paths from
// src into a new temporary directory that mirrors the upstream layout.
//
// When every file answers ErrNotModified (or has the same SHA-256 as before),
// the snapshot is Unchanged and holds no files. A file that is not modified
// while others changed is fetched again unconditionally, so Parse always sees
// the complete set. Missing files are skipped when optional reports true for
// them and are an error otherwise.
func FetchFiles(ctx context.Context, src Source, paths []string, prev State, optional func(string) bool) (Snapshot, error) {
	if len(paths) == 0 {
		return Snapshot{}, errors.New("fetch: no files to fetch")
	}
	dir, err := os.MkdirTemp("", "stowaway-fetch-")
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch: %w", err)
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	state := State{}
	changed := false
	var notModified []string
	for _, p := range paths {
		v, err := fetchOne(ctx, src, dir, p, prev[p])
		switch {
		case errors.Is(err, ErrNotModified):
			notModified = append(notModified, p)
			state[p] = prev[p]
			continue
		case errors.Is(err, fs.ErrNotExist) && optional != nil && optional(p):
			continue
		case err != nil:
			_ = cleanup()
			return Snapshot{}, err
		}
		state[p] = v
		if old, ok := prev[p]; !ok || old.SHA256 != v.SHA256 {
			changed = true
		}
	}
	if len(prev) != len(state) {
		changed = true
	}
	if !changed {
		_ = cleanup()
		return Snapshot{State: state, Unchanged: true}, nil
	}
	for _, p := range notModified {
		v, err := fetchOne(ctx, src, dir, p, Validator{})
		if err != nil {
			_ = cleanup()
			return Snapshot{}, err
		}
		state[p] = v
	}
	return Snapshot{FS: os.DirFS(dir), State: state, Close: cleanup}, nil
}

func fetchOne(ctx context.Context, src Source, dir, p string, prev Validator) (Validator, error) {
	clean := path.Clean(p)
	if !fs.ValidPath(clean) || strings.HasPrefix(clean, "../") {
		return Validator{}, fmt.Errorf("fetch %s: invalid path", p)
	}
	rc, v, err := src.Get(ctx, clean, prev)
	if err != nil {
		return Validator{}, fmt.Errorf("fetch %s: %w", p, err)
	}
	defer rc.Close()
	dst := filepath.Join(dir, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Validator{}, fmt.Errorf("fetch %s: %w", p, err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return Validator{}, fmt.Errorf("fetch %s: %w", p, err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
		f.Close()
		return Validator{}, fmt.Errorf("fetch %s: download: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return Validator{}, fmt.Errorf("fetch %s: %w", p, err)
	}
	v.SHA256 = hex.EncodeToString(h.Sum(nil))
	return v, nil
}
