// Package policy decides which findings a scan reports: the severity floor,
// --ignore-unfixed, --ignore-status, ignore files with expiry and OpenVEX
// statements, and the exploit-context filters --kev (only findings in
// CISA's KEV catalog) and --min-epss (an EPSS score floor; unscored
// findings are dropped by it). Every suppressed finding keeps the reason it
// was suppressed.
//
// Go symbol presence (match.Finding.SymbolPresence): IgnoreNotPresent
// (--ignore-not-present, off by default) hides the findings whose
// vulnerable symbols are NOT_PRESENT in their binary; an ignore-file entry
// with symbolPresence applies only to findings with that presence (and
// may then leave out the id: every such finding).
//
// A fix delivered only through an Ubuntu Pro service (match.Finding's
// FixChannel: esm-infra, esm-apps, esm-infra-legacy) counts as a fix:
// --ignore-unfixed keeps such findings, as Canonical's `pro fix` treats
// them as fixable once the machine is attached. A machine without Ubuntu
// Pro cannot install them; IgnoreFixChannels (--ignore-fix-channel) hides
// the findings whose fix comes only through the listed channels, so
// --ignore-unfixed --ignore-fix-channel esm-infra,esm-apps,esm-infra-legacy
// keeps exactly the findings fixable from the standard archive.
//
// UNKNOWN_VERSION findings (a version that could not be compared) are
// hidden only by asking for them: --ignore-status UNKNOWN_VERSION, an
// ignore-file or VEX entry, or the severity floor. --ignore-unfixed keeps
// them even when they name no fixed version, because the package may well
// be affected by a record that has a fix.
package policy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// maxPolicyFile bounds ignore files and VEX documents.
const maxPolicyFile = 16 << 20

// IgnoreRule is one entry of an ignore file.
type IgnoreRule struct {
	ID      string `yaml:"id,omitempty"`
	Package string `yaml:"package,omitempty"`
	// SymbolPresence (PRESENT, NOT_PRESENT or UNKNOWN) limits the rule to
	// findings with that Go symbol presence.
	SymbolPresence string `yaml:"symbolPresence,omitempty"`
	// Expires is a date (2006-01-02) or RFC 3339 time; after it the rule no
	// longer applies.
	Expires string `yaml:"expires,omitempty"`
	Reason  string `yaml:"reason,omitempty"`
	expires time.Time
}

