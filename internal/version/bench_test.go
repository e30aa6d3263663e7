package version_test

import (
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/version/versiontest"
)

// benchPairs are realistic (installed, fixed) pairs per scheme.
var benchPairs = map[string][][2]string{
	"dpkg": {
		{"2.36-9+deb12u4", "2.36-9+deb12u7"},
		{"1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1ubuntu0.1"},
		{"3.0.11-1~deb12u2", "3.0.13-1~deb12u1"},
		{"252.22-1~deb12u1", "252.22-1~deb12u1"},
	},
	"rpm": {
		{"0:5.14.0-362.8.1.el9_3", "0:5.14.0-362.18.1.el9_3"},
		{"1:1.1.1k-12.el8_9", "1:1.1.1k-9.el8_7"},
		{"2.34-83.el9_3.7", "2.34-83.el9_3.12"},
		{"7.61.1-34.el8_10.2", "7.61.1-34.el8_10.2"},
	},
}

func benchmarkCompare(b *testing.B, scheme string, c version.Comparator) {
	pairs := benchPairs[scheme]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		if _, err := c.Compare(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDpkgCompare(b *testing.B) { benchmarkCompare(b, "dpkg", version.Dpkg{}) }
func BenchmarkRPMCompare(b *testing.B)  { benchmarkCompare(b, "rpm", version.RPM{}) }

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per scheme and shape (each comparator is linear in the
// length; the ecosystems' own schemes have theirs in their packages).
func BenchmarkCompareLongest(b *testing.B) {
	for _, s := range schemes {
		b.Run(s.name, func(b *testing.B) { versiontest.BenchmarkLongest(b, s.c) })
	}
}
