package version

import (
	"errors"
	"strings"

	deb "github.com/knqyf263/go-deb-version"
)

// Dpkg compares Debian and Ubuntu versions ([epoch:]upstream[-revision])
// with dpkg's rules, through github.com/knqyf263/go-deb-version.
type Dpkg struct{}

// Compare implements Comparator.
func (Dpkg) Compare(a, b string) (int, error) {
	va, err := parseDpkg(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseDpkg(b)
	if err != nil {
		return 0, err
	}
	return sign(va.Compare(vb)), nil
}

func parseDpkg(s string) (deb.Version, error) {
	if err := CheckInput("dpkg", s); err != nil {
		return deb.Version{}, err
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			return deb.Version{}, Invalid("dpkg", s, errors.New("non-ASCII character"))
		}
		n := span(s[i:], isDigit)
		if n == 0 {
			i++
			continue
		}
		// The library keeps numbers in an int and reads one that does
		// not fit as 0; dpkg itself overflows. Refuse them.
		if len(strings.TrimLeft(s[i:i+n], "0")) > 18 {
			return deb.Version{}, Invalid("dpkg", s, errors.New("number longer than 18 digits"))
		}
		i += n
	}
	if e, _, ok := strings.Cut(s, ":"); ok && span(e, isDigit) != len(e) {
		return deb.Version{}, Invalid("dpkg", s, errors.New("epoch is not a number"))
	}
	v, err := deb.NewVersion(s)
	if err != nil {
		return deb.Version{}, Invalid("dpkg", s, err)
	}
	return v, nil
}
