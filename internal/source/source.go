// Package source resolves what the user asked to scan into an image.
//
// Source strings:
//
//	registry reference   alpine:3.19, localhost:5000/app@sha256:…
//	docker-archive:PATH[:TAG]   a `docker save` tarball
//	oci-layout:DIR[:TAG]        an OCI image layout directory
//	dir:PATH                    a root filesystem directory
//
// A bare path is recognised by its content: a directory holding an
// `oci-layout` file is an OCI layout, any other directory is a root
// filesystem, and a tar file whose entries include `manifest.json` is a docker
// archive. Anything else that does not exist on disk is a registry
// reference, unless it looks like a path (looksLikePath): a mistyped file
// name fails with the file error instead of asking a registry.
//
// Registry credentials come from the containers auth files that podman,
// skopeo and buildah write ($REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json),
// then from ~/.docker/config.json and its credential helpers (Keychain).
package source

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Kinds of source.
const (
	KindRegistry      = "registry"
	KindDockerArchive = "docker-archive"
	KindOCILayout     = "oci-layout"
	KindDir           = "dir"
)

// Source is a resolved scan target: an image, or a root directory for dir:.
type Source struct {
	Kind string
	// Ref is the normalized source string, with its kind prefix.
	Ref string
	// Image is set for every kind but dir.
	Image v1.Image
	// Dir is the root directory for dir:.
	Dir string
	// Digest is the manifest digest when known.
	Digest string
	// Tags names the tags the image was found under.
	Tags []string
	// LayersUncompressed is true for docker archives whose layers are plain
	// tars (classic `docker save`): reading them "compressed" would gzip them.
	LayersUncompressed bool
	// digest computes Digest when it was left empty because it is costly
	// (a docker archive: go-containerregistry hashes every layer blob to
	// make the manifest). See ImageDigest.
	digest func() (string, error)
}

// ImageDigest is the manifest digest: Digest when it is known, otherwise
// computed (once). The indexer asks for it while it reads the layers, so
// the hashing overlaps the scan instead of preceding it.
func (s *Source) ImageDigest() (string, error) {
	if s.Digest != "" || s.digest == nil {
		return s.Digest, nil
	}
	return s.digest()
}

// Options tune resolution.
type Options struct {
	// Platform selects an image from a multi-platform index (default linux/amd64).
	Platform *v1.Platform
	// Insecure allows plain HTTP to registries other than localhost.
	Insecure bool
	// Keychain overrides the default keychain (tests).
	Keychain authn.Keychain
	// Transport overrides the HTTP transport (tests).
	Transport remote.Option
	// HTTP is the base transport of registry requests (default
	// NewTransport(Timeouts)); see transport.go.
	HTTP http.RoundTripper
	// Timeouts bound each registry request before its body (zero fields:
	// DefaultTimeouts). Unused when HTTP is set.
	Timeouts Timeouts
}

func (o Options) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

// Resolve turns a source string into a Source.
func Resolve(ctx context.Context, s string, opts Options) (*Source, error) {
	if s == "" {
		return nil, errors.New("source: empty source")
	}
	kind, rest, ok := strings.Cut(s, ":")
	if ok {
		switch kind {
		case KindDockerArchive:
			return dockerArchive(rest)
		case KindOCILayout:
			return ociLayout(rest, opts)
		case KindDir:
			return dir(rest)
		case KindRegistry, "docker":
			return registry(ctx, strings.TrimPrefix(rest, "//"), opts)
		}
	}
	fi, err := os.Stat(s)
	if err == nil {
		return detect(s, fi, opts)
	}
	if looksLikePath(s) {
		return nil, fmt.Errorf("source: %s: %w (it looks like a path, so it is not tried as a registry reference; write registry:%s for an image of that name)", s, err, s)
	}
	return registry(ctx, s, opts)
}

// archiveSuffixes end the names of image files; no image repository a user
// means is named like them.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci", ".json"}

