package ubuntu

import (
	"bytes"
	"compress/bzip2"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// The benchmarks decompress the shared files once, before the timer, and
// measure the decoding (bzip2 is another matter). On the 2-core machine:
//
//	go test -run XXX -bench 'UCTConvert|OVALParse' -benchtime 1x ./internal/feed/ubuntu/

// BenchmarkUCTConvert decodes and converts every record of the shared UCT
// bundle (51,478 files, 712 MB of JSON).
func BenchmarkUCTConvert(b *testing.B) {
	dir := testutil.Shared(b, "feeds/ubuntu")
	f, err := os.Open(filepath.Join(dir, UCTBundle))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	files, err := feedtest.TarFiles(bzip2.NewReader(f))
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 0, len(files))
	size := 0
	for n, d := range files {
		if strings.HasSuffix(n, ".json") {
			names = append(names, n)
			size += len(d)
		}
	}
	sort.Strings(names)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	feedtest.CPUPerOp(b, func() {
		recs := 0
		for _, n := range names {
			if a, _ := convertUCT(files[n]); a != nil {
				recs++
			}
		}
		b.ReportMetric(float64(recs), "records")
	})
}

// BenchmarkOVALParse parses the shared Ubuntu OVAL files (four releases,
// 2021) from memory.
func BenchmarkOVALParse(b *testing.B) {
	dir := testutil.Shared(b, "feeds/ubuntu/oval-2021-08-31")
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	fsys := fstest.MapFS{}
	size := 0
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".bz2")
		if !ok {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(bzip2.NewReader(bytes.NewReader(raw))); err != nil {
			b.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: buf.Bytes()}
		size += buf.Len()
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	feedtest.CPUPerOp(b, func() {
		recs := 0
		_, err := NewOVAL().Parse(context.Background(), fsys, func(*advisory.Advisory) error { recs++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(recs), "records")
	})
}
