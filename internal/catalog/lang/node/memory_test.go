package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
)

// writeBigLock writes a lockfile v3 of at least size bytes shaped like a
// real monorepo's: many entries, few distinct name@version pairs (the same
// packages nested under many parents). It returns the entry count and the
// distinct package count.
func writeBigLock(t *testing.T, p string, size int64) (entries, distinct int) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: w}
	fmt.Fprint(cw, `{"name":"monorepo","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"monorepo","version":"1.0.0"}`)
	seen := map[string]bool{}
	for cw.n < size {
		name := fmt.Sprintf("dep-%d", entries%2000)
		version := fmt.Sprintf("1.%d.0", (entries/2000)%5)
		seen[name+"@"+version] = true
		fmt.Fprintf(cw, `,"node_modules/parent-%d/node_modules/%s":{"version":%q,"resolved":"https://registry.npmjs.org/%s/-/%s-%s.tgz","integrity":"sha512-%088d","dev":true,"license":"MIT","dependencies":{"a":"^1.0.0","b":"^2.0.0","c":"~3.1.0"},"engines":{"node":">=8"},"funding":{"url":"https://github.com/sponsors/someone"}}`,
			entries, name, version, name, name, version, entries)
		entries++
	}
	fmt.Fprint(cw, "}}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return entries, len(seen)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// peakReader samples the live heap every 256 KiB read.
type peakReader struct {
	r          io.ReaderAt
	next, peak uint64
	read       uint64
}

func (p *peakReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	p.read += uint64(n)
	if p.read >= p.next {
		p.next = p.read + 256<<10
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		p.peak = max(p.peak, m.HeapAlloc)
	}
	return n, err
}

// TestPackageLockBoundedMemory parses a ~50 MB package-lock.json streamed
// from disk and checks that the live heap never grows by more than a small
// fraction of the file. Encoding/json's Unmarshal of the same file would
// hold several times the file size.
func TestPackageLockBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 50 MB file")
	}
	const size = 50 << 20
	p := filepath.Join(t.TempDir(), "package-lock.json")
	entries, distinct := writeBigLock(t, p, size)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pr := &peakReader{r: f}
	start := time.Now()
	res, err := New().CatalogFile(context.Background(), catalog.File{Path: "app/package-lock.json", Info: info, R: pr, Size: info.Size()})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("CatalogFile: %v %q", err, res.Warnings)
	}
	if len(res.Packages) != distinct {
		t.Errorf("got %d packages, want %d distinct", len(res.Packages), distinct)
	}
	growth := int64(pr.peak) - int64(before.HeapAlloc)
	t.Logf("package-lock.json of %.1f MB, %d entries, %d distinct packages: peak live heap growth %.2f MB, total allocated %.0f MB, %v",
		float64(info.Size())/(1<<20), entries, distinct, float64(growth)/(1<<20), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), elapsed.Round(time.Millisecond))
	// HeapAlloc includes garbage not yet collected, so allow GC headroom
	// (GOGC=100 lets the heap reach twice the live set) on top of the
	// packages themselves and the dependency graph's per-entry record (a
	// folder hash chain and a dependency-set id, about 40 bytes an entry:
	// 9 MB before the graph, 22-24 MB with it); a parser holding the document
	// would need > 50 MB.
	if limit := int64(32 << 20); growth > limit {
		t.Errorf("peak heap growth %d bytes, want under %d for a %d byte file", growth, limit, info.Size())
	}
}
