// Package feedtest holds test helpers for feed updaters: an in-memory
// feed.Source with conditional GETs.
package feedtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Source serves Files (path -> content). Its ETag is derived from the
// content, so a conditional GET of an unchanged file answers
// feed.ErrNotModified. It records every GET in Gets, and lists directories
// only when CanList is set (as a mirror directory can and plain HTTP cannot).
type Source struct {
	Files   map[string]string
	CanList bool
	Gets    []string
}

var _ feed.Source = (*Source)(nil)

// Get implements feed.Source.
func (s *Source) Get(_ context.Context, p string, prev feed.Validator) (io.ReadCloser, feed.Validator, error) {
	s.Gets = append(s.Gets, p)
	data, ok := s.Files[p]
	if !ok {
		return nil, feed.Validator{}, &fs.PathError{Op: "get", Path: p, Err: fs.ErrNotExist}
	}
	etag := `"` + data + `"`
	if prev.ETag == etag {
		return nil, feed.Validator{}, feed.ErrNotModified
	}
	return io.NopCloser(strings.NewReader(data)), feed.Validator{ETag: etag}, nil
}

// List implements feed.Source.
func (s *Source) List(_ context.Context, dir string) ([]string, error) {
	if !s.CanList {
		return nil, errors.ErrUnsupported
	}
	var out []string
	for p := range s.Files {
		if path.Dir(p) == dir {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrNotExist}
	}
	sort.Strings(out)
	return out, nil
}

// AlpineSecDB is an Alpine secdb document for one release ("v3.19") of the
// main repository, fixing each package (name → [fixed version, CVE]): a
// small upstream-format fixture for tests that build a DB.
func AlpineSecDB(release string, fixes map[string][2]string) string {
	type pkg struct {
		Pkg struct {
			Name     string              `json:"name"`
			Secfixes map[string][]string `json:"secfixes"`
		} `json:"pkg"`
	}
	doc := struct {
		Archs         []string `json:"archs"`
		Reponame      string   `json:"reponame"`
		URLPrefix     string   `json:"urlprefix"`
		Distroversion string   `json:"distroversion"`
		Packages      []pkg    `json:"packages"`
	}{[]string{"x86_64"}, "main", "https://dl-cdn.alpinelinux.org/alpine", release, nil}
	names := make([]string, 0, len(fixes))
	for name := range fixes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var p pkg
		p.Pkg.Name = name
		p.Pkg.Secfixes = map[string][]string{fixes[name][0]: {fixes[name][1]}}
		doc.Packages = append(doc.Packages, p)
	}
	b, _ := json.Marshal(doc)
	return string(b)
}
