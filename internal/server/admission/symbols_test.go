package admission

import (
	"context"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
)

// TestIgnoreNotPresent: with ignoreNotPresent, Go findings whose
// vulnerable symbols are NOT_PRESENT count neither against the severity
// threshold nor for the deny rules, in basic and enhanced results alike;
// PRESENT and UNKNOWN ones still count.
func TestIgnoreNotPresent(t *testing.T) {
	text := inventory.Package{Name: "golang.org/x/text", Version: "v0.3.5", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.5", Path: "usr/local/bin/app"}
	with := func(f match.Finding, p match.SymbolPresence, kev bool) match.Finding {
		f.SymbolPresence = p
		if kev {
			f.ExploitAvailable = "YES"
		}
		return f
	}
	fs := []match.Finding{
		with(mkFinding("CVE-2021-38561", text, "CRITICAL", 9.8, "v0.3.7"), match.SymbolNotPresent, true),
		with(mkFinding("CVE-2022-32149", text, "HIGH", 7.5, "v0.3.8"), match.SymbolUnknown, false),
		with(mkFinding("CVE-2020-28852", text, "HIGH", 7.5, "v0.3.5"), match.SymbolPresent, false),
	}
	for _, enhanced := range []bool{false, true} {
		res := resultJSON(t, poolImage{Repo: "r", Digest: digestOf("r"), Enhanced: enhanced}, fs)
		for _, tc := range []struct {
			ignore    bool
			count     int
			top       string
			kevDenied bool
		}{
			{false, 3, "CVE-2021-38561", true},
			{true, 2, "CVE-2020-28852", false},
		} {
			got, err := countPresent(res, "HIGH", false, tc.ignore)
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.count || got.Top == nil || got.Top.ID != tc.top {
				t.Errorf("enhanced=%v ignore=%v: %d findings, top %v; want %d, %s", enhanced, tc.ignore, got.Count, got.Top, tc.count, tc.top)
			}
			deny, _, err := exploitDenial(context.Background(), res, DenyRules{KEV: true}, tc.ignore, "img", nil)
			if err != nil {
				t.Fatal(err)
			}
			if (deny != "") != tc.kevDenied {
				t.Errorf("enhanced=%v ignore=%v: deny.kev %q, want denied %v", enhanced, tc.ignore, deny, tc.kevDenied)
			}
		}
	}
}
