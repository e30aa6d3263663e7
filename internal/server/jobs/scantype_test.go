package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
)

// TestBasicScanTypeVersionRecorded: a basic scan's result records the
// BASIC_SCAN_TYPE_VERSION in force; an enhanced scan's does not.
func TestBasicScanTypeVersionRecorded(t *testing.T) {
	s := sqliteStore(t)
	ctx := context.Background()
	basic := "sha256:0000000000000000000000000000000000000000000000000000000000000b01"
	enhanced := "sha256:0000000000000000000000000000000000000000000000000000000000000e01"
	if err := s.StartScan(ctx, "app", basic, false, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.StartScan(ctx, "app", enhanced, true, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	stop := runPool(t, Options{Queue: s, Images: fakeImages{}, Scanner: &countingScanner{}, PollInterval: 20 * time.Millisecond,
		BasicScanTypeVersion: func(context.Context) (string, error) { return "CLAIR", nil }})
	defer stop()
	got := waitScans(t, s, "app", []string{basic, enhanced}, 10*time.Second)
	for d, want := range map[string]string{basic: "CLAIR", enhanced: ""} {
		var res scanning.Result
		if err := json.Unmarshal(got[d].Result, &res); err != nil {
			t.Fatalf("%s: %v (status %s)", d, err, got[d].Status)
		}
		if res.BasicScanTypeVersion != want {
			t.Errorf("%s: basicScanTypeVersion = %q, want %q", d, res.BasicScanTypeVersion, want)
		}
	}
}