// looksLikePath says whether a source that does not exist on disk was meant
// as a path: it starts like one ("/", "./", "../", "~"), or, holding no
// registry port, tag or digest (":" or "@"), its name ends like an image
// file ("debian-12.tar").
func looksLikePath(s string) bool {
	for _, p := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	if s == "." || s == ".." || strings.ContainsAny(s, ":@") {
		return false
	}
	for _, suf := range archiveSuffixes {
		if strings.HasSuffix(strings.ToLower(s), suf) {
			return true
		}
	}
	return false
}

// detect recognises a bare path by its content.
func detect(p string, fi os.FileInfo, opts Options) (*Source, error) {
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(p, "oci-layout")); err == nil {
			return ociLayout(p, opts)
		}
		return dir(p)
	}
	isDocker, err := tarHasManifest(p)
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", p, err)
	}
	if isDocker {
		return dockerArchive(p)
	}
	return nil, fmt.Errorf("source: %s is neither a docker-archive tarball (no manifest.json) nor a directory (name the kind with a docker-archive:, oci-layout: or dir: prefix)", p)
}

// tarHasManifest reports whether the tar at p has a top-level manifest.json.
// It reads headers only, at most maxHeaders of them.
func tarHasManifest(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const maxHeaders = 100000
	tr := tar.NewReader(f)
	for i := 0; i < maxHeaders; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("not a readable tar archive: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") == "manifest.json" {
			return true, nil
		}
	}
	return false, nil
}

// splitTag splits "path:tag" where the tag part has no slash; a path that
// exists as given wins over a split.
func splitTag(s string) (string, string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.ContainsRune(s[i+1:], '/') {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func dockerArchive(s string) (*Source, error) {
	p, tag := splitTag(s)
	var t *name.Tag
	if tag != "" {
		nt, err := name.NewTag(tag)
		if err != nil {
			return nil, fmt.Errorf("source: docker-archive %s: tag %q: %w", p, tag, err)
		}
		t = &nt
	}
	img, err := tarball.ImageFromPath(p, t)
	if err != nil {
		return nil, fmt.Errorf("source: docker-archive %s: %w", p, err)
	}
	// No manifest digest: a docker archive has none, and the one
	// go-containerregistry would synthesize costs a hash of every layer.
	src := &Source{Kind: KindDockerArchive, Ref: KindDockerArchive + ":" + s, Image: img}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		return nil, fmt.Errorf("source: docker-archive %s: manifest: %w", p, err)
	}
	for _, d := range m {
		if t == nil || containsTag(d.RepoTags, t.String(), tag) {
			src.Tags = append(src.Tags, d.RepoTags...)
			if len(d.Layers) > 0 {
				gz, err := archiveMemberCompressed(p, d.Layers[0])
				if err != nil {
					return nil, fmt.Errorf("source: docker-archive %s: %w", p, err)
				}
				src.LayersUncompressed = !gz
			}
			break
		}
	}
	src.digest = sync.OnceValues(func() (string, error) {
		d, err := img.Digest()
		if err != nil {
			return "", fmt.Errorf("source: %s: manifest: %w", src.Ref, err)
		}
		return d.String(), nil
	})
	return src, nil
}

// archiveMemberCompressed reports whether the archive member starts with a
// gzip or zstd magic number.
func archiveMemberCompressed(p, member string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, fmt.Errorf("layer %s is missing from the archive", member)
		}
		if err != nil {
			return false, fmt.Errorf("read archive: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") != strings.TrimPrefix(member, "./") {
			continue
		}
		magic := make([]byte, 4)
		n, _ := io.ReadFull(tr, magic)
		magic = magic[:n]
		return (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) || (n == 4 && string(magic) == "\x28\xb5\x2f\xfd"), nil
	}
}

func containsTag(tags []string, full, short string) bool {
	for _, x := range tags {
		if x == full || x == short {
			return true
		}
	}
	return false
}

