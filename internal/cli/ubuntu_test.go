package cli

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScanUbuntuRejectedAndESM runs `db update` and `scan` end to end on
// hand-written fixtures (testdata/ubuntu): a mirror holding a UCT bundle of
// testdata/ubuntu/uct-src (bundled as internal/feed/ubuntu's
// TestUCTParse says) and a trusty root filesystem. A rejected CVE id and an
// ESM pocket's not-affected over the release's ignored give no finding;
// the records beside them still do, so the test can fail both ways.
func TestScanUbuntuRejectedAndESM(t *testing.T) {
	mirror := filepath.Join("testdata", "ubuntu", "mirror")
	db := t.TempDir()
	code, out, stderr := runCLI(t, "db", "update", "--mirror", mirror, "--db", db)
	if code != ExitOK {
		t.Fatalf("db update: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"ubuntu-uct", "1 rejected", "1 CVE ids rejected by the CVE program"} {
		if !strings.Contains(out, want) {
			t.Errorf("db update output lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = runCLI(t, "scan", "dir:"+filepath.Join("testdata", "ubuntu", "rootfs"), "--db", db, "--format", "json")
	if code != ExitOK {
		t.Fatalf("scan: exit %d (%s)", code, stderr)
	}
	var resp struct {
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
	var got []string
	for _, f := range resp.ImageScanFindings.Findings {
		attrs := map[string]string{}
		for _, a := range f.Attributes {
			attrs[a.Key] = a.Value
		}
		got = append(got, f.Name+" "+attrs["package_name"]+" "+attrs["status"])
	}
	sort.Strings(got)
	want := []string{
		// trusty: ignored, trusty/esm: ignored.
		"CVE-2011-9005 libc-bin WILL_NOT_FIX",
		"CVE-2015-9003 ntpdate FIXABLE",
		// Not reported: CVE-2011-9001 (trusty: ignored, trusty/esm and
		// esm-infra-legacy/trusty: not-affected) and CVE-2014-9002 (the
		// tracker's description is "** REJECT ** DO NOT USE THIS CANDIDATE
		// NUMBER", though trusty lists a fix above ntpdate's version).
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}
