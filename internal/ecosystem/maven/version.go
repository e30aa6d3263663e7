package maven

import (
	"cmp"
	"errors"
	"strings"

	mvn "github.com/masahiro331/go-mvn-version"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Comparator compares Maven versions with the ordering of Maven's
// ComparableVersion (qualifiers alpha < beta < milestone < rc < snapshot <
// "" (release) < sp, unknown qualifiers after them in lexical order; trailing
// zeros and separators normalised away), through
// github.com/masahiro331/go-mvn-version. Numbers longer than 18 digits are
// refused (the library cannot hold them). Known differences from Maven,
// listed in the test allow-list: the library does not treat "final" and
// "ga" after a '-' as the release ("3.5.0-Final" sorts after "3.5.0" and
// after "3.5.0.Beta-1"; "1-ga-1" != "1-1").
//
// KNOWN LIMITATION: this is Maven 3.6's ComparableVersion, which is not
// transitive on some inputs that mix a qualifier after '.' with lists after
// '-' (FuzzMaven finds 1.0-SNAPSHOT < 1 < 1.A but 1.0-SNAPSHOT > 1.A within
// a second). Maven 3.9 fixed this by parsing a trailing ".X" as "-X"; a port
// of Maven 3.9's ComparableVersion should replace the library. Rewriting
// only the trailing qualifier on top of the library is not enough (it breaks
// 173 vectors and stays intransitive).
type Comparator struct{}

// Compare implements version.Comparator.
func (Comparator) Compare(a, b string) (int, error) {
	va, err := parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := parse(b)
	if err != nil {
		return 0, err
	}
	return cmp.Compare(va.Compare(vb), 0), nil
}

func parse(s string) (mvn.Version, error) {
	if err := version.CheckInput("maven", s); err != nil {
		return mvn.Version{}, err
	}
	// The library keeps numbers in an int and reads one that does not fit
	// as 0, which would make 1.99999999999999999999 equal
	// 1.99999999999999999998; refuse them instead.
	for _, n := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(strings.TrimLeft(n, "0")) > 18 {
			return mvn.Version{}, version.Invalid("maven", s, errors.New("number longer than 18 digits"))
		}
	}
	v, err := mvn.NewVersion(s)
	if err != nil {
		return mvn.Version{}, version.Invalid("maven", s, err)
	}
	return v, nil
}
