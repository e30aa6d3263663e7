package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// ecrFindings decodes the basic findings of `scan --format json` into
// id/package -> attributes.
func ecrFindings(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	var resp struct {
		ImageScanFindings struct {
			Findings []struct {
				Name       string
				Attributes []struct{ Key, Value string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, f := range resp.ImageScanFindings.Findings {
		m := map[string]string{}
		for _, a := range f.Attributes {
			m[a.Key] = a.Value
		}
		got[f.Name+"/"+m["package_name"]] = m
	}
	return got
}

// TestScanFixChannelRealImage scans the shared Ubuntu 16.04 image with the
// DB of ../shared/feeds (the real Ubuntu CVE Tracker bundle among the
// rest): CVE-2016-10228 on libc-bin is fixed only through Ubuntu Pro
// esm-infra, the marker reaches JSON and the table, and --ignore-fix-channel
// hides exactly the marked findings.
func TestScanFixChannelRealImage(t *testing.T) {
	img := filepath.Join(testutil.Shared(t, "images"), "ubuntu-16.04.tar")
	db := realDB.Dir(t)

	code, out, stderr := runCLI(t, "scan", img, "--db", db, "--format", "json")
	if code != ExitOK {
		t.Fatalf("scan: exit %d (%s)", code, stderr)
	}
	all := ecrFindings(t, out)
	f := all["CVE-2016-10228/libc-bin"]
	if f["fixed_version"] != "2.23-0ubuntu11.3+esm3" || f["fix_channel"] != "esm-infra" || f["status"] != "FIXABLE" {
		t.Errorf("CVE-2016-10228 libc-bin: %v; want FIXABLE at 2.23-0ubuntu11.3+esm3 through esm-infra", f)
	}
	marked := map[string]int{}
	for k, a := range all {
		if ch := a["fix_channel"]; ch != "" {
			marked[ch]++
			if a["fixed_version"] == "" || a["status"] != "FIXABLE" {
				t.Errorf("%s: channel %s without a fix: %v", k, ch, a)
			}
		}
	}
	t.Logf("ubuntu-16.04: %d findings, marked per channel %v", len(all), marked)
	if marked["esm-infra"] == 0 {
		t.Fatalf("no esm-infra finding")
	}

	_, table, _ := runCLI(t, "scan", img, "--db", db)
	if !strings.Contains(table, "2.23-0ubuntu11.3+esm3 (esm-infra)") || !strings.Contains(table, "pro-only: esm-infra ") {
		t.Errorf("table has no esm-infra marker:\n%s", table)
	}

	code, out, stderr = runCLI(t, "scan", img, "--db", db, "--format", "json", "--ignore-fix-channel", "esm-infra,esm-apps", "--ignore-fix-channel", "esm-infra-legacy")
	if code != ExitOK {
		t.Fatalf("scan --ignore-fix-channel: exit %d (%s)", code, stderr)
	}
	kept := ecrFindings(t, out)
	for k, a := range kept {
		if a["fix_channel"] != "" {
			t.Errorf("%s kept with channel %s", k, a["fix_channel"])
		}
	}
	total := 0
	for _, n := range marked {
		total += n
	}
	if len(kept) != len(all)-total {
		t.Errorf("--ignore-fix-channel kept %d of %d findings, want %d (all but the %d marked)", len(kept), len(all), len(all)-total, total)
	}
	if code, _, stderr := runCLI(t, "scan", img, "--db", db, "--ignore-fix-channel", "esm"); code != ExitError || !strings.Contains(stderr, "unknown fix channel") {
		t.Errorf("--ignore-fix-channel esm: exit %d (%s), want a usage error", code, stderr)
	}
}
