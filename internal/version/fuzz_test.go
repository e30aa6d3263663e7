package version

import (
	"errors"
	"testing"
)

// fuzzOrder checks that a scheme's comparator is a consistent total order
// on whatever it accepts: no panics, Compare(x, x) == 0, antisymmetry, and
// transitivity on the triple; errors wrap ErrInvalid and come exactly when
// one of the versions is invalid on its own.
func fuzzOrder(f *testing.F, s Scheme) {
	for _, c := range readEdgeCases(f) {
		if c.scheme != s {
			continue
		}
		if c.invalid {
			f.Add(c.a, c.a, c.a)
			continue
		}
		f.Add(c.a, c.b, c.a)
		f.Add(c.b, c.a, c.b+"1")
	}
	cmpr, err := For(s)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		vs := []string{a, b, c}
		valid := make([]bool, 3)
		for i, v := range vs {
			r, err := cmpr.Compare(v, v)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Compare(%q, %q): error %v does not wrap ErrInvalid", v, v, err)
				}
				continue
			}
			if r != 0 {
				t.Fatalf("Compare(%q, %q) = %d, want 0", v, v, r)
			}
			valid[i] = true
		}
		var r [3][3]int
		for i := range vs {
			for j := range vs {
				n, err := cmpr.Compare(vs[i], vs[j])
				if (err == nil) != (valid[i] && valid[j]) {
					t.Fatalf("Compare(%q, %q) error = %v, but the versions' validity is %v, %v", vs[i], vs[j], err, valid[i], valid[j])
				}
				if n < -1 || n > 1 {
					t.Fatalf("Compare(%q, %q) = %d, want -1, 0 or 1", vs[i], vs[j], n)
				}
				r[i][j] = n
			}
		}
		if !valid[0] || !valid[1] || !valid[2] {
			return
		}
		for i := range vs {
			for j := range vs {
				if r[i][j] != -r[j][i] {
					t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", vs[i], vs[j], r[i][j], vs[j], vs[i], r[j][i])
				}
				for k := range vs {
					if r[i][j] <= 0 && r[j][k] <= 0 && r[i][k] > 0 {
						t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", vs[i], vs[j], vs[k], vs[i], vs[k])
					}
				}
			}
		}
	})
}

func FuzzDpkg(f *testing.F)     { fuzzOrder(f, SchemeDpkg) }
func FuzzAPK(f *testing.F)      { fuzzOrder(f, SchemeAPK) }
func FuzzRPM(f *testing.F)      { fuzzOrder(f, SchemeRPM) }
func FuzzPEP440(f *testing.F)   { fuzzOrder(f, SchemePEP440) }
func FuzzSemVer(f *testing.F)   { fuzzOrder(f, SchemeSemVer) }
func FuzzGo(f *testing.F)       { fuzzOrder(f, SchemeGo) }
func FuzzMaven(f *testing.F)    { fuzzOrder(f, SchemeMaven) }
func FuzzRubyGems(f *testing.F) { fuzzOrder(f, SchemeRubyGems) }
func FuzzNuGet(f *testing.F)    { fuzzOrder(f, SchemeNuGet) }
func FuzzComposer(f *testing.F) { fuzzOrder(f, SchemeComposer) }
