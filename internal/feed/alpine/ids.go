package alpine

import (
	"regexp"
	"slices"
	"strings"
)

// IDRef is what one secdb id string names.
type IDRef struct {
	// CVEs are the normalized CVE ids, in order of appearance.
	CVEs []string
	// Others are the non-CVE ids (XSA-1, TALOS-2017-0394, GHSA-...).
	Others []string
	// Bad are tokens that are neither an id nor a known placeholder.
	Bad []string
	// NotAffected is set when a comment says the id does not apply
	// ("(not actually applicable)", "(Not affected, ...)").
	NotAffected bool
}

var (
	cveRe         = regexp.MustCompile(`^(?i:CVE)[-_]([0-9]{4})-([0-9]{4,})(?:-[0-9]+|\.patch)?$`)
	placeholderRe = regexp.MustCompile(`^(?i:CVE)(?:-[0-9?]{4})?(?:-\?+)?$|^(?i:N/A)$|^-$`)
	otherRe       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*$`)
	notRe         = regexp.MustCompile(`^\((?i:not)\b`)
)

// ParseIDs splits one secdb id string ("CVE-2017-2887 TALOS-2017-0394",
// "CVE_2019-2426", "CVE-2020-14342 (not actually applicable)").
func ParseIDs(s string) IDRef {
	var r IDRef
	if i := strings.IndexByte(s, '('); i >= 0 {
		r.NotAffected = notRe.MatchString(strings.TrimSpace(s[i:]))
		s = s[:i]
	}
	for _, tok := range strings.Fields(s) {
		tok = strings.TrimRight(tok, ",;:")
		switch {
		case tok == "":
		case cveRe.MatchString(tok):
			m := cveRe.FindStringSubmatch(tok)
			id := "CVE-" + m[1] + "-" + m[2]
			if !slices.Contains(r.CVEs, id) {
				r.CVEs = append(r.CVEs, id)
			}
		case placeholderRe.MatchString(tok):
		case strings.HasPrefix(strings.ToUpper(tok), "CVE"):
			r.Bad = append(r.Bad, tok)
		case otherRe.MatchString(tok) && strings.ContainsAny(tok, "0123456789"):
			if !slices.Contains(r.Others, tok) {
				r.Others = append(r.Others, tok)
			}
		default:
			r.Bad = append(r.Bad, tok)
		}
	}
	return r
}

// Vulns are the ids that become advisories: every CVE, or else the first
// other id.
func (r IDRef) Vulns() []string {
	if len(r.CVEs) > 0 {
		return r.CVEs
	}
	if len(r.Others) > 0 {
		return r.Others[:1]
	}
	return nil
}

// aliasesFor are the aliases an advisory for id gets from this string: the
// non-CVE ids other than itself.
func (r IDRef) aliasesFor(id string) []string {
	var out []string
	for _, o := range r.Others {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}
