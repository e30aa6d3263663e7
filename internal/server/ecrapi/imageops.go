package ecrapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// The image and layer operations (BatchGetImage, PutImage,
// BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
// CompleteLayerUpload, GetDownloadUrlForLayer, ListImageReferrers,
// DescribeImageSigningStatus) work on the registry's own storage through
// ImageStorage: a PutImage is a manifest PUT as a docker push makes it, so
// the store record, push events, scan on push and the scanning rules are
// the same, and a retag of a stored digest starts no scan.

// ImageStorage is the registry storage the image and layer operations use
// (*registry.Registry). Its errors are registry's: ErrManifestUnknown,
// ErrBlobNotFound, ErrUploadUnknown, ErrUploadDigest, *ManifestError and
// *OffsetError.
type ImageStorage interface {
	Manifest(ctx context.Context, repo, digest string) (mediaType string, payload []byte, err error)
	PutManifest(ctx context.Context, principal, repo, ref, mediaType string, body []byte) (string, error)
	BlobSize(ctx context.Context, repo, digest string) (int64, error)
	OpenBlob(ctx context.Context, repo, digest string) (io.ReadSeekCloser, error)
	// OpenUpload opens a session within the registry's upload caps (an
	// *registry.UploadLimitError over one).
	OpenUpload(ctx context.Context, principal, repo string) (string, error)
	UploadSize(ctx context.Context, repo, id string) (int64, error)
	AppendUpload(ctx context.Context, repo, id string, offset int64, part []byte) (int64, error)
	CommitUpload(ctx context.Context, repo, id, digest string) (int64, error)
	CancelUpload(ctx context.Context, repo, id string) error
}

// ReferrerLister lists the OCI referrers of a subject (the store's index
// that /v2/<name>/referrers serves).
type ReferrerLister interface {
	ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]store.Referrer, error)
}

// Bounds of the image and layer operations.
const (
	// MaxImageManifest is ECR's manifest size limit (the model's ImageManifest max).
	MaxImageManifest = 4 << 20
	// MaxLayerPart is ECR's largest layer part (the model's LayerPartBlob max).
	MaxLayerPart = 20 << 20
	// MaxLayerSize is ECR's largest layer (52,000 MiB).
	MaxLayerSize = 52000 << 20
	// largeBodies bounds the PutImage and UploadLayerPart calls whose
	// bodies are being read or processed at once; more answer
	// ThrottlingException, which the SDKs retry.
	largeBodies = 4
	// largeBodyReadTimeout is how long such a body may take to arrive (a
	// 28 MiB UploadLayerPart at 240 KB/s).
	largeBodyReadTimeout = 2 * time.Minute
)

// imageActions are the image and layer operations. Without Images and
// Referrers (or, for GetDownloadUrlForLayer, LayerURLSecret) each answers an
// ECR error saying the server has no image storage configured.
func (a *API) imageActions() map[string]action {
	// BatchGetImage, PutImage and the layer operations may not answer
	// ValidationException (the service model); the referrer ones may.
	need := func(op, errType string, ready func() bool, f action) action {
		return func(ctx context.Context, c *call) (any, error) {
			if !ready() {
				return nil, apiErr(errType, "%s is not enabled: this server has no image storage configured for the ECR API", op)
			}
			return f(ctx, c)
		}
	}
	storage := func() bool { return a.o.Images != nil && a.o.Referrers != nil }
	urls := func() bool { return storage() && len(a.o.LayerURLSecret) > 0 }
	m := map[string]action{}
	for op, f := range map[string]action{
		"BatchGetImage":               a.batchGetImage,
		"PutImage":                    a.putImage,
		"BatchCheckLayerAvailability": a.batchCheckLayerAvailability,
		"InitiateLayerUpload":         a.initiateLayerUpload,
		"UploadLayerPart":             a.uploadLayerPart,
		"CompleteLayerUpload":         a.completeLayerUpload,
	} {
		m[op] = need(op, "InvalidParameterException", storage, f)
	}
	m["GetDownloadUrlForLayer"] = need("GetDownloadUrlForLayer", "InvalidParameterException", urls, a.getDownloadURLForLayer)
	m["ListImageReferrers"] = need("ListImageReferrers", "ValidationException", storage, a.listImageReferrers)
	m["DescribeImageSigningStatus"] = need("DescribeImageSigningStatus", "ValidationException", storage, a.describeImageSigningStatus)
	return m
}

// imageBodyLimits are the request body limits of the operations that carry
// a manifest or a layer part (JSON string escaping and base64 included).
func imageBodyLimits() map[string]int64 {
	return map[string]int64{
		"PutImage":        2*MaxImageManifest + 64<<10,
		"UploadLayerPart": (MaxLayerPart+2)/3*4 + 64<<10,
	}
}

