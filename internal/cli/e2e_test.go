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
