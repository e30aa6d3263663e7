package squash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkNest walks path-depth bombs: depth nested directories, each with a
// file. With the default limits a nest deeper than MaxPathDepth is refused
// when the walk reaches that depth; with the limits lifted ("unlimited") the
// walk is linear in the bytes of the names, which grow with the square of
// the depth. It reports the layer's compressed size and the process's peak
// RSS (VmHWM, monotonic over the run: run one case per process for its own
// figure).
func BenchmarkNest(b *testing.B) {
	for _, tc := range []struct {
		depth     int
		unlimited bool
	}{{1000, false}, {4096, false}, {16384, false}, {2048, true}, {4096, true}} {
		name := fmt.Sprintf("depth=%d", tc.depth)
		if tc.unlimited {
			name += "/unlimited"
		}
		b.Run(name, func(b *testing.B) {
			blob := nest(b, tc.depth, true)
			lim := Limits{}
			if tc.unlimited {
				lim = Limits{MaxPathDepth: 1 << 20, MaxPathLength: 1 << 20}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_, err := Squash(context.Background(), []Layer{layerOf("L", blob)}, Options{Limits: lim, Want: func(string, fs.FileInfo) Want { return Stream }})
				var le *LimitError
				switch {
				case tc.unlimited && err != nil, !tc.unlimited && tc.depth > 1024 && !errors.As(err, &le), !tc.unlimited && tc.depth <= 1024 && err != nil:
					b.Fatalf("depth %d: %v", tc.depth, err)
				}
			}
			b.ReportMetric(float64(len(blob))/1024, "layer-KiB")
			if hwm := vmHWM(); hwm > 0 {
				b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// vmHWM is the process's peak resident set size in KiB, or 0.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
