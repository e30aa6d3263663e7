package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Source reads the registry's stored content (registry.Registry).
type Source interface {
	// Manifest returns a manifest's media type and bytes; an unknown one
	// is registry.ErrManifestUnknown.
	Manifest(ctx context.Context, repo, digest string) (string, []byte, error)
	OpenBlob(ctx context.Context, repo, digest string) (io.ReadSeekCloser, error)
}

// maxDepth bounds how far a delivery follows subjects, index children and
// referrers from the pushed manifest.
const maxDepth = 4

// maxManifestsPerDelivery bounds the manifests one delivery copies (an
// index's children and the referrers included).
const maxManifestsPerDelivery = 1000

// copier is the sink of one destination: it copies the manifest an outbox
// row names, with what it needs, to the destination registry.
type copier struct {
	dst       auth.Destination
	src       Source
	store     Store
	transport http.RoundTripper
}

// Write delivers one row.
func (c *copier) Write(ctx context.Context, ev events.Event) error {
	var d detail
	if err := json.Unmarshal(ev.Detail, &d); err != nil || d.Repository == "" || d.Digest == "" {
		return events.Permanent(fmt.Errorf("replication: event %s: no repository and digest", ev.ID))
	}
	if _, err := c.store.GetImage(ctx, d.Repository, d.Digest); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return events.Permanent(fmt.Errorf("replication: %s@%s is no longer in the registry", d.Repository, d.Digest))
		}
		return fmt.Errorf("replication: %w", err)
	}
	run := &delivery{c: c, ctx: ctx, seen: map[string]bool{}}
	if err := run.copy(d.Repository, d.Digest, 0, false); err != nil {
		return fmt.Errorf("replication to %s: %w", c.dst.Key(), err)
	}
	return nil
}

// delivery is one row's copy: ctx is the delivery's (bounded by the
// dispatcher's lease), seen the manifests already handled.
type delivery struct {
	c    *copier
	ctx  context.Context
	seen map[string]bool
}

