package testdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: a prebuilt DB is refused unless its stamp names the feeds'
// SHA256SUMS, and a stamped directory must still hold a DB.
func TestCheck(t *testing.T) {
	feeds := t.TempDir()
	if err := os.WriteFile(filepath.Join(feeds, "SHA256SUMS"), []byte("abc  ./x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := FeedsSum(feeds)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		stamp string // "" = no stamp file
		want  string
	}{
		{"unstamped", "", "has no feeds stamp"},
		{"other feeds", strings.Repeat("0", 64), "was built from other feeds"},
		{"stamped, no DB", sum + "\n", "no vulnerability DB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.stamp != "" {
				if err := os.WriteFile(filepath.Join(dir, FeedsStamp), []byte(tc.stamp), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := check(dir, feeds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
