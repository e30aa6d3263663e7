package version

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// CPE compares the versions NVD's CPE configurations name (versionStart/End
// bounds and exact versions) with the versions the binary classifier reads
// out of files, which follow their upstream's own spelling: OpenSSL's
// letter releases (1.1.1w), PostgreSQL's two-part versions (15.4),
// Ruby's and Java's (2.7.7, 17.0.9, 1.8.0_392). There is no one grammar,
// so the order is a generic one, the same for every product:
//
//   - A version is split into runs of ASCII digits (compared as numbers)
//     and runs of letters (compared case-insensitively); every other byte
//     separates runs and is otherwise ignored ("1.8.0_392" is 1 8 0 392).
//   - Run by run, a missing run counts as the number 0 (1.0 = 1.0.0 = 1),
//     the pre-release words alpha, beta, rc, pre, preview, dev and
//     snapshot sit below it, and other words above every number:
//     3.0.0-beta1 < 3.0.0 < 3.0.0.1 < 3.0.0a, and 1.1.1 < 1.1.1a <
//     1.1.1w < 1.1.2.
//   - A version written ">X" (AboveMark, what the DB writes for NVD's
//     versionStartExcluding X) sits just above X: above X and everything
//     equal to it, below every version above X.
//
// Versions are checked with CheckInput (no spaces, at most MaxLen bytes).
type CPE struct{}

// AboveMark prefixes a version that stands for "just above it": an
// introduced event ">1.2" opens the range right after 1.2 (NVD's
// versionStartExcluding). Only CPE gives it that meaning.
const AboveMark = advisory.CPEAboveMark

type cpeRun struct {
	class int // cpePre, cpeWord or cpeNum
	s     string
}

// Run classes, in order. A missing run is cpeZero.
const (
	cpePre = iota
	cpeZero
	cpeNum
	cpeWord
)

var cpePreWords = map[string]bool{"alpha": true, "beta": true, "rc": true, "pre": true, "preview": true, "dev": true, "snapshot": true}

type cpeVersion struct {
	runs  []cpeRun
	above bool
}

func parseCPE(v string) (cpeVersion, error) {
	var out cpeVersion
	s := v
	if rest, ok := strings.CutPrefix(s, AboveMark); ok {
		out.above, s = true, rest
	}
	if err := CheckInput("cpe", s); err != nil {
		return out, err
	}
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x80 && (isDigit(byte(r)) || isLetter(byte(r))) }) {
		// Nothing but separators: no order to give it.
		return out, Invalid("cpe", v, nil)
	}
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case isDigit(c):
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n := strings.TrimLeft(s[i:j], "0")
			class := cpeNum
			if n == "" {
				class = cpeZero
			}
			out.runs = append(out.runs, cpeRun{class, n})
		case isLetter(c):
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			w := strings.ToLower(s[i:j])
			class := cpeWord
			if cpePreWords[w] {
				class = cpePre
			}
			out.runs = append(out.runs, cpeRun{class, w})
		}
		i = j
	}
	return out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Compare implements Comparator.
func (CPE) Compare(a, b string) (int, error) {
	va, err := parseCPE(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseCPE(b)
	if err != nil {
		return 0, err
	}
	n := max(len(va.runs), len(vb.runs))
	for i := range n {
		ra, rb := cpeRun{class: cpeZero}, cpeRun{class: cpeZero}
		if i < len(va.runs) {
			ra = va.runs[i]
		}
		if i < len(vb.runs) {
			rb = vb.runs[i]
		}
		if ra.class != rb.class {
			return sign(ra.class - rb.class), nil
		}
		var c int
		if ra.class == cpeNum {
			c = CompareDigits(ra.s, rb.s)
		} else {
			c = strings.Compare(ra.s, rb.s)
		}
		if c != 0 {
			return c, nil
		}
	}
	switch {
	case va.above && !vb.above:
		return 1, nil
	case !va.above && vb.above:
		return -1, nil
	}
	return 0, nil
}
