package redhat

import (
	"compress/gzip"
	"context"
	"os"
	"path"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// BenchmarkParseCVE parses the shared Security Data API bundle, unpacked
// once before the timer into securitydata/cve/*.json in memory:
//
//	go test -run XXX -bench ParseCVE -benchtime 1x ./internal/feed/redhat/
func BenchmarkParseCVE(b *testing.B) {
	dir := testutil.Shared(b, "feeds/redhat")
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(BundlePath)))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	files, err := feedtest.TarFiles(zr)
	if err != nil {
		b.Fatal(err)
	}
	fsys := fstest.MapFS{}
	size := 0
	for n, d := range files {
		if path.Dir(n) == "cve" {
			fsys[CVEDir+"/"+path.Base(n)] = &fstest.MapFile{Data: d}
			size += len(d)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	feedtest.CPUPerOp(b, func() {
		recs := 0
		if _, err := New().Parse(context.Background(), fsys, func(*advisory.Advisory) error { recs++; return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(recs), "records")
	})
}
