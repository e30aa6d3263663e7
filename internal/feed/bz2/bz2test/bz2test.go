// Package bz2test holds test helpers for the parsers that decompress
// through internal/feed/bz2: the decompressors to run them with, and a
// check that no child process is left behind.
package bz2test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
)

// Decompressors returns Go's decompressor ("go") and every program of
// bz2.Programs found on $PATH, by program name. It skips the test when
// none is found: there would be nothing to compare Go's with.
func Decompressors(t testing.TB) map[string]bz2.Decompressor {
	t.Helper()
	ds := map[string]bz2.Decompressor{"go": bz2.Go()}
	for _, p := range bz2.Programs() {
		if full, err := exec.LookPath(p); err == nil {
			ds[p] = bz2.External(full)
		}
	}
	if len(ds) == 1 {
		t.Skipf("none of %v on $PATH: no external bzip2 decompressor to compare with Go's", bz2.Programs())
	}
	return ds
}

// Children lists the pids of this process's children, zombies included
// (/proc/self/task/*/children). It skips the test off Linux.
func Children(t testing.TB) []int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("child processes are listed from /proc on Linux only (GOOS %s)", runtime.GOOS)
	}
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no /proc/self/task/*/children (kernel without CONFIG_PROC_CHILDREN)")
	}
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// NoChildren fails the test when this process has a child process.
func NoChildren(t testing.TB) {
	t.Helper()
	if pids := Children(t); len(pids) > 0 {
		t.Errorf("child processes left behind: %v", pids)
	}
}
