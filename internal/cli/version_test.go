package cli

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name, set string
		bi        *debug.BuildInfo
		want      string
	}{
		{"ldflags wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, "v1.2.3"},
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"checkout with VCS stamping", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "4adf6b1d511c0123456789", "vcs.time", "2026-12-03T09:10:22Z", "vcs.modified", "true")},
			"devel (commit 4adf6b1d511c, 2026-12-03T09:10:22Z, modified)"},
		{"no VCS information", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel (built without VCS information)"},
		{"no build information", "", nil, "devel (no build information)"},
	}
	for _, tc := range tests {
		if got := versionString(tc.set, tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDBHelp: `stowaway db --help` (and -h, help) prints the subcommands on
// stdout and succeeds.
func TestDBHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		var out, errb bytes.Buffer
		code, err := runDB(context.Background(), []string{arg}, &out, &errb)
		if code != ExitOK || err != nil || !strings.Contains(out.String(), "update  build the DB") || errb.Len() != 0 {
			t.Errorf("db %s: code %d, err %v, stdout %q, stderr %q", arg, code, err, out.String(), errb.String())
		}
	}
}
