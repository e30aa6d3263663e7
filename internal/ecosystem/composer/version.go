package composer

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Comparator compares Packagist (Composer) versions with PHP's
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
type Comparator struct{}

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

// Compare implements version.Comparator.
func (Comparator) Compare(a, b string) (int, error) {
	x, err := parse(a)
	if err != nil {
		return 0, err
	}
	y, err := parse(b)
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
			return cmp.Compare(p.rank, q.rank), nil
		}
		if p.rank == phpNumber {
			if r := version.CompareDigits(p.digits, q.digits); r != 0 {
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
	return cmp.Compare(p.rank, phpNumber)
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

func parse(s string) ([]phpPart, error) {
	if err := version.CheckInput("composer", s); err != nil {
		return nil, err
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(allowed, r) }); i >= 0 {
		return nil, version.Invalid("composer", s, fmt.Errorf("character %q", s[i]))
	}
	t := s
	if t[0] == 'v' || t[0] == 'V' {
		t = t[1:]
	}
	var parts []phpPart
	for len(t) > 0 {
		switch c := t[0]; {
		case strings.ContainsRune(separators, rune(c)):
			t = t[1:]
		case c >= '0' && c <= '9':
			n := prefix(t, func(c byte) bool { return c >= '0' && c <= '9' })
			parts = append(parts, phpPart{rank: phpNumber, digits: t[:n]})
			t = t[n:]
		default:
			n := prefix(t, func(c byte) bool { return (c < '0' || c > '9') && !strings.ContainsRune(separators, rune(c)) })
			parts = append(parts, phpPart{rank: phpRank(t[:n])})
			t = t[n:]
		}
	}
	if len(parts) == 0 {
		return nil, version.Invalid("composer", s, errors.New("no version parts"))
	}
	return parts, nil
}

const (
	// separators split a version into parts.
	separators = ".-_+"
	// allowed are the characters a version may have.
	allowed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + separators
)

// prefix returns the length of the prefix of s whose bytes satisfy ok.
func prefix(s string, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}
