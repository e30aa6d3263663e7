package ubuntu

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// osvZip builds osv.dev's Ubuntu/all.zip from the records in dir.
func osvZip(t testing.TB, files ...string) []byte {
	t.Helper()
	sort.Strings(files)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func osvFixtures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/osv/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no OSV fixtures: %v", err)
	}
	return files
}

// TestOSVParse parses the fixtures in testdata/osv, written from
// Canonical's format (docs/security-updates/osv of
// canonical/ubuntu-security-documentation): Pro entries with their ESM
// pocket in the purl (plain, percent-encoded and the malformed
// "?arch=src?distro=" form), FIPS and Realtime variants, a non-LTS
// release, entries with only "introduced", a withdrawn record, a USN
// notice and broken entries.
func TestOSVParse(t *testing.T) {
	if u := NewOSV(); u.Name() != "ubuntu-osv" || u.MirrorDir() != "osv/Ubuntu" || u.Upstream() != "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/" {
		t.Errorf("Name, MirrorDir, Upstream = %q, %q, %q", u.Name(), u.MirrorDir(), u.Upstream())
	}
	got, err := parseAll(t, NewOSV(), fstest.MapFS{"all.zip": {Data: osvZip(t, osvFixtures(t)...)}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/golden/osv.json", got)

	want := []entry{
		{"CVE-2024-3000", "ubuntu:22.04", "curl", "source", "fixed", "7.81.0-1ubuntu1.16", ""},
		{"CVE-2024-3000", "ubuntu:24.04", "curl", "source", "affected", "", ""},
		// esm-infra/bionic: the release's own archive has no fix.
		{"CVE-2025-0001", "ubuntu:14.04", "vips", "source", "affected", "", "LOW"},
		// A Pro entry without a fix needs no pocket.
		{"CVE-2025-0001", "ubuntu:16.04", "tiff", "source", "affected", "", ""},
		{"CVE-2025-0001", "ubuntu:18.04", "vips", "source", "fixed", "8.4.5-1ubuntu0.1~esm2", ""},
		// The release's own fix beats the esm-infra one.
		{"CVE-2025-0001", "ubuntu:20.04", "vips", "source", "fixed", "8.9.1-2ubuntu0.1", ""},
		// Unfixed in jammy's archive, fixed in esm-apps.
		{"CVE-2025-0001", "ubuntu:22.04", "vips", "source", "fixed", "8.12.1-1ubuntu0.1~esm1", ""},
		{"CVE-2025-0001", "ubuntu:24.10", "vips", "source", "fixed", "8.15.3-1ubuntu0.1", "MEDIUM"},
		{"CVE-2025-0001", "ubuntu:25.10", "vips", "source", "affected", "", ""},
		{"CVE-2025-0003", "ubuntu:24.04", "openssl", "source", "fixed", "3.0.13-0ubuntu3.5", ""},
	}
	if d := cmp.Diff(want, flatten(got.Advisories)); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	channels := map[string]string{}
	for _, a := range got.Advisories {
		for _, af := range a.Affected {
			if af.FixChannel != "" {
				channels[a.ID+" "+af.Namespace] = string(af.FixChannel)
			}
		}
	}
	if d := cmp.Diff(map[string]string{
		"CVE-2025-0001 ubuntu:18.04": "esm-infra",
		"CVE-2025-0001 ubuntu:22.04": "esm-apps",
	}, channels); d != "" {
		t.Errorf("fix channels (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{
		skipFIPS:         3,
		skipRealtime:     1,
		skipVariant:      1,
		skipProNoService: 2, // fixes: CVE-2024-3000's Pro:18.04 without a purl; Pro:16.04 vips naming xenial
		skipNotice:       1,
	}, got.Stats.Skipped); d != "" {
		t.Errorf("Stats.Skipped (-want +got):\n%s", d)
	}
	if got.Stats.Withdrawn != 1 {
		t.Errorf("Stats.Withdrawn = %d, want 1", got.Stats.Withdrawn)
	}
	var bad []string
	for _, m := range got.Stats.Malformed {
		bad = append(bad, m.ID+": "+m.Err)
	}
	if d := cmp.Diff([]string{
		`UBUNTU-CVE-2025-0003: affected[1]: package name "Bad Name" is not a Debian source package name`,
		`UBUNTU-CVE-2025-0003: affected[2]: Ubuntu:22.04:LTS openssl: version "not a version" is not a Debian version`,
		`UBUNTU-CVE-2025-0003: affected[3]: Ubuntu:Pro:22.04:LTS openssl: purl pocket "esm-infra/focal" is not a pocket of 22.04`,
		`UBUNTU-CVE-2025-0003: affected[4]: ecosystem "Ubuntu:" names no release`,
		`UBUNTU-CVE-2025-0003: affected[5]: Ubuntu:Pro:20.04:LTS openssl: purl "pkg:deb/ubuntu/openssl?arch=source&distro=esm-infra%zz": distro: invalid URL escape "%zz"`,
		`UBUNTU-XYZ-1: id "UBUNTU-XYZ-1" names no CVE (want UBUNTU-CVE-<year>-<n>)`,
	}, bad); d != "" {
		t.Errorf("Stats.Malformed (-want +got):\n%s", d)
	}
	for _, a := range got.Advisories {
		if a.Source != "ubuntu-osv" {
			t.Errorf("%s: Source = %q", a.ID, a.Source)
		}
	}
}

func TestOSVEcosystem(t *testing.T) {
	tests := []struct {
		eco, ver string
		pro      bool
		skip     string
		err      bool
	}{
		{"Ubuntu:22.04:LTS", "22.04", false, "", false},
		{"Ubuntu:24.10", "24.10", false, "", false},
		{"Ubuntu:Pro:18.04:LTS", "18.04", true, "", false},
		{"Ubuntu:Pro:FIPS:20.04:LTS", "", false, skipFIPS, false},
		{"Ubuntu:Pro:FIPS-updates:22.04:LTS", "", false, skipFIPS, false},
		{"Ubuntu:Pro:FIPS-preview:22.04:LTS", "", false, skipFIPS, false},
		{"Ubuntu:Pro:22.04:LTS:Realtime:Kernel", "", false, skipRealtime, false},
		{"Ubuntu:Pro:22.04", "", false, skipVariant, false},
		{"Ubuntu:Nvidia-BlueField:22.04", "", false, skipVariant, false},
		{"Ubuntu:22.04:FIPS", "", false, skipVariant, false},
		{"Ubuntu", "", false, "", true},
		{"Ubuntu:", "", false, "", true},
		{"Ubuntu:22 04", "", false, "", true},
		{"Debian:12", "", false, "", true},
	}
	for _, tt := range tests {
		ver, pro, skip, err := osvEcosystem(tt.eco)
		if ver != tt.ver || pro != tt.pro || skip != tt.skip || (err != nil) != tt.err {
			t.Errorf("osvEcosystem(%q) = %q, %v, %q, %v; want %q, %v, %q, err %v", tt.eco, ver, pro, skip, err, tt.ver, tt.pro, tt.skip, tt.err)
		}
	}
}

func TestPurlDistro(t *testing.T) {
	tests := []struct {
		purl, want string
		err        bool
	}{
		{"pkg:deb/ubuntu/glibc@2.35-0ubuntu3.4?arch=source&distro=jammy", "jammy", false},
		{"pkg:deb/ubuntu/glibc?arch=src?distro=jammy", "jammy", false},
		{"pkg:deb/ubuntu/vips?arch=source&distro=esm-apps%2Fjammy", "esm-apps/jammy", false},
		{"pkg:deb/ubuntu/glibc@2.31?arch=source&distro=esm-infra/focal", "esm-infra/focal", false},
		{"PKG:DEB/UBUNTU/glibc?DISTRO=noble#sub/path", "noble", false},
		{"pkg:deb/ubuntu/glibc?arch=source", "", false},
		{"", "", false},
		{"pkg:deb/debian/glibc?distro=bookworm", "", true},
		{"pkg:deb/ubuntu/glibc?distro=esm%zz", "", true},
		{"pkg:deb", "", true},
	}
	for _, tt := range tests {
		got, err := purlDistro(tt.purl)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("purlDistro(%q) = %q, %v; want %q", tt.purl, got, err, tt.want)
		}
	}
}

// zipBytes builds a zip of the named records.
func zipBytes(t testing.TB, recs map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(recs))
	for n := range recs {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(recs[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