// ParseIgnoreFile reads an ignore file:
//
//	ignore:
//	  - id: CVE-2023-1234
//	    package: openssl        # optional: only this package
//	    expires: 2026-12-31     # optional
//	    reason: not reachable
//	  - id: GO-2021-0113
//	    symbolPresence: NOT_PRESENT  # optional: only while the symbols are absent
//	  - symbolPresence: NOT_PRESENT  # every Go finding whose symbols are absent
func ParseIgnoreFile(r io.Reader) ([]IgnoreRule, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("ignore file: %w", err)
	}
	if len(b) > maxPolicyFile {
		return nil, fmt.Errorf("ignore file: larger than %d bytes", maxPolicyFile)
	}
	var doc struct {
		Ignore []IgnoreRule `yaml:"ignore"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ignore file: %w", err)
	}
	for i := range doc.Ignore {
		r := &doc.Ignore[i]
		if r.SymbolPresence != "" {
			sp := match.SymbolPresence(strings.ToUpper(r.SymbolPresence))
			if !sp.Valid() {
				return nil, fmt.Errorf("ignore file: entry %d: symbolPresence %q: want PRESENT, NOT_PRESENT or UNKNOWN", i+1, r.SymbolPresence)
			}
			r.SymbolPresence = string(sp)
		}
		if r.ID == "" && r.SymbolPresence == "" {
			return nil, fmt.Errorf("ignore file: entry %d has no id (nor a symbolPresence)", i+1)
		}
		if r.Expires != "" {
			t, err := parseDate(r.Expires)
			if err != nil {
				return nil, fmt.Errorf("ignore file: entry %d (%s): expires %q: want YYYY-MM-DD or RFC 3339", i+1, r.ID, r.Expires)
			}
			r.expires = t
		}
	}
	return doc.Ignore, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, err
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil // the whole day
}

// Options are the policy inputs.
type Options struct {
	// MinSeverity drops findings below this ECR level, in any case ("" and
	// UNDEFINED keep all).
	MinSeverity severity.Severity
	// IgnoreUnfixed drops findings with no fixed version, except
	// UNKNOWN_VERSION ones.
	IgnoreUnfixed bool
	// IgnoreStatuses drops findings with these statuses (FIXABLE, UNFIXED,
	// WILL_NOT_FIX, UNKNOWN_VERSION; any case).
	IgnoreStatuses []string
	// IgnoreFixChannels drops findings whose fix is delivered through one
	// of these channels (esm-infra, esm-apps, esm-infra-legacy; any case;
	// an entry may hold several, comma-separated). Findings with a
	// standard fix or no fix are never dropped by it.
	IgnoreFixChannels []string
	// OnlyKEV (--kev) keeps only findings whose CVE is in CISA's Known
	// Exploited Vulnerabilities catalog (match.Finding.KEV).
	OnlyKEV bool
	// IgnoreNotPresent (--ignore-not-present) drops Go findings whose
	// vulnerable symbols are not in the binary (NOT_PRESENT).
	IgnoreNotPresent bool
	// MinEPSS (--min-epss, 0..1) drops findings whose EPSS score is below
	// it, and findings without an EPSS score; 0 keeps all.
	MinEPSS float64
	// Names name the service behind a fix channel in the reasons, as the
	// distribution that declares the channel does.
	Names   names.Names
	Ignores []IgnoreRule
	VEX     []VEXStatement
	Now     time.Time
}

// Suppressed is a finding left out, and why.
type Suppressed struct {
	Finding match.Finding
	Reason  string
}

// Apply splits findings into the reported and the suppressed.
func Apply(fs []match.Finding, o Options) (kept []match.Finding, suppressed []Suppressed, err error) {
	if o.MinSeverity != "" {
		floor, err := severity.Parse(string(o.MinSeverity))
		if err != nil {
			return nil, nil, fmt.Errorf("policy: unknown severity %q (want INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL)", o.MinSeverity)
		}
		o.MinSeverity = floor
	}
	for _, s := range o.IgnoreStatuses {
		switch strings.ToUpper(s) {
		case string(match.StatusFixable), string(match.StatusUnfixed), string(match.StatusWillNotFix), string(match.StatusUnknownVersion):
		default:
			return nil, nil, fmt.Errorf("policy: unknown status %q (want FIXABLE, UNFIXED, WILL_NOT_FIX or UNKNOWN_VERSION)", s)
		}
	}
	if math.IsNaN(o.MinEPSS) || o.MinEPSS < 0 || o.MinEPSS > 1 {
		return nil, nil, fmt.Errorf("policy: EPSS floor %v is not a probability (want 0..1)", o.MinEPSS)
	}
	channels, err := fixChannels(o.IgnoreFixChannels)
	if err != nil {
		return nil, nil, err
	}
	o.IgnoreFixChannels = channels
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, f := range fs {
		if reason := why(f, o, now); reason != "" {
			suppressed = append(suppressed, Suppressed{Finding: f, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	return kept, suppressed, nil
}

func why(f match.Finding, o Options, now time.Time) string {
	if o.MinSeverity.Rank() > 0 && severity.Compare(f.Severity, o.MinSeverity) < 0 {
		return "below severity " + string(o.MinSeverity)
	}
	if o.OnlyKEV && f.KEV == nil {
		return "not in CISA's KEV catalog (--kev)"
	}
	if o.MinEPSS > 0 && f.EPSS == nil {
		return "no EPSS score (--min-epss)"
	}
	if o.MinEPSS > 0 && f.EPSS.Score < o.MinEPSS {
		return fmt.Sprintf("EPSS score %v below %v (--min-epss)", f.EPSS.Score, o.MinEPSS)
	}
	if o.IgnoreNotPresent && f.SymbolPresence == match.SymbolNotPresent {
		return "vulnerable symbols not present in the binary (--ignore-not-present)"
	}
	if o.IgnoreUnfixed && f.FixedVersion == "" && f.Status != match.StatusUnknownVersion {
		return "no fix available (--ignore-unfixed)"
	}
	for _, s := range o.IgnoreStatuses {
		if strings.EqualFold(s, string(f.Status)) {
			return "status " + string(f.Status) + " ignored"
		}
	}
	for _, c := range o.IgnoreFixChannels {
		if f.FixChannel != advisory.ChannelStandard && string(f.FixChannel) == c {
			return "fix only through " + o.Names.FixChannel(f.FixChannel).Service + " " + c + " (--ignore-fix-channel)"
		}
	}
	for _, r := range o.Ignores {
		if (r.ID != "" && !idMatches(f, r.ID)) || (r.Package != "" && r.Package != f.Package.Name) {
			continue
		}
		if r.SymbolPresence != "" && r.SymbolPresence != string(f.SymbolPresence) {
			continue
		}
		if !r.expires.IsZero() && now.After(r.expires) {
			continue
		}
		reason := "ignore file"
		if r.Reason != "" {
			reason += ": " + r.Reason
		}
		return reason
	}
	for _, st := range o.VEX {
		if st.applies(f) {
			return "VEX " + st.Status + vexJust(st)
		}
	}
	return ""
}

// fixChannels splits and checks --ignore-fix-channel values, lower-cased.
func fixChannels(in []string) ([]string, error) {
	var out []string
	for _, v := range in {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c == "" {
				continue
			}
			if ch := advisory.FixChannel(c); ch == advisory.ChannelStandard || !ch.Valid() {
				var names []string
				for _, x := range advisory.FixChannels() {
					names = append(names, string(x))
				}
				return nil, fmt.Errorf("policy: unknown fix channel %q (want %s)", c, strings.Join(names, ", "))
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func vexJust(st VEXStatement) string {
	if st.Justification != "" {
		return " (" + st.Justification + ")"
	}
	return ""
}

func idMatches(f match.Finding, id string) bool {
	if strings.EqualFold(f.ID, id) {
		return true
	}
	for _, r := range f.Related {
		if strings.EqualFold(r, id) {
			return true
		}
	}
	return false
}

// ErrNoStatements is returned for a VEX document with no statements.
var ErrNoStatements = errors.New("no statements")
