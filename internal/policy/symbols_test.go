package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/match"
)

func TestSymbolPresencePolicy(t *testing.T) {
	with := func(f match.Finding, p match.SymbolPresence) match.Finding { f.SymbolPresence = p; return f }
	all := []match.Finding{
		with(finding("CVE-2021-38561", "golang.org/x/text", "pkg:golang/golang.org/x/text@v0.3.5", "HIGH", "v0.3.7"), match.SymbolNotPresent),
		with(finding("CVE-2020-28852", "golang.org/x/text", "pkg:golang/golang.org/x/text@v0.3.5", "HIGH", "v0.3.5"), match.SymbolPresent),
		with(finding("CVE-2022-32149", "golang.org/x/text", "pkg:golang/golang.org/x/text@v0.3.5", "HIGH", "v0.3.8"), match.SymbolUnknown),
		finding("CVE-2021-44228", "log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "CRITICAL", "2.15.0"),
	}
	rules := func(t *testing.T, doc string) []IgnoreRule {
		t.Helper()
		r, err := ParseIgnoreFile(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name    string
		opts    func(t *testing.T) Options
		kept    []string
		reasons []string
	}{
		{"off", func(*testing.T) Options { return Options{} }, []string{"CVE-2021-38561", "CVE-2020-28852", "CVE-2022-32149", "CVE-2021-44228"}, nil},
		{"--ignore-not-present", func(*testing.T) Options { return Options{IgnoreNotPresent: true} },
			[]string{"CVE-2020-28852", "CVE-2022-32149", "CVE-2021-44228"}, []string{"vulnerable symbols not present in the binary (--ignore-not-present)"}},
		{"ignore rule with presence and no id", func(t *testing.T) Options {
			return Options{Ignores: rules(t, "ignore:\n  - symbolPresence: not_present\n    reason: dead code\n")}
		}, []string{"CVE-2020-28852", "CVE-2022-32149", "CVE-2021-44228"}, []string{"ignore file: dead code"}},
		{"ignore rule for an id while present", func(t *testing.T) Options {
			return Options{Ignores: rules(t, "ignore:\n  - id: CVE-2021-38561\n    symbolPresence: PRESENT\n  - id: CVE-2020-28852\n    symbolPresence: PRESENT\n")}
		}, []string{"CVE-2021-38561", "CVE-2022-32149", "CVE-2021-44228"}, []string{"ignore file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, sup, err := Apply(all, tt.opts(t))
			if err != nil {
				t.Fatal(err)
			}
			var ids, reasons []string
			for _, f := range kept {
				ids = append(ids, f.ID)
			}
			for _, s := range sup {
				reasons = append(reasons, s.Reason)
			}
			if d := cmp.Diff(tt.kept, ids); d != "" {
				t.Errorf("kept (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.reasons, reasons); d != "" {
				t.Errorf("reasons (-want +got):\n%s", d)
			}
		})
	}
	for doc, want := range map[string]string{
		"ignore:\n  - symbolPresence: ABSENT\n": `symbolPresence "ABSENT": want PRESENT, NOT_PRESENT or UNKNOWN`,
		"ignore:\n  - reason: x\n":              "has no id (nor a symbolPresence)",
	} {
		if _, err := ParseIgnoreFile(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseIgnoreFile(%q) = %v, want %q", doc, err, want)
		}
	}
}
