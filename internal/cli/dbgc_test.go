package cli

import (
	"runtime/debug"
	"testing"
)

// TestBuildGC: a build tunes the collector unless GOGC or GOMEMLIMIT is
// set, and its restore function puts the previous settings back.
func TestBuildGC(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		tuned bool
	}{
		{"default", nil, true},
		{"GOGC set", map[string]string{"GOGC": "50"}, false},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pct0 := debug.SetGCPercent(100)
			lim0 := debug.SetMemoryLimit(-1)
			defer debug.SetGCPercent(pct0)
			restore := buildGC(func(k string) string { return tc.env[k] })
			pct, lim := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
			debug.SetGCPercent(pct)
			if tuned := pct == 300 && lim == 160<<20; tuned != tc.tuned {
				t.Errorf("GOGC %d, limit %d: tuned %v, want %v", pct, lim, tuned, tc.tuned)
			}
			restore()
			if pct, lim := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); pct != 100 || lim != lim0 {
				t.Errorf("after restore: GOGC %d, limit %d; want 100, %d", pct, lim, lim0)
			}
			debug.SetGCPercent(100)
		})
	}
}
