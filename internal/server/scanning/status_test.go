package scanning

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReported(t *testing.T) {
	enhanced := Config{ScanEnhanced, []Rule{rule(ScanOnPush, "push"), rule(ContinuousScan, "cont")}}
	basic := Config{ScanBasic, []Rule{rule(ScanOnPush, "push")}}
	type out struct {
		Status      Status
		Description string
	}
	tests := []struct {
		name        string
		cfg         Config
		repo        string
		status      Status
		description string
		want        out
	}{
		{"continuous complete", enhanced, "cont/app", StatusComplete, CompleteDescription, out{StatusActive, ActiveDescription}},
		{"continuous no description", enhanced, "cont/app", StatusComplete, "", out{StatusActive, ActiveDescription}},
		{"continuous keeps the rest", enhanced, "cont/app", StatusComplete, CompleteDescription + " 2 packages were not matched.",
			out{StatusActive, ActiveDescription + " 2 packages were not matched."}},
		{"continuous other description", enhanced, "cont/app", StatusComplete, "The scan was completed for language packages only: no OS.",
			out{StatusActive, ActiveDescription + " The scan was completed for language packages only: no OS."}},
		{"continuous wins over push", enhanced, "push/cont", StatusComplete, "", out{StatusActive, ActiveDescription}},
		{"continuous in progress", enhanced, "cont/app", StatusInProgress, "", out{StatusInProgress, ""}},
		{"continuous failed", enhanced, "cont/app", StatusFailed, "boom", out{StatusFailed, "boom"}},
		{"continuous expired", enhanced, "cont/app", StatusEligibilityExpired, "stopped", out{StatusEligibilityExpired, "stopped"}},
		{"enhanced on push", enhanced, "push/app", StatusComplete, "", out{StatusComplete, CompleteDescription}},
		{"enhanced no rule", enhanced, "other", StatusComplete, CompleteDescription, out{StatusComplete, CompleteDescription}},
		{"basic on push", basic, "push/app", StatusComplete, "", out{StatusComplete, CompleteDescription}},
		{"basic manual", basic, "other", StatusComplete, "kept", out{StatusComplete, "kept"}},
		{"basic unsupported", basic, "push/app", StatusUnsupported, "UnsupportedImageError: x", out{StatusUnsupported, "UnsupportedImageError: x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := tt.cfg.Evaluate(tt.repo, false).Reported(tt.status, tt.description)
			if diff := cmp.Diff(tt.want, out{s, d}); diff != "" {
				t.Errorf("Reported (-want +got):\n%s", diff)
			}
		})
	}
}
