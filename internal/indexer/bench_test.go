package indexer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// benchIndex indexes the image at path b.N times with opts.
func benchIndex(b *testing.B, path string, opts Options) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Skipf("benchmark image missing: %v", err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src, err := source.Resolve(context.Background(), path, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Index(context.Background(), src, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexLargestShared squashes and catalogs the largest shared image
// (debian-12, 28 MB compressed, a whole minbase rootfs).
func BenchmarkIndexLargestShared(b *testing.B) {
	benchIndex(b, filepath.Join(testutil.Shared(b, "images"), "debian-12.tar"), benchOptions())
}

// BenchmarkIndexSynthetic indexes bench/out/synthetic.tar (go run ./bench/mkimage).
func BenchmarkIndexSynthetic(b *testing.B) {
	benchIndex(b, filepath.Join(testutil.RepoRoot(b), "bench", "out", "synthetic.tar"), benchOptions())
}