// manifestShape is what a copy needs of a manifest: its blobs, children
// and subject.
type manifestShape struct {
	MediaType string          `json:"mediaType"`
	Config    *v1.Descriptor  `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
	Manifests []v1.Descriptor `json:"manifests"`
	Subject   *v1.Descriptor  `json:"subject"`
}

func (d *delivery) options() []remote.Option {
	var a authn.Authenticator = authn.Anonymous
	if d.c.dst.Username != "" {
		a = &authn.Basic{Username: d.c.dst.Username, Password: d.c.dst.Password}
	}
	return []remote.Option{
		remote.WithContext(d.ctx),
		remote.WithAuth(a),
		remote.WithTransport(&schemeTransport{host: d.c.dst.URL.Host, scheme: d.c.dst.URL.Scheme, next: d.c.transport}),
		// The outbox retries with its own backoff; one try per delivery.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithUserAgent("stowaway-replication"),
	}
}

// repository is repo's name at the destination.
func (d *delivery) repository(repo string) (name.Repository, error) {
	opts := []name.Option{name.StrictValidation}
	if d.c.dst.URL.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRepository(d.c.dst.URL.Host+"/"+d.c.dst.RepositoryPrefix()+repo, opts...)
	if err != nil {
		return name.Repository{}, events.Permanent(fmt.Errorf("destination repository for %q: %w", repo, err))
	}
	return r, nil
}

// copy copies repo@dgst: its subject first, then (unless the destination
// has it) its children or blobs and the manifest itself, then each of its
// tags the destination lacks, then its referrers. A manifest the
// destination refuses (refused) fails its own row for good; copied as
// another image's referrer (asReferrer) it is skipped, so that an image
// is not held back by an artifact the destination does not take (another
// Stowaway refuses the SBOMs this server wrote: their annotations are
// reserved to the registry that scanned).
func (d *delivery) copy(repo, dgst string, depth int, asReferrer bool) error {
	if depth > maxDepth || d.seen[dgst] {
		return nil
	}
	d.seen[dgst] = true
	if len(d.seen) > maxManifestsPerDelivery {
		return events.Permanent(fmt.Errorf("%s@%s: more than %d manifests to copy in one delivery", repo, dgst, maxManifestsPerDelivery))
	}
	mt, raw, err := d.c.src.Manifest(d.ctx, repo, dgst)
	if err != nil {
		if errors.Is(err, registry.ErrManifestUnknown) && depth > 0 {
			return nil // a subject or referrer that is gone: nothing to copy
		}
		return fmt.Errorf("read %s@%s: %w", repo, dgst, err)
	}
	var m manifestShape
	if err := json.Unmarshal(raw, &m); err != nil {
		return events.Permanent(fmt.Errorf("%s@%s: parse manifest: %w", repo, dgst, err))
	}
	if m.Subject != nil {
		if err := d.copy(repo, m.Subject.Digest.String(), depth+1, false); err != nil {
			return err
		}
	}
	dst, err := d.repository(repo)
	if err != nil {
		return err
	}
	var tags []string
	if img, err := d.c.store.GetImage(d.ctx, repo, dgst); err == nil {
		tags = img.Tags
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	t := taggable{mediaType: types.MediaType(mt), raw: raw}
	present, err := d.has(dst.Digest(dgst), dgst)
	if err != nil {
		return err
	}
	if !present {
		for _, child := range m.Manifests {
			if err := d.copy(repo, child.Digest.String(), depth+1, false); err != nil {
				return err
			}
		}
		var blobs []v1.Descriptor
		if m.Config != nil {
			blobs = append(blobs, *m.Config)
		}
		blobs = append(blobs, m.Layers...)
		for _, b := range blobs {
			l := &storedBlob{ctx: d.ctx, src: d.c.src, repo: repo, desc: b}
			if err := remote.WriteLayer(dst, l, d.options()...); err != nil {
				return fmt.Errorf("upload blob %s of %s@%s: %w", b.Digest, repo, dgst, err)
			}
		}
		// The first tag's PUT also stores the manifest; an untagged one
		// is put by digest.
		ref := name.Reference(dst.Digest(dgst))
		if len(tags) > 0 {
			ref, tags = dst.Tag(tags[0]), tags[1:]
		}
		if err := remote.Put(ref, t, d.options()...); err != nil {
			err = fmt.Errorf("put manifest %s@%s: %w", repo, dgst, err)
			switch {
			case refused(err) && asReferrer:
				return nil
			case refused(err):
				return events.Permanent(err)
			}
			return err
		}
	}
	for _, tag := range tags {
		ok, err := d.has(dst.Tag(tag), dgst)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := remote.Put(dst.Tag(tag), t, d.options()...); err != nil {
			return fmt.Errorf("put tag %s:%s: %w", repo, tag, err)
		}
	}
	refs, err := d.c.store.ListReferrers(d.ctx, repo, dgst, "")
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := d.copy(repo, r.Digest, depth+1, true); err != nil {
			return err
		}
	}
	return nil
}

// has reports whether ref exists at the destination with digest dgst.
func (d *delivery) has(ref name.Reference, dgst string) (bool, error) {
	desc, err := remote.Head(ref, d.options()...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("check %s: %w", ref, err)
	}
	return desc.Digest.String() == dgst, nil
}

// refused reports a destination's refusal of a manifest itself (400
// MANIFEST_INVALID and the like, 413, 415, 422): retrying cannot change
// the answer. Authentication, permission, missing-blob and server errors
// are not refusals: they may pass.
func refused(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	switch te.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		for _, e := range te.Errors {
			if e.Code == transport.BlobUnknownErrorCode || e.Code == transport.ManifestBlobUnknownErrorCode || e.Code == transport.ManifestUnknownErrorCode {
				return false // content missing at the destination: a retry copies it
			}
		}
		return true
	}
	return false
}

// taggable is a manifest to PUT as it was pushed.
type taggable struct {
	mediaType types.MediaType
	raw       []byte
}

func (t taggable) RawManifest() ([]byte, error)        { return t.raw, nil }
func (t taggable) MediaType() (types.MediaType, error) { return t.mediaType, nil }

// storedBlob is a blob of the registry as a v1.Layer for remote.WriteLayer,
// which needs only its digest, size, media type and compressed bytes.
type storedBlob struct {
	ctx  context.Context
	src  Source
	repo string
	desc v1.Descriptor
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storedBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storedBlob) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("replication: a copied blob has no diff id")
}
func (b *storedBlob) Compressed() (io.ReadCloser, error) {
	rc, err := b.src.OpenBlob(b.ctx, b.repo, b.desc.Digest.String())
	if err != nil {
		return nil, err
	}
	return quietClose{rc}, nil
}

// quietClose drops the error of Close: distribution's blob readers answer
// every Close with "fileReader: closed", which net/http would report as
// the upload's failure. Nothing is lost: the reader was only read.
type quietClose struct{ io.ReadCloser }

func (q quietClose) Close() error {
	_ = q.ReadCloser.Close()
	return nil
}

func (b *storedBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("replication: a copied blob is sent as stored")
}

// schemeTransport sends the destination's requests with the URL's scheme:
// go-containerregistry picks http for loopback and private addresses
// unless told, and a destination says what it speaks.
type schemeTransport struct {
	host, scheme string
	next         http.RoundTripper
}

func (s *schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == s.host && req.URL.Scheme != s.scheme {
		req = req.Clone(req.Context())
		req.URL.Scheme = s.scheme
	}
	return s.next.RoundTrip(req)
}

var _ v1.Layer = (*storedBlob)(nil)
