package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// WriteTable writes a human-readable summary and one line per finding.
func WriteTable(w io.Writer, s Scan) error {
	inv := s.Inventory
	osName := "no OS detected"
	if d := inv.Distro; d != nil && d.ID != "" {
		osName = fmt.Sprintf("%s %s (%s)", d.ID, d.VersionID, d.Status)
	}
	fmt.Fprintf(w, "%s\n", inv.Source.Ref)
	if inv.Source.Digest != "" {
		fmt.Fprintf(w, "  digest:   %s\n", inv.Source.Digest)
	}
	fmt.Fprintf(w, "  os:       %s\n", osName)
	nOS, nLang := 0, 0
	for _, p := range inv.Packages {
		if p.Type.IsOS() {
			nOS++
		} else {
			nLang++
		}
	}
	fmt.Fprintf(w, "  packages: %d OS, %d language\n", nOS, nLang)
	if s.Status != "" && s.Status != "COMPLETE" {
		fmt.Fprintf(w, "  status:   %s: %s\n", s.Status, s.StatusDescription)
	}
	switch n := len(s.Degraded); {
	case n == 1:
		fmt.Fprintf(w, "  degraded: 1 package whose version could not be compared (its findings that depend on it are %s)\n", match.StatusUnknownVersion)
	case n > 1:
		fmt.Fprintf(w, "  degraded: %d packages whose versions could not be compared (their findings that depend on them are %s)\n", n, match.StatusUnknownVersion)
	}
	counts := SeverityCounts(s.Findings)
	var parts []string
	for _, k := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(w, "  findings: %d (%s)\n", len(s.Findings), strings.Join(parts, ", "))
	if kev := kevLine(s.Findings); kev != "" {
		fmt.Fprintf(w, "  kev:      %s\n", kev)
	}
	if sym := symbolLine(s.Findings); sym != "" {
		fmt.Fprintf(w, "  symbols:  %s\n", sym)
	}
	if pro, services := channelCounts(s.Names, s.Findings); pro != "" {
		fmt.Fprintf(w, "  pro-only: %s: fixed only through %s, marked in FIXED IN (--ignore-fix-channel hides them)\n", pro, services)
	}
	fmt.Fprintln(w)
	if len(s.Findings) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// The EXPLOIT column is there when the DB holds exploit context.
	exploit := hasExploitContext(s.Findings)
	// The SYMBOLS column is there when some finding is a Go one.
	symbols := hasSymbolPresence(s.Findings)
	head := "SEVERITY\tID\tPACKAGE\tINSTALLED\tFIXED IN\tSTATUS"
	if exploit {
		head += "\tEXPLOIT"
	}
	if symbols {
		head += "\tSYMBOLS"
	}
	fmt.Fprintln(tw, head+"\tPATH")
	for _, f := range s.Findings {
		fixed := f.FixedVersion
		switch {
		case fixed == "":
			fixed = "-"
		case f.FixChannel != "":
			fixed += " (" + string(f.FixChannel) + ")"
		}
		path := ""
		if !f.Package.Type.IsOS() || f.Package.Type == inventory.TypeRPM {
			path = cell(f.Package.Path) + dependencyNote(f.Dependency)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", f.Severity, f.ID, cell(f.Package.Name), cell(f.Package.Version), fixed, f.Status)
		if exploit {
			row += "\t" + exploitCell(f)
		}
		if symbols {
			row += "\t" + cell(symbolCell(f))
		}
		fmt.Fprintln(tw, row+"\t"+path)
	}
	return tw.Flush()
}

// dependencyNote is what the PATH column adds about a language package's
// place in its project: " (direct)", " (via a@1 > b@2)" naming the
// packages that brought a transitive one in, or " (transitive)" when the
// file does not say through which.
func dependencyNote(d *inventory.Dependency) string {
	switch {
	case d == nil:
		return ""
	case d.Scope == inventory.ScopeDirect:
		return " (direct)"
	case len(d.IntroducedThrough) > 1:
		return " (via " + cell(strings.Join(d.IntroducedThrough[:len(d.IntroducedThrough)-1], " > ")) + ")"
	}
	return " (" + string(d.Scope) + ")"
}

// channelCounts counts findings per fix channel besides the standard one
// ("esm-infra 3, esm-apps 1"), or "" when there are none, and names the
// services that deliver them ("Ubuntu Pro").
func channelCounts(names names.Names, fs []match.Finding) (counts, services string) {
	n := map[advisory.FixChannel]int{}
	for _, f := range fs {
		if f.FixChannel != "" {
			n[f.FixChannel]++
		}
	}
	var parts, svcs []string
	for _, ch := range advisory.FixChannels() {
		if n[ch] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", ch, n[ch]))
			if svc := names.FixChannel(ch).Service; !slices.Contains(svcs, svc) {
				svcs = append(svcs, svc)
			}
		}
	}
	return strings.Join(parts, ", "), strings.Join(svcs, " or ")
}

// cell makes image-controlled text safe for one table cell: control
// characters (tabs and newlines would break the columns, escapes the
// terminal) are replaced, and very long text is clipped.
func cell(s string) string {
	return match.Clip(s, 256)
}