type ecrImage struct {
	RegistryID             string  `json:"registryId"`
	RepositoryName         string  `json:"repositoryName"`
	ImageID                imageID `json:"imageId"`
	ImageManifest          string  `json:"imageManifest"`
	ImageManifestMediaType string  `json:"imageManifestMediaType,omitempty"`
}

func (a *API) batchGetImage(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName     string    `json:"repositoryName"`
		ImageIDs           []imageID `json:"imageIds"`
		AcceptedMediaTypes []string  `json:"acceptedMediaTypes"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) < 1 || len(in.ImageIDs) > 100 {
		return nil, apiErr("InvalidParameterException", "imageIds must hold 1 to 100 entries")
	}
	if len(in.AcceptedMediaTypes) > 100 {
		return nil, apiErr("InvalidParameterException", "acceptedMediaTypes must hold 1 to 100 entries")
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	images, failures := []ecrImage{}, []imageFailure{}
	for _, id := range in.ImageIDs {
		img, fail, err := a.getOne(ctx, in.RepositoryName, id)
		if err != nil {
			return nil, err
		}
		if fail != nil {
			failures = append(failures, *fail)
			continue
		}
		images = append(images, img)
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

// getOne reads one image of a BatchGetImage: by tag, by digest or by both
// (which must agree), as a failure entry when ECR reports one.
//
// Stowaway stores one manifest per digest and converts none, so
// acceptedMediaTypes (checked for size only) selects nothing: the manifest is
// returned as stored with its media type and the caller decides, as ECR
// answers when it has no conversion.
func (a *API) getOne(ctx context.Context, repo string, id imageID) (ecrImage, *imageFailure, error) {
	fail := func(code, reason string) (ecrImage, *imageFailure, error) {
		return ecrImage{}, &imageFailure{ImageID: id, FailureCode: code, FailureReason: reason}, nil
	}
	if id.ImageDigest == "" && id.ImageTag == "" {
		return fail("MissingDigestAndTag", "Requested image must have a digest or a tag")
	}
	if id.ImageDigest != "" && !validDigest(id.ImageDigest) {
		return fail("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
	}
	if id.ImageTag != "" && len(id.ImageTag) > 300 {
		return fail("InvalidImageTag", "Invalid request parameters: image tag is longer than 300 characters")
	}
	dgst := id.ImageDigest
	if id.ImageTag != "" {
		d, err := a.o.Store.ResolveTag(ctx, repo, id.ImageTag)
		if errors.Is(err, store.ErrNotFound) {
			return fail("ImageNotFound", "Requested image not found")
		}
		if err != nil {
			return ecrImage{}, nil, fmt.Errorf("ecrapi: batch get image: resolve tag: %w", err)
		}
		if dgst != "" && dgst != d {
			return fail("ImageTagDoesNotMatchDigest", "Invalid request parameters: given tag does not map to the given digest")
		}
		dgst = d
	}
	mt, payload, err := a.o.Images.Manifest(ctx, repo, dgst)
	if errors.Is(err, registry.ErrManifestUnknown) {
		return fail("ImageNotFound", "Requested image not found")
	}
	if err != nil {
		return ecrImage{}, nil, fmt.Errorf("ecrapi: batch get image: read manifest: %w", err)
	}
	if a.o.OnPull != nil {
		a.o.OnPull(ctx, repo, dgst)
	}
	return ecrImage{
		RegistryID:             a.o.RegistryID,
		RepositoryName:         repo,
		ImageID:                imageID{ImageDigest: dgst, ImageTag: id.ImageTag},
		ImageManifest:          string(payload),
		ImageManifestMediaType: mt,
	}, nil, nil
}

// validTag is a tag a manifest PUT accepts (the distribution spec's
// [a-zA-Z0-9_][a-zA-Z0-9._-]*) within ECR's 300 characters.
func validTag(t string) bool {
	if t == "" || len(t) > 300 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func validDigest(d string) bool {
	alg, hexPart, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hexPart == "" {
		return false
	}
	for _, r := range alg {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_+.", r)) {
			return false
		}
	}
	for _, r := range hexPart {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func (a *API) putImage(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName         string `json:"repositoryName"`
		ImageManifest          string `json:"imageManifest"`
		ImageManifestMediaType string `json:"imageManifestMediaType"`
		ImageTag               string `json:"imageTag"`
		ImageDigest            string `json:"imageDigest"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.ImageManifest == "" || len(in.ImageManifest) > MaxImageManifest {
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must have length between 1 and %d'", MaxImageManifest)
	}
	if in.ImageTag != "" && !validTag(in.ImageTag) {
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must be 1 to 300 letters, digits, '_', '.' or '-', not starting with '.' or '-''")
	}
	repo, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	body := []byte(in.ImageManifest)
	sum := sha256.Sum256(body)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	if in.ImageDigest != "" {
		if !validDigest(in.ImageDigest) {
			return nil, apiErr("InvalidParameterException", "Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
		}
		if in.ImageDigest != dgst {
			return nil, apiErr("ImageDigestDoesNotMatchException", "Invalid parameter at 'imageDigest': the digest %s does not match the digest %s of the manifest", in.ImageDigest, dgst)
		}
	}
	// ECR's no-op check: the digest is stored and the tag (if any) names it.
	exists := false
	if _, err := a.o.Store.GetImage(ctx, in.RepositoryName, dgst); err == nil {
		exists = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("ecrapi: put image: read image: %w", err)
	}
	if in.ImageTag != "" {
		cur, err := a.o.Store.ResolveTag(ctx, in.RepositoryName, in.ImageTag)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("ecrapi: put image: resolve tag: %w", err)
		case cur == dgst && exists:
			return nil, a.imageAlreadyExists(in.RepositoryName, dgst, in.ImageTag)
		case cur != dgst && repo.TagIsImmutable(in.ImageTag):
			return nil, a.tagAlreadyExists(in.RepositoryName, in.ImageTag)
		}
	} else if exists {
		return nil, a.imageAlreadyExists(in.RepositoryName, dgst, "")
	}
	ref := in.ImageTag
	if ref == "" {
		ref = dgst
	}
	mediaType := in.ImageManifestMediaType
	if mediaType == "" {
		mediaType = bodyMediaType(body)
	}
	got, err := a.o.Images.PutManifest(ctx, c.p.Name, in.RepositoryName, ref, mediaType, body)
	var me *registry.ManifestError
	if errors.As(err, &me) {
		return nil, a.manifestRefused(in.RepositoryName, in.ImageTag, body, me)
	}
	if err != nil {
		return nil, fmt.Errorf("ecrapi: put image: %w", err)
	}
	if got != "" && got != dgst {
		return nil, fmt.Errorf("ecrapi: put image: registry stored digest %s for a manifest of digest %s", got, dgst)
	}
	mt, _, err := a.o.Images.Manifest(ctx, in.RepositoryName, dgst)
	if err != nil {
		return nil, fmt.Errorf("ecrapi: put image: read back: %w", err)
	}
	return map[string]any{"image": ecrImage{
		RegistryID:             a.o.RegistryID,
		RepositoryName:         in.RepositoryName,
		ImageID:                imageID{ImageDigest: dgst, ImageTag: in.ImageTag},
		ImageManifest:          in.ImageManifest,
		ImageManifestMediaType: mt,
	}}, nil
}

