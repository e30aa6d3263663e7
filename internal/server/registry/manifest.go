package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// manifestInfo is what the hooks need from a pushed manifest.
type manifestInfo struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       *struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"config"`
	Layers []struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	} `json:"layers"`
	Manifests []struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	} `json:"manifests"`
	Subject *struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"subject"`
	Annotations map[string]string `json:"annotations"`
}

// parseManifest reads the fields the hooks use. contentType is the PUT's
// Content-Type, used when the body has no mediaType.
func parseManifest(body []byte, contentType string) (manifestInfo, error) {
	var m manifestInfo
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("registry: parse manifest: %w", err)
	}
	if m.MediaType == "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			m.MediaType = mt
		}
	}
	if m.Subject != nil {
		if _, err := digest.Parse(m.Subject.Digest); err != nil {
			return m, fmt.Errorf("registry: manifest subject digest: %w", err)
		}
	}
	return m, nil
}

// imageSize is the sum of the referenced blobs (ECR's imageSizeInBytes).
func (m manifestInfo) imageSize() int64 {
	var n int64
	if m.Config != nil {
		n += m.Config.Size
	}
	for _, l := range m.Layers {
		n += l.Size
	}
	for _, c := range m.Manifests {
		n += c.Size
	}
	return n
}

// blobRefs are the digests of the blobs the manifest names (config,
// layers, index children, subject) and the manifest's own, for the
// garbage collector's fence (gc.go). Digests that do not parse are left
// out: distribution refuses the manifest for them.
func (m manifestInfo) blobRefs(self string) []string {
	out := make([]string, 0, 2+len(m.Layers)+len(m.Manifests))
	add := func(d string) {
		if _, err := digest.Parse(d); err == nil {
			out = append(out, d)
		}
	}
	add(self)
	if m.Config != nil {
		add(m.Config.Digest)
	}
	for _, l := range m.Layers {
		add(l.Digest)
	}
	for _, c := range m.Manifests {
		add(c.Digest)
	}
	if m.Subject != nil {
		add(m.Subject.Digest)
	}
	return out
}

// artifactType is the referrers-API artifactType of the manifest.
func (m manifestInfo) artifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

func readManifest(req *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("registry: read manifest: %w", err)
	}
	if len(body) > MaxManifestSize {
		return nil, fmt.Errorf("registry: manifest larger than %d bytes: %w", MaxManifestSize, errTooLarge)
	}
	return body, nil
}

// putManifest serves a client's manifest PUT; principal names the caller
// in the log of a refusal.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, rt route, principal string) {
	ctx := req.Context()
	body, err := readManifest(req)
	if errors.Is(err, errTooLarge) {
		ociError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", err.Error())
		return
	}
	if err != nil {
		ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	sum := sha256.Sum256(body)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	tag := ""
	if _, err := digest.Parse(rt.ref); err != nil {
		tag = rt.ref
	} else {
		dgst = rt.ref // distribution checks the body against it
	}
	info, err := parseManifest(body, req.Header.Get("Content-Type"))
	if err != nil {
		ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	if k := reservedAnnotation(info.Annotations); k != "" {
		r.opts.Logger.Warn("registry: refused a manifest with a reserved annotation", "principal", principal, "repository", rt.repo, "reference", rt.ref, "annotation", k)
		ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", fmt.Sprintf(
			"annotation %q is reserved: only the registry itself writes %s* annotations (on the SBOMs of its scans)", k, ReservedAnnotationPrefix))
		return
	}
	if tag != "" {
		if repo, err := r.opts.Store.GetRepository(ctx, rt.repo); err == nil && repo.TagIsImmutable(tag) {
			if old, err := r.opts.Store.ResolveTag(ctx, rt.repo, tag); err == nil && old != dgst {
				ociError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf(
					"the image tag %q already exists in the %q repository and cannot be overwritten because the tag is immutable", tag, rt.repo))
				return
			}
		}
	}
	// The fence (gc.go): the blobs this manifest names are recorded as
	// referenced before distribution checks that they exist, and the
	// storage work after it is bounded by gcPutBound.
	if err := r.opts.Store.RecordBlobRefs(ctx, info.blobRefs(dgst), r.opts.Now()); err != nil {
		r.opts.Logger.Error("registry: record blob references", "repository", rt.repo, "digest", dgst, "err", err)
		ociError(w, http.StatusInternalServerError, "UNKNOWN", "the manifest's blob references could not be recorded")
		return
	}
	fenced, cancel := context.WithTimeout(ctx, gcPutBound)
	defer cancel()
	dreq := req.WithContext(fenced)
	dreq.Body = io.NopCloser(bytes.NewReader(body))
	dreq.ContentLength = int64(len(body))
	sw := &statusWriter{ResponseWriter: w, onHeader: func(status int) int {
		if status != http.StatusCreated {
			return status
		}
		if err := r.recordPush(req, rt, principal, dgst, tag, int64(len(body)), info); err != nil {
			r.opts.Logger.Error("registry: record push", "repository", rt.repo, "digest", dgst, "err", err)
			w.Header().Del("Location")
			w.Header().Del("Docker-Content-Digest")
			if errors.Is(err, store.ErrTagImmutable) {
				return http.StatusBadRequest
			}
			return http.StatusInternalServerError
		}
		if info.Subject != nil {
			w.Header().Set("OCI-Subject", info.Subject.Digest)
		}
		return status
	}}
	r.app.ServeHTTP(sw, dreq)
}

