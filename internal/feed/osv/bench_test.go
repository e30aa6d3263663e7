package osv

import (
	"compress/bzip2"
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

// BenchmarkParse parses the shared Debian bundle and every language
// ecosystem's all.zip, each rewritten once before the timer as a zip
// without compression, so that the figure is the decoding's:
//
//	go test -run XXX -bench 'Parse$' -benchtime 1x ./internal/feed/osv/
func BenchmarkParse(b *testing.B) {
	feeds := testutil.Shared(b, "feeds")
	type job struct {
		u    *Updater
		fsys fstest.MapFS
	}
	var jobs []job
	size := 0
	store := func(u *Updater, files map[string][]byte) {
		for _, d := range files {
			size += len(d)
		}
		z, err := feedtest.StoredZip(files)
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, job{u, fstest.MapFS{u.zipPath(): &fstest.MapFile{Data: z}}})
	}
	f, err := os.Open(filepath.Join(feeds, "debian", "osv", "Debian-all.osv.tar.bz2"))
	if err != nil {
		b.Fatal(err)
	}
	tarFiles, err := feedtest.TarFiles(bzip2.NewReader(f))
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	deb := map[string][]byte{}
	for n, d := range tarFiles {
		deb[path.Base(n)] = d
	}
	store(New("Debian"), deb)
	for _, eco := range LanguageEcosystems() {
		raw, err := os.ReadFile(filepath.Join(feeds, "osv", eco, "all.zip"))
		if err != nil {
			b.Fatal(err)
		}
		files, err := feedtest.ZipFiles(raw)
		if err != nil {
			b.Fatal(err)
		}
		store(New(eco), files)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	feedtest.CPUPerOp(b, func() {
		recs := 0
		for _, j := range jobs {
			if _, err := j.u.Parse(context.Background(), j.fsys, func(*advisory.Advisory) error { recs++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(recs), "records")
	})
}
