package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Artifact is an OCI 1.1 artifact the server writes itself (an SBOM of a
// scanned image): an image manifest with an artifactType, the empty config
// and one blob per layer, whose subject is another manifest of the same
// repository.
type Artifact struct {
	ArtifactType string
	// Subject is the manifest the artifact refers to (required).
	Subject ocispec.Descriptor
	// Layers are the artifact's blobs, in order.
	Layers []ArtifactLayer
	// Annotations go on the manifest (and so into the referrers index).
	Annotations map[string]string
}

// ArtifactLayer is one blob of an artifact.
type ArtifactLayer struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// PutArtifact stores a's blobs and manifest in repo's storage and records
// the manifest in the store exactly as a pushed manifest is recorded (image
// row, referrer row, OnPush), so that the referrers API, OCI clients and the
// ECR API see it. It returns the manifest's descriptor.
//
// The artifact's config is the OCI empty descriptor, which is not an image
// config: OnPush hooks that scan images ignore it.
func (r *Registry) PutArtifact(ctx context.Context, repo string, a Artifact) (ocispec.Descriptor, error) {
	if a.ArtifactType == "" {
		return ocispec.Descriptor{}, errors.New("registry: put artifact: an artifactType is required")
	}
	if err := a.Subject.Digest.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: subject digest: %w", err)
	}
	if len(a.Layers) == 0 {
		return ocispec.Descriptor{}, errors.New("registry: put artifact: at least one layer is required")
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	blobs := rp.Blobs(ctx)
	empty := ocispec.DescriptorEmptyJSON
	// The fence (gc.go): the blobs are recorded as referenced before they
	// are stored or found already stored, so a collection running now
	// keeps them, or has removed them before Put checks for them.
	refs := []string{empty.Digest.String(), a.Subject.Digest.String()}
	for _, l := range a.Layers {
		refs = append(refs, digest.FromBytes(l.Data).String())
	}
	if err := r.opts.Store.RecordBlobRefs(ctx, refs, r.opts.Now()); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: %w", err)
	}
	if _, err := blobs.Put(ctx, empty.MediaType, empty.Data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: empty config blob: %w", err)
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: a.ArtifactType,
		// The data field is optional; keeping it out keeps the manifest
		// readable by clients that predate it.
		Config:      ocispec.Descriptor{MediaType: empty.MediaType, Digest: empty.Digest, Size: empty.Size},
		Subject:     &a.Subject,
		Annotations: a.Annotations,
	}
	for i, l := range a.Layers {
		d, err := blobs.Put(ctx, l.MediaType, l.Data)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: layer %d blob: %w", i, err)
		}
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: d.Digest, Size: d.Size, Annotations: l.Annotations})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: encode manifest: %w", err)
	}
	if len(body) > MaxManifestSize {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: manifest larger than %d bytes", MaxManifestSize)
	}
	var dm ocischema.DeserializedManifest
	if err := dm.UnmarshalJSON(body); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: manifest: %w", err)
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: manifests of %q: %w", repo, err)
	}
	dgst, err := ms.Put(ctx, &dm)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: store manifest: %w", err)
	}
	if want := digest.FromBytes(body); dgst != want {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: stored manifest digest %s, want %s", dgst, want)
	}
	info, err := parseManifest(body, ocispec.MediaTypeImageManifest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	// The same bookkeeping as a manifest PUT: recordPush reads only the
	// request's context and the route's repository.
	req := (&http.Request{}).WithContext(ctx)
	rt := route{repo: repo, kind: "manifests", ref: dgst.String()}
	if err := r.recordPush(req, rt, ServerPrincipal, dgst.String(), "", int64(len(body)), info); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("registry: put artifact: record: %w", err)
	}
	return ocispec.Descriptor{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: a.ArtifactType,
		Digest:       dgst,
		Size:         int64(len(body)),
		Annotations:  a.Annotations,
	}, nil
}

// DeleteArtifact removes a manifest from storage and from the store (its
// image row and its referrer entry). Deleting one that is already gone is
// not an error.
func (r *Registry) DeleteArtifact(ctx context.Context, repo, dgst string) error {
	if err := r.DeleteManifest(ctx, repo, dgst); err != nil {
		return err
	}
	if err := r.opts.Store.DeleteImage(ctx, repo, dgst); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("registry: delete artifact %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// DeleteReferrers deletes every referrer artifact whose subject is dgst in
// repo, recursively (a signature of an SBOM goes with the SBOM), as ECR
// deletes an OCI 1.1 image's artifacts with the image. It returns how many
// it deleted.
func (r *Registry) DeleteReferrers(ctx context.Context, repo, dgst string) (int, error) {
	return r.deleteReferrers(ctx, repo, dgst, map[string]bool{dgst: true})
}

func (r *Registry) deleteReferrers(ctx context.Context, repo, subject string, seen map[string]bool) (int, error) {
	refs, err := r.opts.Store.ListReferrers(ctx, repo, subject, "")
	if err != nil {
		return 0, fmt.Errorf("registry: referrers of %s@%s: %w", repo, subject, err)
	}
	n := 0
	for _, ref := range refs {
		if seen[ref.Digest] {
			continue
		}
		seen[ref.Digest] = true
		m, err := r.deleteReferrers(ctx, repo, ref.Digest, seen)
		n += m
		if err != nil {
			return n, err
		}
		if err := r.DeleteArtifact(ctx, repo, ref.Digest); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ManifestDescriptor is the descriptor of a stored manifest (its media type,
// digest and the size of the manifest itself), as a subject names it.
func (r *Registry) ManifestDescriptor(ctx context.Context, repo, dgst string) (ocispec.Descriptor, error) {
	_, _, mt, payload, err := r.storedManifest(ctx, repo, dgst)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mt, Digest: digest.Digest(dgst), Size: int64(len(payload))}, nil
}
