package golang_test

import "github.com/stowaway-scanner/stowaway/internal/version/versiontest"

// allowList holds the vector lines Comparator deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowList = []versiontest.Allowed{
	{
		Reason: "five numeric components: not a valid Go module version (golang.org/x/mod/semver rejects it).",
		Lines: []string{
			"semver-versions.txt: 1.1.3.4.5 = 1.1.3.4.5",
		},
	},
}
