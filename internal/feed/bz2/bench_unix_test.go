//go:build unix

package bz2

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// cpuTime is the user+sys CPU time of this process and its waited-for
// children.
func cpuTime(b *testing.B) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

// BenchmarkShared decompresses the shared mirror's two largest bundles
// with each decompressor and reports the CPU (user+sys, children included)
// per run:
//
//	go test -run '^$' -bench Shared -benchtime 1x ./internal/feed/bz2
//
// It skips without the shared data.
func BenchmarkShared(b *testing.B) {
	feeds := testutil.Shared(b, "feeds")
	for _, rel := range []string{"ubuntu/ubuntu-cve-tracker/uct-cve-json.tar.bz2", "debian/osv/Debian-all.osv.tar.bz2"} {
		for name, d := range decompressors(b) {
			b.Run(filepath.Base(rel)+"/"+name, func(b *testing.B) {
				start := cpuTime(b)
				var n int64
				for b.Loop() {
					f, err := os.Open(filepath.Join(feeds, rel))
					if err != nil {
						b.Fatal(err)
					}
					rc, err := d.NewReader(context.Background(), struct{ io.Reader }{f}, rel)
					if err != nil {
						b.Fatal(err)
					}
					n, err = io.Copy(io.Discard, rc)
					rc.Close()
					f.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(n)
				b.ReportMetric((cpuTime(b)-start).Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}
