package golang

import (
	"errors"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/version"
	"golang.org/x/mod/semver"
)

// Comparator compares Go module versions and Go toolchain (stdlib) versions
// with golang.org/x/mod/semver after normalising every spelling to a
// canonical "v"-prefixed semver:
//
//   - "v1.2.3", pseudo-versions ("v0.0.0-20210101000000-abcdef123456") and
//     "+incompatible" versions as they are (build metadata is ignored);
//   - OSV's Go ecosystem spelling without the "v": "1.2.3";
//   - toolchain versions as build info records them, following
//     golang.org/x/vuln: "go1.21.5" is v1.21.5, "go1.21" is v1.21.0,
//     "go1.21rc2" is v1.21.0-rc.2, "go1.19beta1" is v1.19.0-beta.1, and a
//     trailing " X:experiment" list is dropped.
//
// "devel" toolchains and "(devel)" main modules are invalid: they carry no
// orderable version.
type Comparator struct{}

// Compare implements version.Comparator.
func (Comparator) Compare(a, b string) (int, error) {
	va, err := normalize(a)
	if err != nil {
		return 0, err
	}
	vb, err := normalize(b)
	if err != nil {
		return 0, err
	}
	return semver.Compare(va, vb), nil
}

func normalize(s string) (string, error) {
	// Build info may record "go1.22.0 X:boringcrypto"; keep the version.
	if i := strings.Index(s, " X:"); i > 0 && strings.HasPrefix(s, "go") {
		s = s[:i]
	}
	if err := version.CheckInput("go", s); err != nil {
		return "", err
	}
	var v string
	switch {
	case strings.HasPrefix(s, "go"):
		t, ok := goTagToSemver(s[2:])
		if !ok {
			return "", version.Invalid("go", s, errors.New("not a Go release (go1.N[.P], go1.NrcN, go1.NbetaN)"))
		}
		v = t
	case strings.HasPrefix(s, "v"):
		v = s
	default:
		v = "v" + s
	}
	if !semver.IsValid(v) {
		return "", version.Invalid("go", s, errors.New("not semver"))
	}
	return v, nil
}

// goTagToSemver converts "1.21.5", "1.21", "1.21rc2" or "1.19beta1" (a Go
// release tag without its "go") to semver.
func goTagToSemver(t string) (string, bool) {
	num, pre := t, ""
	for _, p := range []string{"rc", "beta"} {
		if i := strings.Index(t, p); i > 0 {
			n := t[i+len(p):]
			if !allDigits(n) {
				return "", false
			}
			num, pre = t[:i], "-"+p+"."+n
			break
		}
	}
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return "", false
		}
	}
	if len(parts) == 2 {
		parts = append(parts, "0")
	}
	return "v" + strings.Join(parts, ".") + pre, true
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