func ociLayout(s string, opts Options) (*Source, error) {
	p, tag := splitTag(s)
	idx, err := layout.ImageIndexFromPath(p)
	if err != nil {
		return nil, fmt.Errorf("source: oci-layout %s: %w", p, err)
	}
	img, tags, err := pickFromIndex(idx, tag, opts.platform(), 0)
	if err != nil {
		return nil, fmt.Errorf("source: oci-layout %s: %w", p, err)
	}
	src := &Source{Kind: KindOCILayout, Ref: KindOCILayout + ":" + s, Image: img, Tags: tags}
	if err := finishImage(src); err != nil {
		return nil, err
	}
	return src, nil
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

// pickFromIndex finds the image named tag (or the only one), descending into
// nested indexes and choosing the platform.
func pickFromIndex(idx v1.ImageIndex, tag string, plat v1.Platform, depth int) (v1.Image, []string, error) {
	if depth > 4 {
		return nil, nil, errors.New("image indexes nested too deeply")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	var cands []v1.Descriptor
	for _, d := range im.Manifests {
		if tag == "" || d.Annotations[refNameAnnotation] == tag || strings.HasSuffix(d.Annotations[refNameAnnotation], ":"+tag) {
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		if tag != "" {
			return nil, nil, fmt.Errorf("no image tagged %q in the layout", tag)
		}
		return nil, nil, errors.New("the layout holds no image")
	}
	// Prefer the requested platform when descriptors say theirs.
	if len(cands) > 1 {
		var match []v1.Descriptor
		for _, d := range cands {
			if d.Platform != nil && d.Platform.Satisfies(plat) {
				match = append(match, d)
			}
		}
		if len(match) == 0 && tag == "" {
			return nil, nil, fmt.Errorf("the layout holds %d images: name one with oci-layout:DIR:TAG", len(cands))
		}
		if len(match) > 0 {
			cands = match
		}
	}
	d := cands[0]
	var tags []string
	if t := d.Annotations[refNameAnnotation]; t != "" {
		tags = append(tags, t)
	}
	switch {
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("open nested index %s: %w", d.Digest, err)
		}
		img, _, err := pickFromIndex(child, "", plat, depth+1)
		return img, tags, err
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("open image %s: %w", d.Digest, err)
		}
		return img, tags, nil
	}
	return nil, nil, fmt.Errorf("descriptor %s has unsupported media type %q", d.Digest, d.MediaType)
}

func registry(ctx context.Context, s string, opts Options) (*Source, error) {
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(s, nopts...)
	if err != nil {
		return nil, fmt.Errorf("source: %q is not a file, a directory or a registry reference: %w", s, err)
	}
	kc := opts.Keychain
	if kc == nil {
		kc = Keychain{}
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(opts.platform()), remote.WithTransport(opts.httpTransport())}
	if opts.Transport != nil {
		ropts = append(ropts, opts.Transport)
	}
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		if k, ok := kc.(Keychain); ok && refused(err) {
			return nil, fmt.Errorf("source: registry %s: %w (%s)", ref, err, k.Explain(ref.Context().RegistryStr()))
		}
		return nil, fmt.Errorf("source: registry %s: %w", ref, err)
	}
	src := &Source{Kind: KindRegistry, Ref: ref.Name(), Image: img}
	if t, ok := ref.(name.Tag); ok {
		src.Tags = []string{t.TagStr()}
	}
	if err := finishImage(src); err != nil {
		return nil, err
	}
	return src, nil
}

func finishImage(src *Source) error {
	d, err := src.Image.Digest()
	if err != nil {
		return fmt.Errorf("source: %s: manifest: %w", src.Ref, err)
	}
	src.Digest = d.String()
	return nil
}

func dir(p string) (*Source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("source: dir %s: %w", p, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source: dir %s: not a directory", p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("source: dir %s: %w", p, err)
	}
	return &Source{Kind: KindDir, Ref: KindDir + ":" + abs, Dir: abs}, nil
}

// refused reports whether a registry answered 401 or 403: the credentials
// were missing or wrong.
func refused(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden
	}
	return false
}
