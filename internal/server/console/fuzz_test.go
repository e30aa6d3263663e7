package console

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

func seeds(t testing.TB) [][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("testdata: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestParseResultTestdata(t *testing.T) {
	for _, c := range []struct {
		file string
		want []row
	}{
		{"result-basic.json", []row{{ID: "CVE-2024-0001", URI: "https://security-tracker.debian.org/tracker/CVE-2024-0001", Severity: "CRITICAL", Score: 9.8,
			Package: "libssl3", Version: "3.0.11-1~deb12u2", Fixed: "3.0.13-1~deb12u1", Fixable: true,
			Layer: "sha256:1111111111111111111111111111111111111111111111111111111111111111", Path: "var/lib/dpkg/status"}}},
		{"result-enhanced.json", []row{{ID: "CVE-2024-0001", URI: "https://osv.dev/vulnerability/CVE-2024-0001", Severity: "CRITICAL", Score: 9.1,
			Package: "lodash", Version: "4.17.15", Fixed: "4.17.21", Fixable: true, Enhanced: true, Title: "CVE-2024-0001 - lodash",
			Layer: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Path: "app/node_modules/lodash/package.json"}}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		rows, counts, err := parseResult(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if d := cmp.Diff(c.want, rows); d != "" {
			t.Errorf("%s rows (-want +got):\n%s", c.file, d)
		}
		if !cmp.Equal(counts, map[severity.Severity]int{"CRITICAL": 1}) {
			t.Errorf("%s counts %v", c.file, counts)
		}
	}
	for _, bad := range []string{"", "{", `{"findings":{}}`, `[]`} {
		if _, _, err := parseResult(bytes.NewReader([]byte(bad))); err == nil {
			t.Errorf("parseResult(%q): no error", bad)
		}
	}
}

// FuzzParseResult: any stored result either decodes into rows that every
// filter and sort accepts, or fails with an error.
func FuzzParseResult(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, _, err := parseResult(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, s := range sortKeys {
			if got := (filter{Sort: s}).apply(rows); len(got) != len(rows) {
				t.Fatalf("sort %s lost rows: %d of %d", s, len(got), len(rows))
			}
		}
		_ = newBar(map[severity.Severity]int{"HIGH": len(rows)}, 100)
	})
}
