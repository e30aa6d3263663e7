package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirCache is a LayerCache in a directory: one file per key, written to a
// temporary name and renamed into place, so that readers never see half a
// value and concurrent writers of the same key are harmless.
type DirCache struct {
	Dir string
}

func (c DirCache) path(key string) string {
	h := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(h[:])
	return filepath.Join(c.Dir, name[:2], name)
}

// Get implements LayerCache.
func (c DirCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	return b, true, nil
}

// Put implements LayerCache.
func (c DirCache) Put(_ context.Context, key string, value []byte) error {
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	if _, err := f.Write(value); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("layer cache: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layer cache: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}
