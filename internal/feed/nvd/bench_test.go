package nvd

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// BenchmarkParseFeeds decodes and converts every shared NVD feed (1.1 and
// 2.0), gunzipped once before the timer, from memory:
//
//	go test -run XXX -bench ParseFeeds -benchtime 1x ./internal/feed/nvd/
func BenchmarkParseFeeds(b *testing.B) {
	dir := testutil.Shared(b, "feeds/nvd/feeds/json/cve")
	fsys := fstest.MapFS{}
	type job struct {
		fm   format
		name string
	}
	var jobs []job
	size := 0
	for _, fm := range formats {
		ents, err := os.ReadDir(filepath.Join(dir, fm.dir))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ents {
			if !fm.re.MatchString(e.Name()) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(dir, fm.dir, e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(zr); err != nil {
				b.Fatal(err)
			}
			name := fm.dir + "/" + strings.TrimSuffix(e.Name(), ".gz")
			fsys[name] = &fstest.MapFile{Data: buf.Bytes()}
			jobs = append(jobs, job{fm, name})
			size += buf.Len()
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	feedtest.CPUPerOp(b, func() {
		var st feed.Stats
		recs := 0
		for _, j := range jobs {
			if err := parseFeed(context.Background(), fsys, j.fm, j.name, &st, func(*advisory.Advisory) error { recs++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(recs), "records")
	})
}
