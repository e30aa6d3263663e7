package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
)

// ErrNotImage is returned by Image for manifests that are not a single
// container image (indexes, artifacts).
var ErrNotImage = errors.New("not a container image manifest")

// maxConfigSize bounds an image config blob read.
const maxConfigSize = 8 << 20

func (r *Registry) repository(ctx context.Context, repo string) (distribution.Repository, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("registry: repository name %q: %w", repo, err)
	}
	rp, err := r.ns.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("registry: open repository %q: %w", repo, err)
	}
	return rp, nil
}

// storedManifest opens repo and reads the stored manifest dgst, with its media
// type and payload. The error for an unknown manifest satisfies isUnknown.
func (r *Registry) storedManifest(ctx context.Context, repo, dgst string) (distribution.Repository, distribution.Manifest, string, []byte, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("registry: digest %q: %w", dgst, err)
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return nil, nil, "", nil, err
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("registry: manifests of %q: %w", repo, err)
	}
	m, err := ms.Get(ctx, d)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("registry: manifest %s@%s: %w", repo, dgst, err)
	}
	mt, payload, err := m.Payload()
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("registry: manifest %s@%s: payload: %w", repo, dgst, err)
	}
	return rp, m, mt, payload, nil
}

// Image opens a stored manifest as a v1.Image reading blobs straight from
// storage. The image keeps ctx for its blob reads (v1.Image has no ctx).
func (r *Registry) Image(ctx context.Context, repo, dgst string) (v1.Image, error) {
	rp, _, mt, payload, err := r.storedManifest(ctx, repo, dgst)
	if err != nil {
		return nil, err
	}
	info, err := parseManifest(payload, mt)
	if err != nil {
		return nil, err
	}
	if info.Config == nil || !scanning.IsImageConfig(info.Config.MediaType) {
		return nil, fmt.Errorf("registry: %s@%s has media type %s: %w", repo, dgst, mt, ErrNotImage)
	}
	core := &storedImage{ctx: ctx, blobs: rp.Blobs(ctx), driver: r.driver, mediaType: types.MediaType(mt), manifest: payload}
	img, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, fmt.Errorf("registry: image %s@%s: %w", repo, dgst, err)
	}
	return img, nil
}

// storedImage implements partial.CompressedImageCore over distribution's
// blob store.
type storedImage struct {
	ctx       context.Context
	blobs     distribution.BlobStore
	driver    storagedriver.StorageDriver
	mediaType types.MediaType
	manifest  []byte
}

// open opens a blob of the repository (the error for one it does not link
// is the blob store's) and reads it straight from the storage driver.
// BlobStore.Open would put a 4 MiB buffer (distribution's
// fileReaderBufferSize) in front of every blob it opens, whatever its size:
// the config and layers of each scan were most of what the server
// allocated. The scan reads the stream once, front to back, in chunks of
// its own, so it needs no buffer and no seeking.
func (s *storedImage) open(d digest.Digest) (io.ReadCloser, error) {
	if _, err := s.blobs.Stat(s.ctx, d); err != nil {
		return nil, err
	}
	return s.driver.Reader(s.ctx, blobDataPath(d), 0)
}

func (s *storedImage) MediaType() (types.MediaType, error) { return s.mediaType, nil }
func (s *storedImage) RawManifest() ([]byte, error)        { return s.manifest, nil }

func (s *storedImage) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytesReader(s.manifest))
	if err != nil {
		return nil, fmt.Errorf("registry: parse manifest: %w", err)
	}
	rc, err := s.open(digest.Digest(m.Config.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("registry: open config blob: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("registry: read config blob: %w", err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("registry: config blob larger than %d bytes", maxConfigSize)
	}
	return b, nil
}

func (s *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytesReader(s.manifest))
	if err != nil {
		return nil, fmt.Errorf("registry: parse manifest: %w", err)
	}
	for _, l := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if l.Digest == h {
			return &storedLayer{img: s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("registry: blob %s is not in the manifest", h)
}

type storedLayer struct {
	img  *storedImage
	desc v1.Descriptor
}

func (l *storedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.img.open(digest.Digest(l.desc.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("registry: open layer %s: %w", l.desc.Digest, err)
	}
	return rc, nil
}

// DeleteManifest deletes a manifest and every tag pointing at it.
func (r *Registry) DeleteManifest(ctx context.Context, repo, dgst string) error {
	d, err := digest.Parse(dgst)
	if err != nil {
		return fmt.Errorf("registry: digest: %w", err)
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return err
	}
	tags := rp.Tags(ctx)
	names, err := tags.Lookup(ctx, ocispec.Descriptor{Digest: d})
	if err != nil && !isUnknown(err) {
		return fmt.Errorf("registry: tags of %s: %w", dgst, err)
	}
	for _, t := range names {
		if err := tags.Untag(ctx, t); err != nil {
			return fmt.Errorf("registry: untag %s: %w", t, err)
		}
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("registry: manifests of %q: %w", repo, err)
	}
	if err := ms.Delete(ctx, d); err != nil && !isUnknown(err) {
		return fmt.Errorf("registry: delete manifest %s: %w", dgst, err)
	}
	return nil
}

// isUnknown reports distribution's "no such manifest/tag/blob" errors, which
// a deletion treats as already done.
func isUnknown(err error) bool {
	var rev distribution.ErrManifestUnknownRevision
	var tag distribution.ErrTagUnknown
	return errors.As(err, &rev) || errors.As(err, &tag) || errors.Is(err, distribution.ErrBlobUnknown) || isPathNotFound(err)
}

// Untag removes a tag.
func (r *Registry) Untag(ctx context.Context, repo, tag string) error {
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return err
	}
	if err := rp.Tags(ctx).Untag(ctx, tag); err != nil && !isUnknown(err) {
		return fmt.Errorf("registry: untag %s:%s: %w", repo, tag, err)
	}
	return nil
}

// DeleteRepository removes a repository's links (manifests, tags, upload
// sessions). Blobs stay in the shared content store until garbage
// collection.
func (r *Registry) DeleteRepository(ctx context.Context, repo string) error {
	if _, err := reference.WithName(repo); err != nil {
		return fmt.Errorf("registry: repository name %q: %w", repo, err)
	}
	p := path.Join("/docker/registry/v2/repositories", repo)
	if err := r.driver.Delete(ctx, p); err != nil {
		if isPathNotFound(err) {
			return nil
		}
		return fmt.Errorf("registry: delete repository %q: %w", repo, err)
	}
	return nil
}
