package cli

import "testing"

func TestSkippedSummary(t *testing.T) {
	got := skippedSummary(map[string]int{"FIPS entries": 2, "USN notices": 5, "variants": 2})
	want := "9 skipped on purpose (5 USN notices, 2 FIPS entries, 2 variants)"
	if got != want {
		t.Errorf("skippedSummary = %q, want %q", got, want)
	}
}
