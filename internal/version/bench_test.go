package version

import "testing"

// benchPairs are realistic (installed, fixed) pairs per scheme.
var benchPairs = map[Scheme][][2]string{
	SchemeDpkg: {
		{"2.36-9+deb12u4", "2.36-9+deb12u7"},
		{"1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1ubuntu0.1"},
		{"3.0.11-1~deb12u2", "3.0.13-1~deb12u1"},
		{"252.22-1~deb12u1", "252.22-1~deb12u1"},
	},
	SchemeRPM: {
		{"0:5.14.0-362.8.1.el9_3", "0:5.14.0-362.18.1.el9_3"},
		{"1:1.1.1k-12.el8_9", "1:1.1.1k-9.el8_7"},
		{"2.34-83.el9_3.7", "2.34-83.el9_3.12"},
		{"7.61.1-34.el8_10.2", "7.61.1-34.el8_10.2"},
	},
}

func benchmarkCompare(b *testing.B, s Scheme) {
	c, err := For(s)
	if err != nil {
		b.Fatal(err)
	}
	pairs := benchPairs[s]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		if _, err := c.Compare(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDpkgCompare(b *testing.B) { benchmarkCompare(b, SchemeDpkg) }
func BenchmarkRPMCompare(b *testing.B)  { benchmarkCompare(b, SchemeRPM) }

// longestShapes build versions of MaxLen bytes in shapes that make parsers
// work per byte: many components, separators, pre-release identifiers. An
// image author controls installed versions, so these bound the cost of one
// comparison (each comparator is linear in the length; see
// BenchmarkCompareLongest).
var longestShapes = []struct {
	name string
	unit string // repeated after a leading "1"
}{
	{"dots", ".1"}, {"dashes", "-1"}, {"alnum", "a1"}, {"tildes", "~a"},
	{"colons", ":1"}, {"underscores", "_p1"}, {"prerelease", ".0.0-a"},
}

func longest(unit string) string {
	v := "1"
	for len(v)+len(unit) <= MaxLen {
		v += unit
	}
	return v
}

// BenchmarkCompareLongest compares two MaxLen-byte versions that differ in
// their last byte, per scheme and shape (an invalid shape measures the
// rejection).
func BenchmarkCompareLongest(b *testing.B) {
	for _, s := range allSchemes {
		c, err := For(s)
		if err != nil {
			b.Fatal(err)
		}
		for _, sh := range longestShapes {
			a := longest(sh.unit)
			z := a[:len(a)-1] + "2"
			b.Run(string(s)+"/"+sh.name, func(b *testing.B) {
				for b.Loop() {
					_, _ = c.Compare(a, z)
				}
			})
		}
	}
}
