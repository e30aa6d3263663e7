package version_test

import "github.com/stowaway-scanner/stowaway/internal/version/versiontest"

// allowAPK holds the vector lines APK deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowAPK = []versiontest.Allowed{
	{
		Reason: "invalid by apk-tools' own validator (see the \"!\" lines of apk-tools-version.data: \"!0.1bc\", \"!0.1-r\", \"!0.1_foobar\", \"!.1\", \"!a\", \"!0.1-r2-r3\"); apk falls back to an ad-hoc comparison, we return ErrInvalid.",
		Lines: []string{
			"alpine-versions.txt: 1-r = 1-r0",
			"alpine-versions.txt: 1-r-0 < 1-r0",
			"alpine-versions.txt: 1-r-1 < 1-r0",
			"alpine-versions.txt: 0.r1 < 0r2",
			"alpine-versions.txt: 0..1..0 < 0..1..1",
			"alpine-versions.txt: 0...1...0 < 0...1...1",
			"alpine-versions.txt: 0...1...0.r1 < 0...1...0.r2",
			"alpine-versions.txt: 0...1...0r1 < 0...1...0r2",
			"alpine-versions.txt: 0..8 = 0..8",
			"alpine-versions.txt: 0..8 > 0...8",
			"alpine-versions.txt: 0.8.21.r2 > 0.8.21.r1",
			"alpine-versions.txt: 10.2.24.r0 > 10.2.22.r0",
			"alpine-versions.txt: 0.8.21.r2 < 0.8.21r2",
			"alpine-versions.txt: 1.2.0A < 1.2.0d",
			"alpine-versions.txt: 1.2.0D < 1.2.0d",
			"alpine-versions.txt: 1-r2 > 1-r-1",
			"alpine-versions.txt: 1 > 1-ruff",
			"alpine-versions.txt: 1-r0-1 = 1-r-2",
			"alpine-versions.txt: 1-r0-1 = 1-r0-2",
			"alpine-versions.txt: 1-ruff2 = 1-ruff1",
			"alpine-versions.txt: 1-ruff2 = 1--ruff1",
			"alpine-versions.txt: 1-r0-ruff2 = 1-r0-ruff1",
			"alpine-versions.txt: 1.2 > 1.2_blah",
			"alpine-versions.txt: 1.2_svn1 > 1.2_csv2",
			"alpine-versions.txt: 1.2_cvs1 > 1.2_blah",
			"alpine-versions.txt: .1 < 1",
			"alpine-versions.txt: 1 > .1",
			"alpine-versions.txt: .2 > .1",
			"alpine-versions.txt: a < b",
			"alpine-versions.txt: c > b",
			"alpine-versions.txt: c = c",
			"alpine-versions.txt: 23_foo > 4_beta",
			"alpine-versions.txt: 1.0 < 1.0bc",
			"apk-tools-version.data: 23_foo > 4_beta",
			"apk-tools-version.data: 1.0 < 1.0bc",
		},
	},
	{
		Reason: "apk-tools 3 rejects a letter followed by digits; apk-tools 2 accepted it and Alpine's secdb still has such versions (openssh 6.6.2p1-r0), so we accept them with apk-tools 2's ordering.",
		Lines: []string{
			"apk-tools-version.data: !0.1a1",
		},
	},
}

// allowSemVer holds the vector lines SemVer deliberately disagrees with,
// keyed by "file: line" and grouped by reason. TestVectors fails when a
// listed line agrees (the entry is stale) or matches no line.
var allowSemVer = []versiontest.Allowed{
	{
		Reason: "numeric component above 2^53-1: npm's node-semver rejects it (MAX_SAFE_INTEGER).",
		Lines: []string{
			"semver-versions.txt: 999999999999999999999999999991 < 999999999999999999999999999999",
			"semver-versions.txt: 999999999999999999999999999991.999999999999999999999999999991.999999999999999999999999999991 < 999999999999999999999999999999.999999999999999999999999999991.999999999999999999999999999991",
		},
	},
	{
		Reason: "five numeric components: not SemVer, npm's node-semver rejects it.",
		Lines: []string{
			"semver-versions.txt: 1.1.3.4.5 = 1.1.3.4.5",
		},
	},
}
