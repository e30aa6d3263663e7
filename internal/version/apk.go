package version

import (
	"errors"
	"fmt"
	"strings"
)

// APK compares Alpine package versions as apk-tools 3 does:
//
//	digits{.digits}[letter]{_suffix[digits]}[~hexhash][-r digits]
//
// with suffixes alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p.
// As in apk-tools 2, a letter may be followed by more digits ("6.6.2p1",
// still found in Alpine's secdb); apk-tools 3 rejects that.
// A component after a dot that starts with "0" is compared as a string
// ("1.01" < "1.1", "8.2.0015" < "8.2.002"), other numbers numerically at any
// length. Versions that apk-tools' validator rejects (two letters, unknown
// suffixes, "-r" without a number, anything
// after the revision) are errors.
//
// github.com/knqyf263/go-apk-version is not used: it follows apk-tools 2,
// which accepts several of those versions and knows no "~hash" component.
type APK struct{}

// Compare implements Comparator.
func (APK) Compare(a, b string) (int, error) {
	ta, err := parseAPK(a)
	if err != nil {
		return 0, err
	}
	tb, err := parseAPK(b)
	if err != nil {
		return 0, err
	}
	return compareAPK(ta, tb), nil
}

// apk token kinds, in apk-tools' order: when two versions agree up to the
// point where one has a token of a higher kind than the other, the one with
// the lower kind is greater, except for pre-release suffixes.
const (
	apkInitial = iota
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkHash
	apkRevision
	apkEnd
)

type apkToken struct {
	kind   int
	text   string // digits, letter, suffix name or hash
	suffix int    // suffix order, negative for pre-releases
}

var apkSuffixes = []struct {
	name  string
	order int
}{
	{"alpha", -4}, {"beta", -3}, {"pre", -2}, {"rc", -1},
	{"cvs", 0}, {"svn", 1}, {"git", 2}, {"hg", 3}, {"p", 4},
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') }

// span returns the length of the prefix of s whose bytes satisfy ok.
func span(s string, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func parseAPK(v string) ([]apkToken, error) {
	if err := CheckInput("apk", v); err != nil {
		return nil, err
	}
	bad := func(why string) ([]apkToken, error) {
		return nil, Invalid("apk", v, errors.New(why))
	}
	s := v
	var toks []apkToken
	n := span(s, isDigit)
	if n == 0 {
		return bad("does not start with a digit")
	}
	toks = append(toks, apkToken{kind: apkInitial, text: s[:n]})
	s = s[n:]
	for len(s) > 0 {
		if s[0] == '.' {
			n = span(s[1:], isDigit)
			if n == 0 {
				return bad("no digits after '.'")
			}
			toks = append(toks, apkToken{kind: apkDigit, text: s[1 : 1+n]})
			s = s[1+n:]
			continue
		}
		if !isLower(s[0]) {
			break
		}
		toks = append(toks, apkToken{kind: apkLetter, text: s[:1]})
		s = s[1:]
		// apk-tools 2 allowed digits after the letter ("6.6.2p1").
		n = span(s, isDigit)
		if n == 0 {
			break
		}
		toks = append(toks, apkToken{kind: apkDigit, text: s[:n]})
		s = s[n:]
	}
	for len(s) > 0 && s[0] == '_' {
		n = span(s[1:], isLower)
		name := s[1 : 1+n]
		order, ok := 0, false
		for _, x := range apkSuffixes {
			if x.name == name {
				order, ok = x.order, true
				break
			}
		}
		if !ok {
			return bad(fmt.Sprintf("unknown suffix %q", "_"+name))
		}
		toks = append(toks, apkToken{kind: apkSuffix, text: name, suffix: order})
		s = s[1+n:]
		if n = span(s, isDigit); n > 0 {
			toks = append(toks, apkToken{kind: apkSuffixNo, text: s[:n]})
			s = s[n:]
		}
	}
	if len(s) > 0 && s[0] == '~' {
		n = span(s[1:], isHex)
		if n == 0 {
			return bad("no lowercase hex commit hash after '~'")
		}
		toks = append(toks, apkToken{kind: apkHash, text: s[1 : 1+n]})
		s = s[1+n:]
	}
	if strings.HasPrefix(s, "-r") {
		n = span(s[2:], isDigit)
		if n == 0 {
			return bad("no number after '-r'")
		}
		toks = append(toks, apkToken{kind: apkRevision, text: s[2 : 2+n]})
		s = s[2+n:]
	}
	if s != "" {
		return bad(fmt.Sprintf("unexpected %q", s))
	}
	return toks, nil
}

func compareAPK(a, b []apkToken) int {
	i := 0
	for ; i < len(a) && i < len(b) && a[i].kind == b[i].kind; i++ {
		x, y := a[i], b[i]
		var r int
		switch x.kind {
		case apkDigit:
			if x.text[0] == '0' || y.text[0] == '0' {
				r = strings.Compare(x.text, y.text)
			} else {
				r = CompareDigits(x.text, y.text)
			}
		case apkInitial, apkSuffixNo, apkRevision:
			r = CompareDigits(x.text, y.text)
		case apkSuffix:
			r = sign(x.suffix - y.suffix)
		default: // letter, hash
			r = strings.Compare(x.text, y.text)
		}
		if r != 0 {
			return r
		}
	}
	ka, kb := apkEnd, apkEnd
	if i < len(a) {
		ka = a[i].kind
	}
	if i < len(b) {
		kb = b[i].kind
	}
	switch {
	case ka == kb:
		return 0
	case ka == apkSuffix && a[i].suffix < 0:
		return -1
	case kb == apkSuffix && b[i].suffix < 0:
		return 1
	case ka > kb:
		return -1
	}
	return 1
}
