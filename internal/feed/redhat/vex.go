package redhat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Paths of the VEX directory, relative to VEX.Upstream() and to the mirror
// directory "redhat/csaf/v2/vex".
const (
	ArchiveLatestPath = "archive_latest.txt"
	ChangesPath       = "changes.csv"
	DeletionsPath     = "deletions.csv"
)

// sinceKey is the state entry whose LastModified holds the newest
// changes.csv time already applied (RFC 3339). It is not a file.
const sinceKey = "#since"

// Defaults for VEXOptions fields left zero.
const (
	DefaultMaxDocSize        = 64 << 20 // the largest real documents (kernel) are a few MB
	DefaultMaxIndexSize      = 256 << 20
	DefaultMaxArchiveSize    = 64 << 30 // decompressed
	DefaultMaxArchiveEntries = 2_000_000
	DefaultMaxDecoderMemory  = 128 << 20
	DefaultRebaseAfter       = 20_000
)

// VEXOptions tune the VEX updater. Zero values pick the defaults.
type VEXOptions struct {
	// CacheDir keeps the archive and the documents fetched since between
	// runs; without one every Fetch is a first run (the archive again).
	// vulndb.Update gives the updater <DB dir>/cache/redhat-vex.
	CacheDir string
	// MaxDocSize caps one document; MaxIndexSize changes.csv and
	// deletions.csv.
	MaxDocSize   int64
	MaxIndexSize int64
	// MaxArchiveSize caps the archive's decompressed bytes,
	// MaxArchiveEntries its tar entries and MaxDecoderMemory the zstd
	// decoder's window: a Parse past one fails (a zstd or tar bomb).
	MaxArchiveSize    int64
	MaxArchiveEntries int
	MaxDecoderMemory  int64
	// RebaseAfter is how many documents fetched since the archive make the
	// next Fetch start again from the newest archive.
	RebaseAfter int
}

// VEX is the Red Hat CSAF VEX updater (see the package doc, "CSAF VEX").
type VEX struct {
	opts VEXOptions
}

// NewVEX returns the VEX updater with opts.
func NewVEX(opts VEXOptions) *VEX {
	if opts.MaxDocSize <= 0 {
		opts.MaxDocSize = DefaultMaxDocSize
	}
	if opts.MaxIndexSize <= 0 {
		opts.MaxIndexSize = DefaultMaxIndexSize
	}
	if opts.MaxArchiveSize <= 0 {
		opts.MaxArchiveSize = DefaultMaxArchiveSize
	}
	if opts.MaxArchiveEntries <= 0 {
		opts.MaxArchiveEntries = DefaultMaxArchiveEntries
	}
	if opts.MaxDecoderMemory <= 0 {
		opts.MaxDecoderMemory = DefaultMaxDecoderMemory
	}
	if opts.RebaseAfter <= 0 {
		opts.RebaseAfter = DefaultRebaseAfter
	}
	return &VEX{opts: opts}
}

// Name is the source name stored with each record.
func (u *VEX) Name() string { return "redhat-vex" }

// Upstream is Red Hat's VEX directory.
func (u *VEX) Upstream() string { return "https://security.access.redhat.com/data/csaf/v2/vex" }

// MirrorDir is the same layout's directory in a mirror.
func (u *VEX) MirrorDir() string { return "redhat/csaf/v2/vex" }

// WithCacheDir returns the updater keeping its files in dir (feed.Cacher).
func (u *VEX) WithCacheDir(dir string) feed.Updater {
	o := u.opts
	o.CacheDir = dir
	return NewVEX(o)
}

// Fetch brings the cache up to date and returns a snapshot of it laid out
// as upstream. The first run (no usable previous state or cached archive)
// downloads the archive named by archive_latest.txt and then every document
// that changes.csv lists on or after the archive's date; later runs GET
// changes.csv and deletions.csv conditionally and only the documents listed
// since the newest change already applied.
func (u *VEX) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	cache := u.opts.CacheDir
	var cleanups []func() error
	cleanup := func() error {
		var errs []error
		for i := len(cleanups) - 1; i >= 0; i-- {
			errs = append(errs, cleanups[i]())
		}
		return errors.Join(errs...)
	}
	if cache == "" {
		dir, err := os.MkdirTemp("", "stowaway-vex-")
		if err != nil {
			return feed.Snapshot{}, fmt.Errorf("redhat-vex: fetch: %w", err)
		}
		cache = dir
		cleanups = append(cleanups, func() error { return os.RemoveAll(dir) })
	} else if err := os.MkdirAll(cache, 0o755); err != nil {
		return feed.Snapshot{}, fmt.Errorf("redhat-vex: fetch: cache: %w", err)
	}
	f := &vexFetch{u: u, src: src, cache: cache, prev: prev, state: feed.State{}}
	snap, err := f.run(ctx, false)
	if err != nil || snap.Unchanged {
		_ = cleanup()
		if err != nil {
			return feed.Snapshot{}, err
		}
		return snap, nil
	}
	cleanups = append(cleanups, snap.Close)
	snap.Close = cleanup
	return snap, nil
}