func (r *Registry) recordPush(req *http.Request, rt route, principal, dgst, tag string, size int64, info manifestInfo) error {
	ctx := req.Context()
	now := r.opts.Now().UTC()
	var prev string
	if tag != "" {
		prev, _ = r.opts.Store.ResolveTag(ctx, rt.repo, tag) // "" when new
	}
	purpose, upstream := store.AppliedForCreateOnPush, upstreamOf(ctx)
	if upstream != "" {
		purpose = store.AppliedForPullThroughCache
	}
	if _, err := r.opts.Store.EnsureRepositoryFromTemplate(ctx, store.Repository{Name: rt.repo, CreatedAt: now}, purpose); err != nil {
		return err
	}
	img := store.Image{
		Repository: rt.repo,
		Digest:     dgst,
		MediaType:  info.MediaType,
		Size:       info.imageSize(),
		PushedAt:   now,
	}
	if info.Config != nil {
		img.ArtifactMediaType = info.Config.MediaType
	}
	var inTx []store.PushFunc
	if r.opts.PreparePush != nil {
		prep := img
		if tag != "" {
			prep.Tags = []string{tag}
		}
		fn, err := r.opts.PreparePush(ctx, prep)
		if err != nil {
			return fmt.Errorf("registry: prepare push: %w", err)
		}
		if fn != nil {
			inTx = append(inTx, fn)
		}
	}
	created, err := r.opts.Store.PutImage(ctx, img, tag, inTx...)
	if err != nil {
		return err
	}
	reason := "pushed"
	switch {
	case prev != "" && prev != dgst:
		reason = "tag moved from " + prev
	case !created:
		reason = "pushed again (manifest already stored)"
	}
	if upstream != "" {
		reason = "pulled through the cache from " + upstream + " (" + reason + ")"
	}
	r.opts.Audit.Record(ctx, audit.Record{Principal: principal, Action: "ecr:PutImage", Repository: rt.repo, Digest: dgst, Tag: tag, Reason: reason})
	if info.Subject != nil {
		if err := r.opts.Store.PutReferrer(ctx, store.Referrer{
			Repository:   rt.repo,
			Subject:      info.Subject.Digest,
			Digest:       dgst,
			MediaType:    info.MediaType,
			ArtifactType: info.artifactType(),
			Size:         size,
			Annotations:  info.Annotations,
		}); err != nil {
			return err
		}
	}
	if tag != "" {
		img.Tags = []string{tag}
	}
	if r.opts.OnPush != nil {
		r.opts.OnPush(ctx, img, created)
	}
	return nil
}

func (r *Registry) deleteManifest(w http.ResponseWriter, req *http.Request, rt route, principal string) {
	sw := &statusWriter{ResponseWriter: w, onHeader: func(status int) int {
		if status != http.StatusAccepted {
			return status
		}
		var err error
		rec := audit.Record{Principal: principal, Action: "ecr:BatchDeleteImage", Repository: rt.repo}
		if _, perr := digest.Parse(rt.ref); perr == nil {
			rec.Digest, rec.Reason = rt.ref, "manifest deleted"
			err = r.opts.Store.DeleteImage(req.Context(), rt.repo, rt.ref)
			if err == nil || errors.Is(err, store.ErrNotFound) {
				// The image's referrers (SBOMs, signatures) go with it.
				if _, rerr := r.DeleteReferrers(req.Context(), rt.repo, rt.ref); rerr != nil {
					err = rerr
				}
			}
		} else {
			rec.Tag, rec.Reason = rt.ref, "tag deleted"
			rec.Digest, _ = r.opts.Store.ResolveTag(req.Context(), rt.repo, rt.ref)
			err = r.opts.Store.DeleteTag(req.Context(), rt.repo, rt.ref)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			r.opts.Logger.Error("registry: record delete", "repository", rt.repo, "reference", rt.ref, "err", err)
			return http.StatusInternalServerError
		}
		r.opts.Audit.Record(req.Context(), rec)
		return status
	}}
	r.app.ServeHTTP(sw, req)
}
