package version

import (
	"errors"
	"strings"

	rpmver "github.com/knqyf263/go-rpm-version"
)

// RPM compares [epoch:]version[-release] strings as rpm does: the EVR is
// split as rpm's parseEVR splits it (the epoch is the leading digits before a
// ':', "" meaning 0; the release follows the last '-'), epochs compare as
// numbers, and version and release compare with rpmvercmp (tilde sorts
// before everything, caret after the base version: 1.0~rc1 < 1.0 < 1.0^git1
// < 1.0.1), taken from github.com/knqyf263/go-rpm-version. A version without
// a release sorts before the same version with any release, even "1-".
//
// An EVR whose version part is empty ("0:", "-1", "1:-2") is invalid: rpm
// refuses a package without a version, and rpmvercmp would order "" below
// every version, so a package with no version would be taken as older than
// every fix.
//
// The library's own EVR parser is not used: it splits the release at the
// first '-' and reads a non-numeric epoch as 0, so "1.m+e2:1" would parse as
// epoch 0, version "1".
type RPM struct{}

type evr struct {
	epoch, version, release string
	hasRelease              bool
}

// Compare implements Comparator.
func (RPM) Compare(a, b string) (int, error) {
	x, err := parseEVR(a)
	if err != nil {
		return 0, err
	}
	y, err := parseEVR(b)
	if err != nil {
		return 0, err
	}
	if r := CompareDigits(x.epoch, y.epoch); r != 0 {
		return r, nil
	}
	if r := rpmvercmp(x.version, y.version); r != 0 {
		return r, nil
	}
	switch {
	case x.hasRelease && !y.hasRelease:
		return 1, nil
	case !x.hasRelease && y.hasRelease:
		return -1, nil
	}
	return rpmvercmp(x.release, y.release), nil
}

func parseEVR(s string) (evr, error) {
	if err := CheckInput("rpm", s); err != nil {
		return evr{}, err
	}
	var e evr
	n := span(s, isDigit)
	rest := s
	e.epoch = "0"
	if n < len(s) && s[n] == ':' {
		if n > 0 {
			e.epoch = s[:n]
		}
		rest = s[n+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		e.version, e.release, e.hasRelease = rest[:i], rest[i+1:], true
	} else {
		e.version = rest
	}
	if e.version == "" {
		return evr{}, Invalid("rpm", s, errors.New("empty version part"))
	}
	return e, nil
}

// rpmvercmp compares two version or release strings with rpm's rpmvercmp,
// through the library: every byte that is not alphanumeric, '~' or '^' is a
// separator to rpmvercmp, so '-' is rewritten to '.' and an explicit zero
// epoch keeps the library's parser from splitting the string again.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	va := rpmver.NewVersion("0:" + strings.ReplaceAll(a, "-", "."))
	vb := rpmver.NewVersion("0:" + strings.ReplaceAll(b, "-", "."))
	return sign(va.Compare(vb))
}