type vexFetch struct {
	u     *VEX
	src   feed.Source
	cache string
	prev  feed.State
	state feed.State
}

func (f *vexFetch) cachePath(p string) string { return filepath.Join(f.cache, filepath.FromSlash(p)) }

// cached reports whether the cache holds p with the SHA-256 of v.
func (f *vexFetch) cached(p string, v feed.Validator) bool {
	if v.SHA256 == "" {
		return false
	}
	fh, err := os.Open(f.cachePath(p))
	if err != nil {
		return false
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == v.SHA256
}

// get downloads p into the cache (atomically: a .part file renamed). It
// returns feed.ErrNotModified for a conditional GET that matched.
func (f *vexFetch) get(ctx context.Context, p string, prev feed.Validator, max int64) (feed.Validator, error) {
	rc, v, err := f.src.Get(ctx, p, prev)
	if err != nil {
		return feed.Validator{}, err
	}
	defer rc.Close()
	dst := f.cachePath(p)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return feed.Validator{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-")
	if err != nil {
		return feed.Validator{}, err
	}
	h := sha256.New()
	var r io.Reader = rc
	if max > 0 {
		r = io.LimitReader(rc, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && max > 0 && n > max {
		err = fmt.Errorf("%w of %d bytes", errTooLarge, max)
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return feed.Validator{}, fmt.Errorf("download: %w", err)
	}
	v.SHA256 = hex.EncodeToString(h.Sum(nil))
	return v, nil
}

// index gets changes.csv or deletions.csv: conditionally when the cache
// still holds the previous copy. It returns the parsed lines, whether the
// file changed, and whether it exists at all (deletions.csv may not).
func (f *vexFetch) index(ctx context.Context, p string, conditional bool) ([]change, bool, error) {
	prev := f.prev[p]
	if !conditional || !f.cached(p, prev) {
		prev = feed.Validator{}
	}
	v, err := f.get(ctx, p, prev, f.u.opts.MaxIndexSize)
	changed := true
	switch {
	case errors.Is(err, feed.ErrNotModified):
		v, changed = prev, false
	case errors.Is(err, fs.ErrNotExist) && p == DeletionsPath:
		_ = os.Remove(f.cachePath(p))
		return nil, f.prev[p].SHA256 != "", nil
	case err != nil:
		return nil, false, fmt.Errorf("redhat-vex: fetch %s: %w", p, err)
	}
	if changed && v.SHA256 == prev.SHA256 && prev.SHA256 != "" {
		changed = false
	}
	f.state[p] = v
	data, err := os.ReadFile(f.cachePath(p))
	if err != nil {
		return nil, false, fmt.Errorf("redhat-vex: fetch %s: %w", p, err)
	}
	lines, err := readIndex(bytes.NewReader(data), p)
	if err != nil {
		return nil, false, fmt.Errorf("redhat-vex: fetch: %w", err)
	}
	return lines, changed, nil
}

func (f *vexFetch) prevArchive() string {
	for k := range f.prev {
		if archiveFile.MatchString(k) {
			return k
		}
	}
	return ""
}

func (f *vexFetch) run(ctx context.Context, forceFirst bool) (feed.Snapshot, error) {
	archive := f.prevArchive()
	since, sinceErr := time.Parse(time.RFC3339Nano, f.prev[sinceKey].LastModified)
	prevDocs := 0
	for k := range f.prev {
		if docPath.MatchString(k) {
			prevDocs++
		}
	}
	first := forceFirst || archive == "" || sinceErr != nil || prevDocs > f.u.opts.RebaseAfter || !exists(f.cachePath(archive))
	docs := map[string]feed.Validator{}
	if first {
		name, since0, err := f.fetchArchive(ctx)
		if err != nil {
			return feed.Snapshot{}, err
		}
		archive, since = name, since0
	} else {
		f.state[archive] = f.prev[archive]
		for k, v := range f.prev {
			if docPath.MatchString(k) {
				docs[k] = v
			}
		}
	}
	changes, chChanged, err := f.index(ctx, ChangesPath, !first)
	if err != nil {
		return feed.Snapshot{}, err
	}
	dels, delChanged, err := f.index(ctx, DeletionsPath, !first)
	if err != nil {
		return feed.Snapshot{}, err
	}
	if !first && !chChanged && !delChanged {
		return feed.Snapshot{State: f.prev, Unchanged: true}, nil
	}
	if !first && !f.cached(archive, f.prev[archive]) {
		// The cached archive is not the one the state names: start over.
		f.state = feed.State{}
		return f.run(ctx, true)
	}
	// Documents to GET: those changed since the last applied change, and
	// any carried one the cache lost.
	want := map[string]bool{}
	newest := since
	for _, c := range changes {
		if c.Time.After(since) {
			want[c.Path] = true
		}
		if c.Time.After(newest) {
			newest = c.Time
		}
	}
	for p, v := range docs {
		if !want[p] && !f.cached(p, v) {
			want[p] = true
			delete(docs, p)
		}
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fetched := 0
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return feed.Snapshot{}, err
		}
		prev, ok := docs[p]
		if !ok || !f.cached(p, prev) {
			prev = feed.Validator{}
		}
		v, err := f.get(ctx, p, prev, f.u.opts.MaxDocSize)
		switch {
		case errors.Is(err, feed.ErrNotModified):
			continue
		case errors.Is(err, fs.ErrNotExist):
			// Listed but gone: deletions.csv will say so, or the next
			// change will bring it back.
			delete(docs, p)
			continue
		case err != nil:
			return feed.Snapshot{}, fmt.Errorf("redhat-vex: fetch %s: %w", p, err)
		}
		if prev.SHA256 != v.SHA256 {
			fetched++
		}
		docs[p] = v
	}
	removed := 0
	for p := range deletedSet(dels, changes) {
		if _, ok := docs[p]; ok {
			delete(docs, p)
			removed++
		}
	}
	for p, v := range docs {
		f.state[p] = v
	}
	f.state[sinceKey] = feed.Validator{LastModified: newest.UTC().Format(time.RFC3339Nano), FetchedAt: time.Now().UTC()}
	f.gc(archive)
	if !first && fetched == 0 && removed == 0 && !delChanged {
		return feed.Snapshot{State: f.state, Unchanged: true}, nil
	}
	return f.snapshot(archive, docs)
}

// fetchArchive downloads archive_latest.txt and the archive it names. The
// returned time is just before the archive's date: changes from that day
// on are fetched on top of it.
func (f *vexFetch) fetchArchive(ctx context.Context) (string, time.Time, error) {
	v, err := f.get(ctx, ArchiveLatestPath, feed.Validator{}, 4096)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("redhat-vex: fetch %s: %w", ArchiveLatestPath, err)
	}
	f.state[ArchiveLatestPath] = v
	data, err := os.ReadFile(f.cachePath(ArchiveLatestPath))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("redhat-vex: fetch %s: %w", ArchiveLatestPath, err)
	}
	name := strings.TrimSpace(string(data))
	m := archiveFile.FindStringSubmatch(name)
	if m == nil {
		return "", time.Time{}, fmt.Errorf("redhat-vex: fetch: %s names %q, not a csaf_vex_<date>.tar.zst archive", ArchiveLatestPath, name)
	}
	av, err := f.get(ctx, name, feed.Validator{}, 0)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("redhat-vex: fetch archive %s: %w", name, err)
	}
	f.state[name] = av
	day, err := time.Parse(time.DateOnly, m[1])
	if err != nil {
		// The name matched the pattern but is no calendar day: date the
		// archive by its Last-Modified instead.
		lm, lerr := http.ParseTime(av.LastModified)
		if lerr != nil {
			return "", time.Time{}, fmt.Errorf("redhat-vex: fetch archive %s: cannot date it: %v; Last-Modified %q", name, err, av.LastModified)
		}
		day = lm.UTC().Truncate(24 * time.Hour)
	}
	return name, day.Add(-time.Nanosecond), nil
}

