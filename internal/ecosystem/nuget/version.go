package nuget

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Comparator compares NuGet package versions as NuGet.Versioning's NuGetVersion
// does: one to four dot-separated numeric parts (major.minor.patch.revision,
// missing parts are 0, leading zeros allowed: "1.0.01" == "1.0.1.0"), then an
// optional SemVer 2 pre-release after '-' (dot-separated identifiers, numeric
// ones compared as numbers and before alphanumeric ones, alphanumeric ones
// compared case-insensitively, a release after all its pre-releases), then
// build metadata after '+', which is ignored.
//
// There is no maintained Go implementation of NuGet's ordering, so this is
// our own.
type Comparator struct{}

type nugetVersion struct {
	nums [4]string // digits
	pre  []string  // pre-release identifiers, lower-cased
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
	for i := range x.nums {
		if r := version.CompareDigits(x.nums[i], y.nums[i]); r != 0 {
			return r, nil
		}
	}
	return comparePrerelease(x.pre, y.pre), nil
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	return s != "" && strings.Trim(s, digits) == ""
}

const digits = "0123456789"

// identChars are the characters of a SemVer identifier.
const identChars = digits + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"

func parse(s string) (nugetVersion, error) {
	var v nugetVersion
	if err := version.CheckInput("nuget", s); err != nil {
		return v, err
	}
	bad := func(why string) (nugetVersion, error) {
		return nugetVersion{}, version.Invalid("nuget", s, errors.New(why))
	}
	rest, meta, hasMeta := strings.Cut(s, "+")
	if hasMeta {
		if err := checkIdentifiers(meta); err != nil {
			return bad("build metadata: " + err.Error())
		}
	}
	num, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(num, ".")
	if len(parts) > 4 {
		return bad(fmt.Sprintf("%d numeric parts, want 1 to 4", len(parts)))
	}
	for i := range v.nums {
		v.nums[i] = "0"
	}
	for i, p := range parts {
		if !allDigits(p) {
			return bad(fmt.Sprintf("numeric part %d is %q", i+1, p))
		}
		v.nums[i] = p
	}
	if hasPre {
		if err := checkIdentifiers(pre); err != nil {
			return bad("pre-release: " + err.Error())
		}
		v.pre = strings.Split(strings.ToLower(pre), ".")
	}
	return v, nil
}

// checkIdentifiers checks a dot-separated list of SemVer identifiers.
func checkIdentifiers(s string) error {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		if strings.Trim(id, identChars) != "" {
			return fmt.Errorf("identifier %q has a character outside [0-9A-Za-z-]", id)
		}
	}
	return nil
}

// comparePrerelease orders SemVer pre-release identifier lists; an empty
// list (a release) is greatest.
func comparePrerelease(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		xn, yn := allDigits(x), allDigits(y)
		var r int
		switch {
		case xn && yn:
			r = version.CompareDigits(x, y)
		case xn:
			r = -1
		case yn:
			r = 1
		default:
			r = strings.Compare(x, y)
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(len(a), len(b))
}
