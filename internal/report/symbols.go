package report

import (
	"fmt"
	"path"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/stowaway-scanner/stowaway/internal/match"
)

// Go symbol presence (match.Finding.SymbolPresence) in each format:
//   - table: a SYMBOLS column ("present: language.Parse +2", "not present",
//     "unknown", "-" for findings of other ecosystems), there when some
//     finding has a presence, and a "symbols:" summary line counting the
//     NOT_PRESENT findings;
//   - ECR basic findings: attributes symbol_presence, vulnerable_symbols
//     (comma-separated) and symbol_presence_reason;
//   - ECR enhanced findings: Stowaway's vulnerablePackages[].symbolPresence
//     and vulnerableSymbols (presence is per package);
//   - SARIF: result properties symbolPresence and vulnerableSymbols;
//   - CycloneDX: properties stowaway:symbol_presence and
//     stowaway:vulnerable_symbols, and the analysis detail says it (the
//     state stays in_triage: the scanner reports, it does not decide).

// symbolAttributes are a finding's presence attributes, in order ("" values
// for a finding without one).
func symbolAttributes(f match.Finding) [][2]string {
	if f.SymbolPresence == "" {
		return nil
	}
	return [][2]string{{"symbol_presence", string(f.SymbolPresence)}, {"vulnerable_symbols", strings.Join(f.VulnerableSymbols, ",")},
		{"symbol_presence_reason", f.SymbolPresenceReason}}
}

func sarifSymbols(props map[string]any, f match.Finding) {
	if f.SymbolPresence == "" {
		return
	}
	props["symbolPresence"] = string(f.SymbolPresence)
	if len(f.VulnerableSymbols) > 0 {
		props["vulnerableSymbols"] = f.VulnerableSymbols
	}
}

func cdxSymbols(v *cdx.Vulnerability, f match.Finding) {
	if f.SymbolPresence == "" {
		return
	}
	var props []cdx.Property
	if v.Properties != nil {
		props = *v.Properties
	}
	for _, kv := range symbolAttributes(f) {
		if kv[1] != "" {
			props = append(props, cdx.Property{Name: "stowaway:" + kv[0], Value: kv[1]})
		}
	}
	v.Properties = &props
}

// symbolDetail is the CycloneDX analysis detail's presence sentence.
func symbolDetail(f match.Finding) string {
	switch f.SymbolPresence {
	case match.SymbolPresent:
		return "; vulnerable symbols present: " + strings.Join(f.VulnerableSymbols, ", ")
	case match.SymbolNotPresent:
		return "; no vulnerable symbol present in the binary (" + f.SymbolPresenceReason + ")"
	}
	return ""
}

// hasSymbolPresence reports whether any finding has a presence (a Go
// finding).
func hasSymbolPresence(fs []match.Finding) bool {
	for _, f := range fs {
		if f.SymbolPresence != "" {
			return true
		}
	}
	return false
}

// symbolCell is the table's SYMBOLS cell.
func symbolCell(f match.Finding) string {
	switch f.SymbolPresence {
	case "":
		return "-"
	case match.SymbolPresent:
		if len(f.VulnerableSymbols) == 0 {
			return "present"
		}
		s := "present: " + path.Base(f.VulnerableSymbols[0])
		if n := len(f.VulnerableSymbols) - 1; n > 0 {
			s += fmt.Sprintf(" +%d", n)
		}
		return s
	case match.SymbolNotPresent:
		return "not present"
	}
	return "unknown"
}

// symbolLine is the table summary's presence line, "" when no finding has
// a presence.
func symbolLine(fs []match.Finding) string {
	n, absent, present := 0, 0, 0
	for _, f := range fs {
		switch f.SymbolPresence {
		case "":
			continue
		case match.SymbolNotPresent:
			absent++
		case match.SymbolPresent:
			present++
		}
		n++
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d findings checked: %d with vulnerable symbols present, %d not present (--ignore-not-present hides them), %d unknown", n, present, absent, n-present-absent)
}
