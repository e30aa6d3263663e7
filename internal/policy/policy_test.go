package policy

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

func finding(id, pkg, purl string, sev severity.Severity, fixed string, related ...string) match.Finding {
	st := match.StatusFixable
	if fixed == "" {
		st = match.StatusUnfixed
	}
	return match.Finding{ID: id, Related: related, Package: inventory.Package{Name: pkg, PURL: purl}, Severity: sev, FixedVersion: fixed, Status: st}
}

func TestApply(t *testing.T) {
	f, err := os.Open("testdata/ignore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ignores, err := ParseIgnoreFile(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	v, err := os.Open("testdata/vex.json")
	if err != nil {
		t.Fatal(err)
	}
	vex, err := ParseOpenVEX(v)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	all := []match.Finding{
		finding("CVE-2023-0001", "openssl", "pkg:deb/debian/openssl@3.0.11-1?arch=amd64", "HIGH", "3.0.13"),
		finding("CVE-2023-0002", "zlib", "pkg:deb/debian/zlib@1.2.13-1", "HIGH", "1.3"),
		finding("CVE-2023-0002", "curl", "pkg:deb/debian/curl@7.88.1-10", "HIGH", "7.88.1-11"),
		finding("CVE-2023-0003", "curl", "pkg:deb/debian/curl@7.88.1-10", "HIGH", "7.88.1-11"),
		finding("CVE-2023-0004", "openssl", "pkg:deb/debian/openssl@3.0.11-1?arch=amd64", "CRITICAL", ""),
		finding("CVE-2023-0005", "requests", "pkg:pypi/requests@2.19.1", "MEDIUM", "2.20.0", "GHSA-xxxx-yyyy-zzzz"),
		finding("CVE-2023-0006", "zlib", "pkg:deb/debian/zlib@1.2.13-1", "LOW", ""),
	}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts Options
		kept []string
	}{
		{"ignore file with package and expiry", Options{Ignores: ignores, Now: now},
			[]string{"CVE-2023-0002/curl", "CVE-2023-0003/curl", "CVE-2023-0004/openssl", "CVE-2023-0005/requests", "CVE-2023-0006/zlib"}},
		{"an expired rule applies no more; VEX not_affected and fixed hide, affected does not", Options{VEX: vex, Now: now},
			[]string{"CVE-2023-0001/openssl", "CVE-2023-0002/zlib", "CVE-2023-0002/curl", "CVE-2023-0003/curl", "CVE-2023-0006/zlib"}},
		{"severity floor", Options{MinSeverity: "high", Now: now},
			[]string{"CVE-2023-0001/openssl", "CVE-2023-0002/zlib", "CVE-2023-0002/curl", "CVE-2023-0003/curl", "CVE-2023-0004/openssl"}},
		{"ignore unfixed", Options{IgnoreUnfixed: true, Now: now},
			[]string{"CVE-2023-0001/openssl", "CVE-2023-0002/zlib", "CVE-2023-0002/curl", "CVE-2023-0003/curl", "CVE-2023-0005/requests"}},
		{"ignore status", Options{IgnoreStatuses: []string{"fixable"}, Now: now},
			[]string{"CVE-2023-0004/openssl", "CVE-2023-0006/zlib"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept, supp, err := Apply(all, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range kept {
				got = append(got, f.ID+"/"+f.Package.Name)
			}
			if d := cmp.Diff(tc.kept, got); d != "" {
				t.Errorf("kept (-want +got):\n%s", d)
			}
			if len(kept)+len(supp) != len(all) {
				t.Errorf("kept %d + suppressed %d != %d", len(kept), len(supp), len(all))
			}
			for _, s := range supp {
				if s.Reason == "" {
					t.Errorf("%s suppressed without a reason", s.Finding.ID)
				}
			}
		})
	}
}

// TestUnknownVersionPolicy: UNKNOWN_VERSION findings are hidden by
// --ignore-status UNKNOWN_VERSION, never by --ignore-unfixed.
func TestUnknownVersionPolicy(t *testing.T) {
	unknown := func(id, fixed string) match.Finding {
		return match.Finding{ID: id, Package: inventory.Package{Name: "lodash", Version: "latest", PURL: "pkg:npm/lodash@latest"}, Severity: "HIGH", Status: match.StatusUnknownVersion, FixedVersion: fixed,
			VersionError: `semver: version "latest": invalid version: invalid semantic version`}
	}
	all := []match.Finding{
		unknown("CVE-2021-23337", "4.17.21"),
		unknown("GHSA-aaaa-bbbb-cccc", ""),
		finding("CVE-2023-0001", "lodash", "pkg:npm/lodash@4.17.15", "HIGH", "4.17.21"),
		finding("CVE-2023-0002", "lodash", "pkg:npm/lodash@4.17.15", "HIGH", ""),
	}
	tests := []struct {
		name string
		opts Options
		kept []string
	}{
		{"nothing asked", Options{}, []string{"CVE-2021-23337", "GHSA-aaaa-bbbb-cccc", "CVE-2023-0001", "CVE-2023-0002"}},
		{"ignore unfixed keeps UNKNOWN_VERSION, with or without a fix", Options{IgnoreUnfixed: true}, []string{"CVE-2021-23337", "GHSA-aaaa-bbbb-cccc", "CVE-2023-0001"}},
		{"ignore status UNKNOWN_VERSION", Options{IgnoreStatuses: []string{"UNKNOWN_VERSION"}}, []string{"CVE-2023-0001", "CVE-2023-0002"}},
		{"ignore status, any case", Options{IgnoreStatuses: []string{"unknown_version", "FIXABLE"}}, []string{"CVE-2023-0002"}},
		{"both", Options{IgnoreUnfixed: true, IgnoreStatuses: []string{"UNKNOWN_VERSION"}}, []string{"CVE-2023-0001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept, supp, err := Apply(all, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range kept {
				got = append(got, f.ID)
			}
			if d := cmp.Diff(tc.kept, got); d != "" {
				t.Errorf("kept (-want +got):\n%s", d)
			}
			for _, s := range supp {
				if s.Finding.Status == match.StatusUnknownVersion && s.Reason != "status UNKNOWN_VERSION ignored" {
					t.Errorf("%s suppressed by %q", s.Finding.ID, s.Reason)
				}
			}
		})
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		vex            bool
	}{
		{"bad expiry", "ignore:\n  - id: CVE-1\n    expires: soon\n", "expires \"soon\"", false},
		{"no id", "ignore:\n  - reason: x\n", "entry 1 has no id", false},
		{"not yaml", "ignore: [", "ignore file", false},
		{"not openvex", `{"@context":"https://cyclonedx.org"}`, "not an OpenVEX context", true},
		{"bad status", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":["pkg:x/y"],"status":"maybe"}]}`, `unknown status "maybe"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.vex {
				_, err = ParseOpenVEX(strings.NewReader(tc.in))
			} else {
				_, err = ParseIgnoreFile(strings.NewReader(tc.in))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := Apply(nil, Options{MinSeverity: "severe"}); err == nil {
		t.Error("unknown severity accepted")
	}
	if _, _, err := Apply(nil, Options{IgnoreStatuses: []string{"UNKNOWN"}}); err == nil || !strings.Contains(err.Error(), "UNKNOWN_VERSION") {
		t.Errorf("unknown status: err = %v, want one listing UNKNOWN_VERSION", err)
	}
}

func FuzzParseOpenVEX(f *testing.F) {
	b, _ := os.ReadFile("testdata/vex.json")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseOpenVEX(strings.NewReader(string(b)))
	})
}

func FuzzParseIgnoreFile(f *testing.F) {
	b, _ := os.ReadFile("testdata/ignore.yaml")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseIgnoreFile(strings.NewReader(string(b)))
	})
}
