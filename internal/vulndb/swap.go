package vulndb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the DB directory.
const (
	currentFile = "CURRENT"
	lockFile    = "LOCK"
	dbPrefix    = "db-"
	dbSuffix    = ".sqlite"
	tmpSuffix   = ".tmp"
	// CacheDir holds, per updater that keeps files between runs
	// (feed.Cacher), a directory named by the updater.
	CacheDir = "cache"
	// maxCurrentSize bounds the read of CURRENT (it holds one file name).
	maxCurrentSize = 4096
)

// ErrNoDB is returned by Open when the directory holds no DB yet.
var ErrNoDB = errors.New("no vulnerability DB (run `stowaway db update` or `stowaway db pull`)")

// EnvDir overrides DefaultDir.
const EnvDir = "STOWAWAY_DB_DIR"

// DefaultDir is where the DB lives unless the caller says otherwise:
// $STOWAWAY_DB_DIR when set, else <user cache dir>/stowaway/db, i.e.
// $XDG_CACHE_HOME/stowaway/db or ~/.cache/stowaway/db on Linux.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("vulndb: default directory: %w (set %s)", err, EnvDir)
	}
	return filepath.Join(c, "stowaway", "db"), nil
}

// readCurrent returns the file name CURRENT points to, or "" when there is none.
func readCurrent(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("vulndb: read CURRENT: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxCurrentSize+1)
	n, _ := f.Read(buf)
	if n > maxCurrentSize {
		return "", fmt.Errorf("vulndb: read CURRENT: longer than %d bytes", maxCurrentSize)
	}
	name := strings.TrimSpace(string(buf[:n]))
	if !validDBName(name) {
		return "", fmt.Errorf("vulndb: CURRENT names %q, not a DB file of this directory", name)
	}
	return name, nil
}

func validDBName(name string) bool {
	return strings.HasPrefix(name, dbPrefix) && strings.HasSuffix(name, dbSuffix) &&
		!strings.ContainsAny(name, `/\`) && name == filepath.Base(name)
}

// newDBName returns a fresh db-<UTC time>.sqlite name that does not exist yet
// (neither as a DB nor as a temporary file).
func newDBName(dir string, now time.Time) string {
	base := dbPrefix + now.UTC().Format("20060102T150405.000000000Z")
	name := base + dbSuffix
	for i := 1; ; i++ {
		_, e1 := os.Lstat(filepath.Join(dir, name))
		_, e2 := os.Lstat(filepath.Join(dir, name+tmpSuffix))
		if errors.Is(e1, fs.ErrNotExist) && errors.Is(e2, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d%s", base, i, dbSuffix)
	}
}

// publish makes tmp (a complete, closed DB file in dir) the current DB:
//
//  1. fsync tmp;
//  2. rename tmp to name (db-….sqlite) and fsync dir;
//  3. write CURRENT.tmp with name, fsync it, rename it over CURRENT, fsync dir.
//
// A crash before step 3's rename leaves CURRENT naming the old file, which was
// never modified; the orphaned new file is collected by the next gc.
func publish(dir, tmp, name string, hook func(string)) error {
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("vulndb: publish: sync: %w", err)
	}
	hook("synced")
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("vulndb: publish: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("vulndb: publish: %w", err)
	}
	hook("renamed")
	ctmp := filepath.Join(dir, currentFile+tmpSuffix)
	if err := os.WriteFile(ctmp, []byte(name+"\n"), 0o644); err != nil {
		return fmt.Errorf("vulndb: publish: write CURRENT: %w", err)
	}
	if err := syncFile(ctmp); err != nil {
		return fmt.Errorf("vulndb: publish: sync CURRENT: %w", err)
	}
	hook("current-written")
	if err := os.Rename(ctmp, filepath.Join(dir, currentFile)); err != nil {
		return fmt.Errorf("vulndb: publish: switch CURRENT: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("vulndb: publish: %w", err)
	}
	hook("switched")
	return nil
}

// gc removes DB files other than those in keep, and temporary files left by
// crashed builds. It must run under the directory lock. Readers that still
// have a removed file open keep reading it (on Linux an open file outlives
// its name).
func gc(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("vulndb: gc: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		stale := false
		switch {
		case strings.HasPrefix(name, dbPrefix) && strings.HasSuffix(name, dbSuffix+tmpSuffix):
			stale = true
		case name == currentFile+tmpSuffix:
			stale = true
		case validDBName(name):
			stale = true
			for _, k := range keep {
				if name == k {
					stale = false
				}
			}
		}
		if stale {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("vulndb: gc: %w", errors.Join(errs...))
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
