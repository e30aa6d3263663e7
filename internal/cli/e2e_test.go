package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// writeMirror writes a one-source mirror: an Alpine 3.19 secdb whose
// busybox entry has a fix above the shared image's busybox 1.36.1-r15, one
// equal to it (not affected) and one below it.
func writeMirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "alpine", "secdb", "v3.19")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := `{"apkurl":"{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk","archs":["x86_64"],"reponame":"main","urlprefix":"https://dl-cdn.alpinelinux.org/alpine","distroversion":"v3.19","packages":[
	{"pkg":{"name":"busybox","secfixes":{"1.36.1-r17":["CVE-2023-42363"],"1.36.1-r15":["CVE-2023-99999"],"1.36.1-r2":["CVE-2022-48174"]}}}]}`
	if err := os.WriteFile(filepath.Join(p, "main.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanEndToEnd(t *testing.T) {
	img := filepath.Join(testutil.Shared(t, "images"), "alpine-3.19.tar")
	db := t.TempDir()
	mirror := writeMirror(t)
	if code, out, stderr := runCLI(t, "db", "update", "--mirror", mirror, "--db", db); code != ExitOK {
		t.Fatalf("db update: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "db", "status", "--db", db); code != ExitOK || !bytes.Contains([]byte(out), []byte("alpine")) {
		t.Fatalf("db status: exit %d\n%s\n%s", code, out, stderr)
	}

	code, out, stderr := runCLI(t, "scan", img, "--db", db, "--format", "json", "--exit-code", "5")
	if code != 5 {
		t.Fatalf("scan --exit-code 5: exit %d (%s)", code, stderr)
	}
	var resp struct {
		ImageScanStatus   struct{ Status string }
		ImageScanFindings struct {
			FindingSeverityCounts map[string]int
			Findings              []struct {
				Name       string
				Attributes []struct{ Key, Value string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.ImageScanFindings.Findings {
		for _, a := range f.Attributes {
			if a.Key == "package_name" {
				got = append(got, f.Name+" "+a.Value)
			}
		}
	}
	// busybox's origin covers busybox, busybox-binsh and ssl_client; the fix
	// equal to the installed version and the older one are not findings.
	want := []string{"CVE-2023-42363 busybox", "CVE-2023-42363 busybox-binsh", "CVE-2023-42363 ssl_client"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	if resp.ImageScanStatus.Status != "COMPLETE" || resp.ImageScanFindings.FindingSeverityCounts["UNDEFINED"] != 3 {
		t.Errorf("status %s, counts %v", resp.ImageScanStatus.Status, resp.ImageScanFindings.FindingSeverityCounts)
	}

	// The gate passes when the floor is above every finding.
	if code, _, stderr := runCLI(t, "scan", img, "--db", db, "--severity", "CRITICAL", "--exit-code", "5"); code != ExitOK {
		t.Errorf("--severity CRITICAL: exit %d (%s)", code, stderr)
	}

	// Scanning the image's SBOM gives the same findings.
	sbomFile := filepath.Join(t.TempDir(), "x.cdx.json")
	if code, _, stderr := runCLI(t, "sbom", img, "-o", sbomFile); code != ExitOK {
		t.Fatalf("sbom: exit %d (%s)", code, stderr)
	}
	_, fromImage, _ := runCLI(t, "scan", img, "--db", db, "--format", "table")
	_, fromSBOM, stderr := runCLI(t, "scan", "sbom:"+sbomFile, "--db", db, "--format", "table")
	// The first line names the source; the rest must agree.
	cut := func(s string) string {
		if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
			return s[i:]
		}
		return s
	}
	if d := cmp.Diff(cut(fromImage), cut(fromSBOM)); d != "" {
		t.Errorf("scan sbom: differs from scanning the image (%s):\n%s", stderr, d)
	}
}

// TestScanUnparseableVersion: a version apk cannot parse beside a
// vulnerable package completes the scan (exit 0), gives UNKNOWN_VERSION and
// FIXABLE findings, names the package in the status description and warns
// about it on stderr.
func TestScanUnparseableVersion(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
		"lib/apk/db/installed": "P:musl\nV:1.2.4_r2\nA:x86_64\no:musl\n\n" +
			"P:musl-utils\nV:1.2.4-r2\nA:x86_64\no:musl\n\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mirror := t.TempDir()
	p := filepath.Join(mirror, "alpine", "secdb", "v3.19")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := `{"archs":["x86_64"],"reponame":"main","urlprefix":"https://dl-cdn.alpinelinux.org/alpine","distroversion":"v3.19","packages":[
	{"pkg":{"name":"musl","secfixes":{"1.2.4-r3":["CVE-2025-26519"]}}}]}`
	if err := os.WriteFile(filepath.Join(p, "main.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	db := t.TempDir()
	if code, out, stderr := runCLI(t, "db", "update", "--mirror", mirror, "--db", db); code != ExitOK {
		t.Fatalf("db update: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr := runCLI(t, "scan", "dir:"+root, "--db", db, "--format", "json", "--ignore-unfixed")
	if code != ExitOK {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	var resp struct {
		ImageScanStatus   struct{ Status, Description string }
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
	// The fixture is Alpine 3.19, past its end of life (2025-11-01) on any
	// day this test runs: the CLI judges on the clock.
	wantDesc := `The scan was completed successfully. Alpine Linux 3.19 reached end of life after 2025-11-01 (support ended): findings for a discontinued OS are informational. 1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): musl "1.2.4_r2" (lib/apk/db/installed).`
	if resp.ImageScanStatus.Status != "COMPLETE" || resp.ImageScanStatus.Description != wantDesc {
		t.Errorf("imageScanStatus %+v, want COMPLETE, %s", resp.ImageScanStatus, wantDesc)
	}
	var got []string
	for _, f := range resp.ImageScanFindings.Findings {
		a := map[string]string{}
		for _, kv := range f.Attributes {
			a[kv.Key] = kv.Value
		}
		got = append(got, f.Name+" "+a["package_name"]+" "+a["status"]+" "+a["fixed_version"]+" "+a["version_unparseable"])
	}
	want := []string{
		`CVE-2025-26519 musl UNKNOWN_VERSION 1.2.4-r3 apk: version "1.2.4_r2": invalid version: unknown suffix "_r"`,
		`CVE-2025-26519 musl-utils FIXABLE 1.2.4-r3 `,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	wantWarn := `warning: apk package musl "1.2.4_r2" (lib/apk/db/installed): version cannot be compared: apk: version "1.2.4_r2": invalid version: unknown suffix "_r"; findings for it that depend on the version have status UNKNOWN_VERSION`
	if !bytes.Contains([]byte(stderr), []byte(wantWarn+"\n")) {
		t.Errorf("stderr lacks the warning %q:\n%s", wantWarn, stderr)
	}
	// --ignore-status UNKNOWN_VERSION hides it, and says so.
	code, out, stderr = runCLI(t, "scan", "dir:"+root, "--db", db, "--format", "table", "--ignore-status", "UNKNOWN_VERSION")
	if code != ExitOK || bytes.Contains([]byte(out), []byte("UNKNOWN_VERSION  ")) || !bytes.Contains([]byte(stderr), []byte("1 findings hidden by policy")) {
		t.Errorf("--ignore-status UNKNOWN_VERSION: exit %d\n%s\n%s", code, out, stderr)
	}
}
