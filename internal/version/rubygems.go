package version

import (
	gem "github.com/aquasecurity/go-gem-version"
)

// RubyGems compares gem versions with Gem::Version's ordering (segments
// split at dots and at letter/digit changes; a segment with letters makes a
// pre-release), through github.com/aquasecurity/go-gem-version.
type RubyGems struct{}

// Compare implements Comparator.
func (RubyGems) Compare(a, b string) (int, error) {
	va, err := parseGem(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseGem(b)
	if err != nil {
		return 0, err
	}
	return sign(va.Compare(vb)), nil
}

func parseGem(s string) (gem.Version, error) {
	if err := checkInput(SchemeRubyGems, s); err != nil {
		return gem.Version{}, err
	}
	v, err := gem.NewVersion(s)
	if err != nil {
		return gem.Version{}, invalid(SchemeRubyGems, s, err)
	}
	return v, nil
}
