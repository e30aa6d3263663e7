// Package testutil holds helpers shared by tests: locating ../shared beside
// the repository and skipping clearly when it is absent.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testutil: go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Shared returns ../shared/<sub> beside the repository, or skips the test
// with a clear message when it is absent.
func Shared(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real-data test skipped: %s not found (the shared data set lives beside the repository as ../shared)", p)
	}
	return p
}
