package pypi

import (
	"cmp"

	pep440 "github.com/aquasecurity/go-pep440-version"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Comparator compares Python package versions (PEP 440: epochs, pre-, post-
// and dev-releases, local versions) through
// github.com/aquasecurity/go-pep440-version. Versions that are not PEP 440
// (pip's packaging >= 22 rejects them too) are invalid.
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

func parse(s string) (pep440.Version, error) {
	if err := version.CheckInput("pep440", s); err != nil {
		return pep440.Version{}, err
	}
	v, err := pep440.Parse(s)
	if err != nil {
		return pep440.Version{}, version.Invalid("pep440", s, err)
	}
	return v, nil
}
