package maven_test

import "github.com/stowaway-scanner/stowaway/internal/version/versiontest"

// allowList holds the vector lines Comparator deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowList = []versiontest.Allowed{
	{
		Reason: "github.com/masahiro331/go-mvn-version does not treat \"ga\"/\"final\" after a '-' as the release qualifier (Maven does).",
		Lines: []string{
			"maven-versions.txt: 1-1 = 1-ga-1",
			"maven-versions-generated.txt: 3.5.0.Beta-1 < 3.5.0-Final",
		},
	},
	{
		Reason: "number longer than 18 digits: github.com/masahiro331/go-mvn-version cannot hold it (it would read it as 0), so we refuse it.",
		Lines: []string{
			"maven-versions.txt: 123456789012345.1H.5-beta < 12345678901234567890.1H.5-beta",
			"maven-versions.txt: 1234567890.12345 < 12345678901234567890.1H.5-beta",
			"maven-versions.txt: 20190126.230843 < 12345678901234567890.1H.5-beta",
		},
	},
}
