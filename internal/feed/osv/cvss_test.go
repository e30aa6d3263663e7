package osv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Scores of well-known vectors, as published by NVD and FIRST.
func TestScoreVector(t *testing.T) {
	tests := []struct {
		vector  string
		version string
		score   float64
		wantErr bool
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "3.1", 10.0, false}, // Log4Shell
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", "3.1", 5.3, false},  // CVE-2023-5678 (NVD)
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.0", 7.5, false},  // Heartbleed (v3.0)
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "3.1", 7.8, false},
		{"AV:N/AC:L/Au:N/C:P/I:N/A:N", "2.0", 5.0, false}, // Heartbleed (v2)
		{"(AV:N/AC:L/Au:N/C:C/I:C/A:C)", "2.0", 10.0, false},
		{"AV:N/AC:M/Au:N/C:P/I:P/A:P", "2.0", 6.8, false},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3, false},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", "4.0", 0, false},
		{"CVSS:3.1/AV:N", "", 0, true},
		{"garbage", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.vector, func(t *testing.T) {
			ver, score, err := ScoreVector(tt.vector)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ScoreVector(%q) error = %v, wantErr %v", tt.vector, err, tt.wantErr)
			}
			if diff := cmp.Diff([]any{tt.version, tt.score}, []any{ver, score}); diff != "" {
				t.Errorf("ScoreVector(%q) (-want +got):\n%s", tt.vector, diff)
			}
		})
	}
}

func TestCVSSOfTypeMismatch(t *testing.T) {
	if _, _, err := cvssOf("CVSS_V3", "AV:N/AC:L/Au:N/C:P/I:N/A:N", "ghsa"); err == nil {
		t.Error("a v2 vector in a CVSS_V3 entry: want an error")
	}
	if _, ok, err := cvssOf("Ubuntu", "medium", "ubuntu"); ok || err != nil {
		t.Errorf("non-CVSS type: ok=%v err=%v, want ignored", ok, err)
	}
}
