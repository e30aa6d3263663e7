//go:build !unix

package vulndb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// dirLock on systems without flock(2) is an exclusively created LOCK.pid
// file. Unlike flock it survives a crash: remove it by hand then.
type dirLock struct{ path string }

func lockDir(dir string) (*dirLock, error) {
	p := filepath.Join(dir, lockFile+".pid")
	deadline := time.Now().Add(10 * time.Minute)
	for {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return &dirLock{path: p}, nil
		}
		if !errors.Is(err, fs.ErrExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("vulndb: lock %s (another update or pull running? remove %s if not): %w", dir, p, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *dirLock) unlock() { _ = os.Remove(l.path) }
