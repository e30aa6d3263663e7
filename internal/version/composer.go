package version

import (
	"errors"
	"fmt"
	"strings"
)

// Composer compares Packagist (Composer) versions with PHP's
// version_compare, which OSV's Packagist ordering follows:
//
//   - a leading "v" or "V" is dropped;
//   - the version is split into parts at '.', '-', '_' and '+' and wherever
//     digits meet non-digits ("1.0rc1" is 1, 0, rc, 1);
//   - numbers compare as numbers (of any length); words rank by their
//     prefix: any other word < "dev" < "alpha"/"a" < "beta"/"b" < "RC"/"rc"
//     < a number < "pl"/"p";
//   - when one version runs out of parts, it is smaller than a remaining
//     number and otherwise ranks as a number does ("1.0" < "1.0.0",
//     "1.0rc1" < "1.0" < "1.0pl1").
//
// Only letters, digits and . - _ + are accepted. PHP's "#" (which it ranks
// equal to every number, so that "1.#" == "1.1" and "1.#" == "1.2") is
// rejected: it would make the order intransitive.
type Composer struct{}

// composer part ranks.
const (
	phpOther = iota
	phpDev
	phpAlpha
	phpBeta
	phpRC
	phpNumber
	phpPatch
)

type phpPart struct {
	rank   int
	digits string // for phpNumber
}

// Compare implements Comparator.
func (Composer) Compare(a, b string) (int, error) {
	x, err := parseComposer(a)
	if err != nil {
		return 0, err
	}
	y, err := parseComposer(b)
	if err != nil {
		return 0, err
	}
	for i := 0; ; i++ {
		switch {
		case i >= len(x) && i >= len(y):
			return 0, nil
		case i >= len(x):
			return -comparePHPEnd(y[i]), nil
		case i >= len(y):
			return comparePHPEnd(x[i]), nil
		}
		p, q := x[i], y[i]
		if p.rank != q.rank {
			return sign(p.rank - q.rank), nil
		}
		if p.rank == phpNumber {
			if r := compareDigits(p.digits, q.digits); r != 0 {
				return r, nil
			}
		}
	}
}

// comparePHPEnd compares a remaining part with the end of the other version.
func comparePHPEnd(p phpPart) int {
	if p.rank == phpNumber {
		return 1
	}
	return sign(p.rank - phpNumber)
}

func phpRank(word string) int {
	for _, f := range []struct {
		prefix string
		rank   int
	}{{"dev", phpDev}, {"alpha", phpAlpha}, {"a", phpAlpha}, {"beta", phpBeta}, {"b", phpBeta}, {"RC", phpRC}, {"rc", phpRC}, {"pl", phpPatch}, {"p", phpPatch}} {
		if strings.HasPrefix(word, f.prefix) {
			return f.rank
		}
	}
	return phpOther
}

func parseComposer(s string) ([]phpPart, error) {
	if err := checkInput(SchemeComposer, s); err != nil {
		return nil, err
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !isLower(c) && !(c >= 'A' && c <= 'Z') && !strings.ContainsRune(".-_+", rune(c)) {
			return nil, invalid(SchemeComposer, s, fmt.Errorf("character %q", c))
		}
	}
	t := s
	if t[0] == 'v' || t[0] == 'V' {
		t = t[1:]
	}
	var parts []phpPart
	for len(t) > 0 {
		switch c := t[0]; {
		case c == '.' || c == '-' || c == '_' || c == '+':
			t = t[1:]
		case isDigit(c):
			n := span(t, isDigit)
			parts = append(parts, phpPart{rank: phpNumber, digits: t[:n]})
			t = t[n:]
		default:
			n := span(t, func(c byte) bool { return !isDigit(c) && !strings.ContainsRune(".-_+", rune(c)) })
			parts = append(parts, phpPart{rank: phpRank(t[:n])})
			t = t[n:]
		}
	}
	if len(parts) == 0 {
		return nil, invalid(SchemeComposer, s, errors.New("no version parts"))
	}
	return parts, nil
}
