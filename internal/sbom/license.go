package sbom

import (
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// spdxIDs is the set of SPDX license and exception ids, current and
// deprecated, spelled exactly as the SPDX license list spells them. It is
// built once and never written again.
var spdxIDs = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, list := range [][]string{spdxlicenses.GetLicenses(), spdxlicenses.GetDeprecated()} {
		for _, id := range list {
			m[id] = true
		}
	}
	return m
})

// isSPDXID reports whether s is exactly an SPDX license id.
func isSPDXID(s string) bool { return spdxIDs()[s] }

// isSPDXExpression reports whether s is a valid SPDX license expression
// (a single id, "LicenseRef-x", "A OR B", "(A AND B) WITH C", ...).
func isSPDXExpression(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > 4096 {
		return false
	}
	ok, _ := spdxexp.ValidateLicenses([]string{s})
	return ok
}

// isCompound reports whether an SPDX expression has an operator, so that it
// needs parentheses when joined into a larger expression.
func isCompound(expr string) bool {
	u := " " + strings.ToUpper(expr) + " "
	return strings.Contains(u, " OR ") || strings.Contains(u, " AND ") || strings.Contains(u, " WITH ")
}

// sanitizeID maps s to the characters allowed in SPDX ids and LicenseRefs
// ([A-Za-z0-9.-]), replacing every other rune with '-'.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
