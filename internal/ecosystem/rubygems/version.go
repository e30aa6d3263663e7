package rubygems

import (
	"cmp"

	gem "github.com/aquasecurity/go-gem-version"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Comparator compares gem versions with Gem::Version's ordering (segments
// split at dots and at letter/digit changes; a segment with letters makes a
// pre-release), through github.com/aquasecurity/go-gem-version.
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

func parse(s string) (gem.Version, error) {
	if err := version.CheckInput("rubygems", s); err != nil {
		return gem.Version{}, err
	}
	v, err := gem.NewVersion(s)
	if err != nil {
		return gem.Version{}, version.Invalid("rubygems", s, err)
	}
	return v, nil
}