func (a *API) imageAlreadyExists(repo, dgst, tag string) error {
	return apiErr("ImageAlreadyExistsException", "Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", dgst, tag, repo, a.o.RegistryID)
}

func (a *API) tagAlreadyExists(repo, tag string) error {
	return apiErr("ImageTagAlreadyExistsException", "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, repo)
}

// manifestRefused maps the registry's refusal of a manifest to ECR's error.
func (a *API) manifestRefused(repo, tag string, body []byte, me *registry.ManifestError) error {
	switch me.Code {
	case "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_UNKNOWN":
		if isIndex(body) {
			return apiErr("ReferencedImagesNotFoundException", "Some of the images referenced by the manifest list or index do not exist in the repository with name '%s': %s", repo, me.Message)
		}
		return apiErr("LayersNotFoundException", "Layers referenced by the manifest do not exist in the repository with name '%s': %s", repo, me.Message)
	case "TAG_INVALID":
		return a.tagAlreadyExists(repo, tag)
	case "SIZE_INVALID":
		return apiErr("InvalidParameterException", "Invalid parameter at 'imageManifest': %s", me.Message)
	}
	return apiErr("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy constraint: %s", me.Message)
}

// bodyMediaType is the manifest's own mediaType ("" if none), the media
// type of a PutImage without imageManifestMediaType.
func bodyMediaType(body []byte) string {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if jsonUnmarshal(body, &m) != nil {
		return ""
	}
	return m.MediaType
}

// isIndex reports a manifest list or image index (it lists manifests).
func isIndex(body []byte) bool {
	var m struct {
		Manifests []struct{} `json:"manifests"`
	}
	return jsonUnmarshal(body, &m) == nil && m.Manifests != nil
}

// requestScheme is the scheme the client used (behind a proxy: its
// X-Forwarded-Proto).
func requestScheme(r *http.Request) string {
	if r.TLS == nil && !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return "http"
	}
	return "https"
}
