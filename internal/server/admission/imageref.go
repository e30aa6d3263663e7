package admission

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// ImageRef is a container image reference normalised the way container
// runtimes pull it: "nginx" is docker.io/library/nginx:latest.
type ImageRef struct {
	// Original is the reference as written in the object.
	Original string
	// Host is the registry host[:port], lower case ("docker.io").
	Host string
	// Path is the repository path ("library/nginx").
	Path string
	// Tag is the tag, "latest" when neither tag nor digest was given.
	Tag string
	// Digest is the pinned digest, if any (it wins over Tag when pulling).
	Digest string
}

// ParseImageRef normalises a container image reference.
func ParseImageRef(s string) (ImageRef, error) {
	if s == "" {
		return ImageRef{}, fmt.Errorf("empty image reference")
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return ImageRef{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	r := ImageRef{Original: s, Host: strings.ToLower(reference.Domain(named)), Path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// Name is host/path.
func (r ImageRef) Name() string { return r.Host + "/" + r.Path }

// matchesRegistry reports whether r is under an allowed entry
// host[:port][/path prefix]; the prefix matches whole path segments.
func (r ImageRef) matchesRegistry(entry string) bool {
	host, prefix, _ := strings.Cut(entry, "/")
	if host != r.Host {
		return false
	}
	return prefix == "" || r.Path == prefix || strings.HasPrefix(r.Path, prefix+"/")
}
