package java

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// overlappingZip builds the "better zip bomb" shape: one local file of
// stream (a raw deflate stream inflating to size bytes) and a central
// directory of n entries named by name(i), every one pointing at that same
// local file.
func overlappingZip(stream []byte, size uint64, n int, name func(int) string) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	local := []byte("bomb.jar")
	// Local file header.
	b.Write(le.AppendUint32(nil, 0x04034b50))
	b.Write(le.AppendUint16(nil, 20))                  // version needed
	b.Write(le.AppendUint16(nil, 0))                   // flags
	b.Write(le.AppendUint16(nil, 8))                   // deflate
	b.Write(le.AppendUint32(nil, 0))                   // time, date
	b.Write(le.AppendUint32(nil, 0))                   // crc-32 (never reached)
	b.Write(le.AppendUint32(nil, uint32(len(stream)))) // compressed size
	b.Write(le.AppendUint32(nil, uint32(size)))        // uncompressed size
	b.Write(le.AppendUint16(nil, uint16(len(local))))  // name length
	b.Write(le.AppendUint16(nil, 0))                   // extra length
	b.Write(local)
	b.Write(stream)
	cdStart := b.Len()
	for i := range n {
		nm := []byte(name(i))
		b.Write(le.AppendUint32(nil, 0x02014b50))
		b.Write(le.AppendUint16(nil, 20)) // made by
		b.Write(le.AppendUint16(nil, 20)) // needed
		b.Write(le.AppendUint16(nil, 0))
		b.Write(le.AppendUint16(nil, 8))
		b.Write(le.AppendUint32(nil, 0))
		b.Write(le.AppendUint32(nil, 0))
		b.Write(le.AppendUint32(nil, uint32(len(stream))))
		b.Write(le.AppendUint32(nil, uint32(size)))
		b.Write(le.AppendUint16(nil, uint16(len(nm))))
		b.Write(le.AppendUint16(nil, 0)) // extra
		b.Write(le.AppendUint16(nil, 0)) // comment
		b.Write(le.AppendUint16(nil, 0)) // disk
		b.Write(le.AppendUint16(nil, 0)) // internal attributes
		b.Write(le.AppendUint32(nil, 0)) // external attributes
		b.Write(le.AppendUint32(nil, 0)) // local header offset: all the same
		b.Write(nm)
	}
	cdSize := b.Len() - cdStart
	b.Write(le.AppendUint32(nil, 0x06054b50))
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint16(nil, uint16(n)))
	b.Write(le.AppendUint16(nil, uint16(n)))
	b.Write(le.AppendUint32(nil, uint32(cdSize)))
	b.Write(le.AppendUint32(nil, uint32(cdStart)))
	b.Write(le.AppendUint16(nil, 0))
	return b.Bytes()
}

// zeroStream returns a raw deflate stream of size zero bytes.
func zeroStream(tb testing.TB, size int) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		tb.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(chunk) {
		if _, err := zw.Write(chunk[:min(left, len(chunk))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

var (
	bombOnce sync.Once
	bomb     []byte
)

// bigBomb is the case: 2,000 central-directory entries, named as
// nested jars, over one 100 MiB deflate stream.
func bigBomb(tb testing.TB) []byte {
	bombOnce.Do(func() {
		const size = 100 << 20
		bomb = overlappingZip(zeroStream(tb, size), size, 2000, func(i int) string { return fmt.Sprintf("BOOT-INF/lib/x%04d.jar", i) })
	})
	return bomb
}

// vmHWM returns the process's peak resident set size in bytes, from
// /proc/self/status (0 where it is not available).
func vmHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkOverlappingZip measures the Java cataloger on the 2,000-entry
// overlapping zip. Besides time and allocations it reports the process's
// peak RSS (VmHWM; run this benchmark alone, -bench '^BenchmarkOverlappingZip$',
// for the figure to be its own) and the peak heap in use sampled by the
// runtime's GC statistics.
func BenchmarkOverlappingZip(b *testing.B) {
	z := bigBomb(b)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var warns int
	for range b.N {
		_, w, err := ParseArchive(context.Background(), bytes.NewReader(z), int64(len(z)), "opt/app/bomb.jar")
		if err != nil {
			b.Fatal(err)
		}
		warns = len(w)
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(len(z)), "input-bytes")
	b.ReportMetric(float64(vmHWM())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
	b.ReportMetric(float64(warns), "warnings")
}
