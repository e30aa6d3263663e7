package source

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestLooksLikePath(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"../shared/images/nope.tar", true},
		{"./app", true},
		{"/tmp/x", true},
		{"~/images/app.tar", true},
		{"debian-12.tar", true},
		{"images/app.tar.gz", true},
		{"layout.OCI", true},
		{"alpine:3.19", false},
		{"alpine", false},
		{"team/app", false},
		{"localhost:5000/app.tar", false},
		{"ghcr.io/o/app@sha256:0000000000000000000000000000000000000000000000000000000000000000", false},
		{"registry.example/app.tar:1", false},
		{".", false},
	}
	for _, tc := range tests {
		if got := looksLikePath(tc.in); got != tc.want {
			t.Errorf("looksLikePath(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestMissingPathIsNotARegistry: a mistyped file name fails with the file
// error, naming the source, before any registry is asked (no network here:
// a registry lookup would fail differently).
func TestMissingPathIsNotARegistry(t *testing.T) {
	for _, s := range []string{"../shared/images/nope.tar", "debian-12.tar", "./missing-dir"} {
		_, err := Resolve(context.Background(), s, Options{})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), s) || !strings.Contains(err.Error(), "registry:") {
			t.Errorf("Resolve(%q) = %v, want a not-exist error naming it and the registry: escape", s, err)
		}
	}
}
