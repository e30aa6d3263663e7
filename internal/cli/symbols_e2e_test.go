package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestScanSymbolPresenceEndToEnd scans lang-java-go.tar, whose Go binary
// links none of the vulnerable symbols its records list: the table shows
// a SYMBOLS column and the symbols: count, every Go finding in the JSON
// has a symbol_presence attribute, --ignore-not-present hides the
// NOT_PRESENT ones and nothing else, and an ignore-file entry with
// symbolPresence does the same.
func TestScanSymbolPresenceEndToEnd(t *testing.T) {
	imgs := testutil.Shared(t, "images")
	db := realDB.Dir(t)
	java := filepath.Join(imgs, "lang-java-go.tar")

	code, out, stderr := runCLI(t, "scan", java, "--db", db, "--scan-type", "enhanced")
	if code != ExitOK {
		t.Fatalf("scan: exit %d (%s)", code, stderr)
	}
	for _, want := range []string{"SYMBOLS", "not present", "  symbols:  6 findings checked: 0 with vulnerable symbols present, 5 not present (--ignore-not-present hides them), 1 unknown\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	presence := func(args ...string) (total int, by map[string]int) {
		t.Helper()
		code, out, stderr := runCLI(t, append([]string{"scan", java, "--db", db, "--format", "json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("scan %v: exit %d (%s)", args, code, stderr)
		}
		var doc struct {
			ImageScanFindings struct {
				EnhancedFindings []struct {
					Details struct {
						Packages []struct {
							FilePath       string `json:"filePath"`
							SymbolPresence string `json:"symbolPresence"`
						} `json:"vulnerablePackages"`
					} `json:"packageVulnerabilityDetails"`
				} `json:"enhancedFindings"`
			} `json:"imageScanFindings"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		by = map[string]int{}
		for _, f := range doc.ImageScanFindings.EnhancedFindings {
			total++
			for _, p := range f.Details.Packages {
				if p.FilePath == "usr/local/bin/vulnapp" && p.SymbolPresence == "" {
					t.Errorf("a finding of the Go binary without symbolPresence: %+v", f)
				}
				if p.FilePath != "usr/local/bin/vulnapp" && p.SymbolPresence != "" {
					t.Errorf("a finding of %s with symbolPresence %s", p.FilePath, p.SymbolPresence)
				}
				if p.SymbolPresence != "" {
					by[p.SymbolPresence]++
				}
			}
		}
		return total, by
	}
	all, by := presence("--scan-type", "enhanced")
	if by["NOT_PRESENT"] != 5 || by["UNKNOWN"] != 1 {
		t.Errorf("symbol presence %v, want 5 NOT_PRESENT and 1 UNKNOWN", by)
	}
	kept, by2 := presence("--scan-type", "enhanced", "--ignore-not-present")
	if kept != all-5 || by2["NOT_PRESENT"] != 0 || by2["UNKNOWN"] != 1 {
		t.Errorf("--ignore-not-present: %d of %d findings kept (%v), want %d", kept, all, by2, all-5)
	}
	ignore := filepath.Join(t.TempDir(), "ignore.yaml")
	if err := os.WriteFile(ignore, []byte("ignore:\n  - symbolPresence: NOT_PRESENT\n    reason: not linked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, _ := presence("--scan-type", "enhanced", "--ignore-file", ignore); n != all-5 {
		t.Errorf("ignore file with symbolPresence: %d findings, want %d", n, all-5)
	}
}
