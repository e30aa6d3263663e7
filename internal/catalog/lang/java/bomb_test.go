package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
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
// overlapping zip (refused: refused/op is 1). Besides time and allocations it reports the process's
// peak RSS (VmHWM; run this benchmark alone, -bench '^BenchmarkOverlappingZip$',
// for the figure to be its own) and the peak heap in use sampled by the
// runtime's GC statistics.
func BenchmarkOverlappingZip(b *testing.B) {
	z := bigBomb(b)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var warns, refused int
	for range b.N {
		// The archive refused is an error of ParseArchive (CatalogFile
		// turns it into the file's warning).
		_, w, err := ParseArchive(context.Background(), bytes.NewReader(z), int64(len(z)), "opt/app/bomb.jar")
		warns = len(w)
		if err != nil {
			refused++
			warns++
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(len(z)), "input-bytes")
	b.ReportMetric(float64(vmHWM())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
	b.ReportMetric(float64(warns), "warnings")
	b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
}

// TestOverlappingZip: the 2,000-entry overlapping zip is refused with one
// warning naming it, before anything is inflated, while a normal jar
// beside it (another file of the same image) and one nested next to it
// inside an outer archive are still cataloged.
func TestOverlappingZip(t *testing.T) {
	z := overlappingZip(zeroStream(t, 1<<20), 1<<20, 2000, func(i int) string { return fmt.Sprintf("BOOT-INF/lib/x%04d.jar", i) })
	c := New()
	res, err := c.CatalogFile(context.Background(), catalog.File{Path: "opt/app/bomb.jar", R: bytes.NewReader(z), Size: int64(len(z))})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`java: opt/app/bomb.jar: refused: entries share compressed bytes: 1999 entries overlap others (first "BOOT-INF/lib/x0000.jar" and "BOOT-INF/lib/x0001.jar"), the overlapping-entry zip bomb shape`}
	if d := cmp.Diff(want, res.Warnings); d != "" || len(res.Packages) != 0 {
		t.Errorf("packages %v, warnings (-want +got):\n%s", res.Packages, d)
	}
	good := jar(t, pom("org.example", "good", "1.0"))
	res, err = c.CatalogFile(context.Background(), catalog.File{Path: "opt/app/good-1.0.jar", R: bytes.NewReader(good), Size: int64(len(good))})
	if err != nil || len(res.Packages) != 1 || res.Packages[0].Name != "org.example:good" || len(res.Warnings) != 0 {
		t.Fatalf("the normal jar: %+v, %v", res, err)
	}
	// Nested: the bomb is refused, its sibling and the outer archive kept.
	outer := jar(t, pom("org.example", "outer", "2.0"), nested("lib/bomb.jar", z, true), nested("lib/good-1.0.jar", good, false))
	got, warns, err := parse(t, outer)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"org.example:outer@2.0 a.jar", "org.example:good@1.0 a.jar!lib/good-1.0.jar"}, got); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0], "a.jar!lib/bomb.jar: refused: entries share compressed bytes: ") {
		t.Errorf("warnings %q", warns)
	}
}

// TestEntryPastTheEnd: an entry whose data runs past the archive refuses
// the archive.
func TestEntryPastTheEnd(t *testing.T) {
	z := overlappingZip(zeroStream(t, 1000), 1000, 1, func(int) string { return "META-INF/maven/g/a/pom.properties" })
	// Make the one entry claim more compressed bytes than the file holds.
	cd := bytes.LastIndex(z, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(z[cd+20:], uint32(len(z)))
	_, _, err := parse(t, z)
	if err == nil || !strings.Contains(err.Error(), "past the end of the") {
		t.Fatalf("error %v, want a refusal", err)
	}
}

// TestMetaEntries: a metadata entry that cannot be read costs that entry:
// the other packages of the archive are still reported.
func TestMetaEntries(t *testing.T) {
	tests := []struct {
		name  string
		extra entry
		want  []string
		warns []string
	}{
		{"pom without a version", entry{name: "META-INF/maven/g/nover/pom.properties", data: []byte("groupId=g\nartifactId=nover\n")},
			[]string{"g:good@1.0 a.jar", "g:nover@ a.jar"},
			[]string{"a.jar: META-INF/maven/g/nover/pom.properties: g:nover has no version; kept with an empty version"}},
		{"pom without an artifact", entry{name: "META-INF/maven/g/x/pom.properties", data: []byte("groupId=g\nversion=1\n")},
			[]string{"g:good@1.0 a.jar"},
			[]string{`a.jar: META-INF/maven/g/x/pom.properties: parse pom.properties: want groupId, artifactId and version, got "g", "", "1"`}},
		{"oversized pom", entry{name: "META-INF/maven/g/big/pom.properties", data: bytes.Repeat([]byte("#"), MaxMetaSize+1)},
			[]string{"g:good@1.0 a.jar"},
			[]string{fmt.Sprintf("a.jar: META-INF/maven/g/big/pom.properties: input too large: %d bytes, the limit is %d; skipped", MaxMetaSize+1, MaxMetaSize)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := parse(t, jar(t, tt.extra, pom("g", "good", "1.0")))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, warns); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestInflationBudget: many distinct (non-overlapping) compressed nested
// archives stop at the per-file budget, with a warning, instead of each
// being inflated.
func TestInflationBudget(t *testing.T) {
	zeros := make([]byte, small.nested)
	var es []entry
	for i := range 10 {
		es = append(es, nested(fmt.Sprintf("lib/z%d.jar", i), zeros, false))
	}
	_, warns, err := parse(t, jar(t, es...))
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for _, w := range warns {
		if strings.Contains(w, "entries read from this file pass") {
			over++
		}
	}
	if over < 5 {
		t.Errorf("%d of 10 nested archives skipped for the budget (%d bytes of %d each), want at least 5: %q", over, small.totalNested, small.nested, warns)
	}
}

// distinctBombs is a jar of n nested jars, each its own (non-overlapping)
// deflate stream of size zero bytes: the cost the per-file budget bounds.
func distinctBombs(tb testing.TB, n int, size uint64) []byte {
	stream := zeroStream(tb, int(size))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("BOOT-INF/lib/z%02d.jar", i), Method: zip.Deflate, CompressedSize64: uint64(len(stream)), UncompressedSize64: size, CRC32: 0})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(stream); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDistinctBombs measures 20 nested jars of 100 MiB of zeros each,
// deflated separately (no overlap): MaxNestedSize and MaxTotalNested bound
// what is inflated.
func BenchmarkDistinctBombs(b *testing.B) {
	z := distinctBombs(b, 20, 100<<20)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var warns int
	for range b.N {
		_, w, err := ParseArchive(context.Background(), bytes.NewReader(z), int64(len(z)), "opt/app/bombs.jar")
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

// TestNestedRatio: a nested archive that inflates more than MaxNestedRatio
// times its compressed size is skipped with a warning once it passes that.
func TestNestedRatio(t *testing.T) {
	lim := limits{nested: 64 << 20, totalNested: 1 << 30, depth: 4}
	b := jar(t, pom("g", "outer", "1"), nested("lib/zeros-1.0.jar", make([]byte, 8<<20), false))
	pkgs, warns, err := parseArchive(context.Background(), bytes.NewReader(b), int64(len(b)), "a.jar", lim)
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("%v, %v", pkgs, err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "a.jar!lib/zeros-1.0.jar: skipped: input too large: inflates to more than 100 times its") {
		t.Errorf("warnings %q", warns)
	}
}
