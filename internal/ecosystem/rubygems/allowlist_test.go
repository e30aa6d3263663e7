package rubygems_test

import "github.com/stowaway-scanner/stowaway/internal/version/versiontest"

// allowList holds the vector lines Comparator deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowList = []versiontest.Allowed{
	{
		Reason: "Gem::Version.new raises \"Malformed version number string\" for it (a letter directly after the first number); so does the library.",
		Lines: []string{
			"rubygems-versions.txt: 1 > 1beta",
			"rubygems-versions.txt: 1 > 1gamma",
		},
	},
}