// gc removes cached archives and documents that neither the previous nor
// the new state names, and what an interrupted run left (snapshots,
// partial downloads). Fetch runs under the DB directory's lock.
func (f *vexFetch) gc(archive string) {
	keep := func(p string) bool {
		_, inPrev := f.prev[p]
		_, inNew := f.state[p]
		return inPrev || inNew || p == archive
	}
	entries, _ := os.ReadDir(f.cache)
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, ".snapshot-") || strings.HasPrefix(n, ".part-"):
			_ = os.RemoveAll(filepath.Join(f.cache, n))
		case !e.IsDir() && archiveFile.MatchString(n) && !keep(n):
			_ = os.Remove(filepath.Join(f.cache, n))
		case e.IsDir() && len(n) == 4 && strings.Trim(n, "0123456789") == "":
			docs, _ := os.ReadDir(filepath.Join(f.cache, n))
			for _, d := range docs {
				if p := n + "/" + d.Name(); !keep(p) || strings.HasPrefix(d.Name(), ".part-") {
					_ = os.Remove(f.cachePath(p))
				}
			}
		}
	}
}

// snapshot links the files Parse reads into a new directory under the
// cache (copying when links are not possible), laid out as upstream.
func (f *vexFetch) snapshot(archive string, docs map[string]feed.Validator) (feed.Snapshot, error) {
	dir, err := os.MkdirTemp(f.cache, ".snapshot-")
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("redhat-vex: fetch: snapshot: %w", err)
	}
	fail := func(err error) (feed.Snapshot, error) {
		os.RemoveAll(dir)
		return feed.Snapshot{}, fmt.Errorf("redhat-vex: fetch: snapshot: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ArchiveLatestPath), []byte(archive+"\n"), 0o644); err != nil {
		return fail(err)
	}
	files := []string{archive, ChangesPath}
	if _, err := os.Stat(f.cachePath(DeletionsPath)); err == nil {
		files = append(files, DeletionsPath)
	}
	for p := range docs {
		files = append(files, p)
	}
	for _, p := range files {
		if err := linkOrCopy(f.cachePath(p), filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			return fail(err)
		}
	}
	return feed.Snapshot{FS: os.DirFS(dir), State: f.state, Close: func() error { return os.RemoveAll(dir) }}, nil
}

func exists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
