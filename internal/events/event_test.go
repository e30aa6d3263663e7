package events

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

var testImage = Image{
	Account:    "123456789012",
	Region:     "us-east-1",
	Repository: "team/web",
	Digest:     "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd",
	Tags:       []string{"latest", "v1.2.0"},
}

var testMeta = Meta{ID: "4f5ec4d5-4de4-7aad-a046-56d5cfe1df0e", Time: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}

func TestEventsGolden(t *testing.T) {
	scan := func() (Event, error) {
		return ScanCompleted(testMeta, testImage, "COMPLETE", map[severity.Severity]int{"HIGH": 2, "LOW": 5, "CRITICAL": 0, "MEDIUM": 1})
	}
	untagged := func() (Event, error) {
		img := testImage
		img.Tags = nil
		return ScanCompleted(testMeta, img, "COMPLETE", nil)
	}
	clair := func() (Event, error) {
		return BasicScanCompleted(testMeta, testImage, "COMPLETE", map[severity.Severity]int{"HIGH": 2}, "CLAIR")
	}
	change := func() (Event, error) {
		return NewFindings(testMeta, testImage,
			[]Finding{{Name: "CVE-2026-0001", Severity: "CRITICAL", PackageName: "openssl", PackageVersion: "3.0.11-1~deb12u2"}},
			[]Finding{{Name: "CVE-2025-1234", Severity: "LOW", PackageName: "zlib", PackageVersion: "1:1.2.13.dfsg-1"}},
			map[severity.Severity]int{"CRITICAL": 1, "HIGH": 2, "LOW": 4})
	}
	inspector := func() (Event, error) {
		return InspectorScan(testMeta, testImage, "COMPLETE", map[severity.Severity]int{"HIGH": 2, "LOW": 5, "CRITICAL": 0})
	}
	inspectorFailed := func() (Event, error) {
		return InspectorScan(testMeta, testImage, "FAILED", nil)
	}
	tests := []struct {
		name  string
		build func() (Event, error)
	}{
		{"inspector_scan", inspector},
		{"inspector_scan_failed", inspectorFailed},
		{"scan_completed", scan},
		{"scan_completed_untagged_clean", untagged},
		{"scan_completed_clair", clair},
		{"findings_change", change},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestEnvelopeDefaults(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Second)
	ev, err := ScanCompleted(Meta{}, testImage, "COMPLETE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(ev.ID); err != nil {
		t.Errorf("id %q is not a UUID: %v", ev.ID, err)
	}
	ts, err := time.Parse(time.RFC3339, ev.Time)
	if err != nil {
		t.Fatalf("time %q is not RFC3339: %v", ev.Time, err)
	}
	if ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v not near now", ts)
	}
	ev2, _ := ScanCompleted(Meta{}, testImage, "COMPLETE", nil)
	if ev2.ID == ev.ID {
		t.Errorf("two events got the same id %s", ev.ID)
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ECR Image Scan", "ecr-image-scan"},
		{"ECR Image Scan Findings Change", "ecr-image-scan-findings-change"},
		{"  Weird..Type!! ", "weird-type"},
		{"", "unknown"},
		{"*.>", "unknown"},
	}
	for _, tc := range tests {
		if got := Slug(tc.in); got != tc.want {
			t.Errorf("Slug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
