package version

import (
	"errors"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// SemVer compares Semantic Versioning 2.0.0 versions as npm and crates.io use
// them, through github.com/Masterminds/semver/v3 in strict mode: exactly
// three numeric components, pre-release identifiers compared numerically or
// in ASCII order, build metadata ignored. A leading "v" is accepted as npm
// accepts it. Numeric components above 2^53-1 are invalid, as in npm's
// node-semver (Number.MAX_SAFE_INTEGER).
type SemVer struct{}

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER.
const maxSafeInteger = 1<<53 - 1

// Compare implements Comparator.
func (SemVer) Compare(a, b string) (int, error) {
	va, err := parseSemVer(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseSemVer(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

func parseSemVer(s string) (*semver.Version, error) {
	if err := CheckInput("semver", s); err != nil {
		return nil, err
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil, Invalid("semver", s, err)
	}
	if v.Major() > maxSafeInteger || v.Minor() > maxSafeInteger || v.Patch() > maxSafeInteger {
		return nil, Invalid("semver", s, errors.New("numeric component above 2^53-1"))
	}
	return v, nil
}
