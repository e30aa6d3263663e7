package composer_test

import "github.com/stowaway-scanner/stowaway/internal/version/versiontest"

// allowList holds the vector lines Comparator deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowList = []versiontest.Allowed{
	{
		Reason: "\"#\" is refused: PHP ranks it equal to every number (\"1.#\" == \"1.1\" and \"1.#\" == \"1.2\"), which breaks transitivity.",
		Lines: []string{
			"packagist-versions.txt: 1.2.3.# = 1.2.3",
			"packagist-versions.txt: 1.2.3.# = 1.2.3.#",
			"packagist-versions.txt: 1.2.3.# = 1.2.3.1",
			"packagist-versions.txt: 1.2.3.#.1 > 1.2.3",
			"packagist-versions.txt: 1.2.3.#.p3 > 1.2.3",
			"packagist-versions.txt: 1.2.3.#.beta < 1.2.3",
		},
	},
}
