package version

import (
	pep440 "github.com/aquasecurity/go-pep440-version"
)

// PEP440 compares Python package versions (PEP 440: epochs, pre-, post- and
// dev-releases, local versions) through
// github.com/aquasecurity/go-pep440-version.
type PEP440 struct{}

// Compare implements Comparator.
func (PEP440) Compare(a, b string) (int, error) {
	va, err := parsePEP440(a)
	if err != nil {
		return 0, err
	}
	vb, err := parsePEP440(b)
	if err != nil {
		return 0, err
	}
	return sign(va.Compare(vb)), nil
}

func parsePEP440(s string) (pep440.Version, error) {
	if err := checkInput(SchemePEP440, s); err != nil {
		return pep440.Version{}, err
	}
	v, err := pep440.Parse(s)
	if err != nil {
		return pep440.Version{}, invalid(SchemePEP440, s, err)
	}
	return v, nil
}
