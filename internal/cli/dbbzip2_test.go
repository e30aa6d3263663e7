package cli

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDBUpdateBzip2Flag: --bzip2 picks the decompressor of the .bz2 feeds
// (the fixture mirror's UCT bundle), the summary names it, and the DB's
// sources get the same records either way; a bad value is refused.
func TestDBUpdateBzip2Flag(t *testing.T) {
	mirror := filepath.Join("testdata", "ubuntu", "mirror")
	flags := map[string]string{"go": "go (compress/bzip2)"}
	if p, err := exec.LookPath("bzip2"); err == nil {
		flags[p] = p + " -dc"
	} else {
		t.Logf("no bzip2 on $PATH (%v): only --bzip2 go is run", err)
	}
	summaries := map[string][]string{}
	for flag, want := range flags {
		code, out, stderr := runCLI(t, "db", "update", "--quiet", "--mirror", mirror, "--db", t.TempDir(), "--bzip2", flag)
		if code != ExitOK {
			t.Fatalf("--bzip2 %s: exit %d\n%s\n%s", flag, code, out, stderr)
		}
		if !strings.Contains(out, "  bzip2 feeds decompressed by "+want+"\n") {
			t.Errorf("--bzip2 %s: the summary does not name %q:\n%s", flag, want, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  ubuntu-uct") {
				summaries[flag] = append(summaries[flag], l)
			}
		}
		if len(summaries[flag]) != 1 {
			t.Errorf("--bzip2 %s: no ubuntu-uct line:\n%s", flag, out)
		}
	}
	for flag, s := range summaries {
		if d := cmp.Diff(summaries["go"], s); d != "" {
			t.Errorf("--bzip2 %s vs go (-go +%s):\n%s", flag, flag, d)
		}
	}
	code, out, stderr := runCLI(t, "db", "update", "--quiet", "--mirror", mirror, "--db", t.TempDir(), "--bzip2", "/no/such/bzip2")
	if code != ExitError || !strings.Contains(stderr, "--bzip2") || !strings.Contains(stderr, "/no/such/bzip2") {
		t.Errorf("--bzip2 /no/such/bzip2: exit %d, stderr %q (stdout %q)", code, stderr, out)
	}
}
