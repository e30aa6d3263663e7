package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The ECR API's image and layer operations (BatchGetImage, PutImage and the
// layer upload/download calls) act on the same storage as /v2/. A manifest
// put goes through the same path as a client's manifest PUT (reserved
// annotations, immutable tags, the store record, OnPush and so scan on push);
// layer uploads use distribution's blob writer in the repository, so a
// finished upload is a blob /v2/ serves and mounts.

// Errors of the ECR-side operations. A manifest the registry refuses is a
// *ManifestError.
var (
	// ErrManifestUnknown: no such manifest in the repository.
	ErrManifestUnknown = errors.New("registry: manifest unknown")
	// ErrBlobNotFound: no such blob linked in the repository.
	ErrBlobNotFound = errors.New("registry: blob unknown")
	// ErrUploadUnknown: no such upload session in the repository.
	ErrUploadUnknown = errors.New("registry: upload unknown")
	// ErrUploadDigest: the uploaded content does not match its digest.
	ErrUploadDigest = errors.New("registry: uploaded content does not match the digest")
)

// ManifestError is a manifest put the registry refused, with the
// distribution-spec error code (MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID,
// TAG_INVALID, SIZE_INVALID, DIGEST_INVALID, ...).
type ManifestError struct {
	Status  int
	Code    string
	Message string
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("registry: manifest refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// Manifest returns the stored manifest dgst of repo: its media type and
// bytes. An unknown manifest is ErrManifestUnknown.
func (r *Registry) Manifest(ctx context.Context, repo, dgst string) (string, []byte, error) {
	_, _, mt, payload, err := r.storedManifest(ctx, repo, dgst)
	if err != nil {
		if isUnknown(err) {
			return "", nil, fmt.Errorf("%w: %s@%s", ErrManifestUnknown, repo, dgst)
		}
		return "", nil, err
	}
	return mt, payload, nil
}

// PutManifest stores body under ref (a tag or a digest) of repo exactly as a
// client's manifest PUT with Content-Type mediaType would, principal naming
// the caller in logs. It returns the manifest's digest.
func (r *Registry) PutManifest(ctx context.Context, principal, repo, ref, mediaType string, body []byte) (string, error) {
	if len(body) > MaxManifestSize {
		return "", &ManifestError{Status: http.StatusRequestEntityTooLarge, Code: "SIZE_INVALID", Message: fmt.Sprintf("manifest larger than %d bytes", MaxManifestSize)}
	}
	u := &url.URL{Path: "/v2/" + repo + "/manifests/" + ref}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("registry: put manifest request: %w", err)
	}
	req.Host = "localhost"
	if mediaType != "" {
		req.Header.Set("Content-Type", mediaType)
	}
	rt, ok := parseRoute(req.URL.Path)
	if !ok || rt.kind != "manifests" || rt.repo != repo || rt.ref != ref {
		return "", &ManifestError{Status: http.StatusBadRequest, Code: "NAME_INVALID", Message: "invalid repository name or reference"}
	}
	rec := &recorder{header: http.Header{}}
	r.putManifest(rec, req, rt, principal)
	if rec.status == http.StatusCreated {
		return rec.header.Get("Docker-Content-Digest"), nil
	}
	var oe struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	me := &ManifestError{Status: rec.status, Code: "UNKNOWN", Message: http.StatusText(rec.status)}
	if json.Unmarshal(rec.body.Bytes(), &oe) == nil && len(oe.Errors) > 0 {
		me.Code, me.Message = oe.Errors[0].Code, oe.Errors[0].Message
	}
	if rec.status >= 500 {
		return "", fmt.Errorf("registry: put manifest %s:%s: %w", repo, ref, me)
	}
	return "", me
}

// recorder is the response writer of an in-process manifest PUT.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	// Error bodies are small; a success body is not needed.
	if w.body.Len() < 64<<10 {
		w.body.Write(b[:min(len(b), 64<<10-w.body.Len())])
	}
	return len(b), nil
}

// BlobSize is the size of blob dgst linked in repo; ErrBlobNotFound if the
// repository has no such blob.
func (r *Registry) BlobSize(ctx context.Context, repo, dgst string) (int64, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return 0, fmt.Errorf("registry: digest %q: %w", dgst, err)
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return 0, err
	}
	desc, err := rp.Blobs(ctx).Stat(ctx, d)
	if err != nil {
		if isUnknown(err) {
			return 0, fmt.Errorf("%w: %s@%s", ErrBlobNotFound, repo, dgst)
		}
		return 0, fmt.Errorf("registry: stat blob %s@%s: %w", repo, dgst, err)
	}
	return desc.Size, nil
}

// OpenBlob opens blob dgst linked in repo for reading.
func (r *Registry) OpenBlob(ctx context.Context, repo, dgst string) (io.ReadSeekCloser, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return nil, fmt.Errorf("registry: digest %q: %w", dgst, err)
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return nil, err
	}
	rc, err := rp.Blobs(ctx).Open(ctx, d)
	if err != nil {
		if isUnknown(err) {
			return nil, fmt.Errorf("%w: %s@%s", ErrBlobNotFound, repo, dgst)
		}
		return nil, fmt.Errorf("registry: open blob %s@%s: %w", repo, dgst, err)
	}
	return rc, nil
}

// StartUpload opens an upload session in repo and returns its id (a UUID,
// as ECR's upload ids are).
func (r *Registry) StartUpload(ctx context.Context, repo string) (string, error) {
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return "", err
	}
	bw, err := rp.Blobs(ctx).Create(ctx)
	if err != nil {
		return "", fmt.Errorf("registry: start upload in %q: %w", repo, err)
	}
	id := bw.ID()
	if err := bw.Close(); err != nil {
		return "", fmt.Errorf("registry: start upload in %q: %w", repo, err)
	}
	return id, nil
}

// OpenUpload opens an upload session of principal in repo within the
// upload caps (an over-cap refusal is an *UploadLimitError wrapping
// ErrTooManyUploads) and returns its id.
func (r *Registry) OpenUpload(ctx context.Context, principal, repo string) (string, error) {
	release, err := r.reserveUpload(ctx, repo, principal)
	if err != nil {
		return "", err
	}
	id, err := r.StartUpload(ctx, repo)
	release(id)
	return id, err
}

// CountUploads is the number of upload sessions open in repo (ECR API and
// /v2/ ones alike), so callers can bound them.
func (r *Registry) CountUploads(ctx context.Context, repo string) (int, error) {
	if _, err := r.repository(ctx, repo); err != nil {
		return 0, err
	}
	dir := path.Join(repositoriesRoot, repo, "_uploads")
	if r.objectStore {
		return r.countSessions(ctx, dir)
	}
	names, err := r.driver.List(ctx, dir)
	if err != nil {
		if isPathNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("registry: list uploads of %q: %w", repo, err)
	}
	return len(names), nil
}

func (r *Registry) resumeUpload(ctx context.Context, repo, id string) (distribution.BlobWriter, error) {
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return nil, err
	}
	bw, err := rp.Blobs(ctx).Resume(ctx, id)
	if err != nil {
		if errors.Is(err, distribution.ErrBlobUploadUnknown) || isPathNotFound(err) {
			return nil, fmt.Errorf("%w: %s in %s", ErrUploadUnknown, id, repo)
		}
		return nil, fmt.Errorf("registry: resume upload %s in %q: %w", id, repo, err)
	}
	return bw, nil
}

// UploadSize is the number of bytes an upload session holds so far.
func (r *Registry) UploadSize(ctx context.Context, repo, id string) (int64, error) {
	bw, err := r.resumeUpload(ctx, repo, id)
	if err != nil {
		return 0, err
	}
	n := bw.Size()
	if err := bw.Close(); err != nil {
		return 0, fmt.Errorf("registry: upload %s: %w", id, err)
	}
	return n, nil
}

// AppendUpload appends part to upload id of repo when the session holds
// exactly offset bytes, and returns the new size. A session of another
// size is refused with the size it has, so the caller can say where to
// resume.
func (r *Registry) AppendUpload(ctx context.Context, repo, id string, offset int64, part []byte) (int64, error) {
	bw, err := r.resumeUpload(ctx, repo, id)
	if err != nil {
		return 0, err
	}
	if bw.Size() != offset {
		n := bw.Size()
		_ = bw.Close()
		return n, &OffsetError{Have: n}
	}
	if _, err := bw.Write(part); err != nil {
		_ = bw.Close()
		return 0, fmt.Errorf("registry: upload %s: write: %w", id, err)
	}
	n := bw.Size()
	if err := bw.Close(); err != nil {
		return 0, fmt.Errorf("registry: upload %s: %w", id, err)
	}
	return n, nil
}

// OffsetError is an upload part that does not start where the session ends.
type OffsetError struct{ Have int64 }

func (e *OffsetError) Error() string {
	return fmt.Sprintf("registry: upload holds %d bytes", e.Have)
}

// CommitUpload finishes upload id of repo as blob dgst: the content is
// verified (ErrUploadDigest, and the session is cancelled) and the blob
// linked in the repository. It returns the blob's size.
func (r *Registry) CommitUpload(ctx context.Context, repo, id, dgst string) (int64, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return 0, fmt.Errorf("registry: digest %q: %w", dgst, err)
	}
	bw, err := r.resumeUpload(ctx, repo, id)
	if err != nil {
		return 0, err
	}
	desc, err := bw.Commit(ctx, ocispec.Descriptor{Digest: d, MediaType: "application/octet-stream"})
	if err != nil {
		var inv distribution.ErrBlobInvalidDigest
		if errors.As(err, &inv) || errors.Is(err, distribution.ErrBlobInvalidLength) {
			// The failed commit closed bw: cancel through a fresh writer.
			if cerr := r.CancelUpload(ctx, repo, id); cerr != nil {
				return 0, fmt.Errorf("registry: discard upload %s after a digest mismatch: %w", id, cerr)
			}
			return 0, fmt.Errorf("%w: %v", ErrUploadDigest, err)
		}
		return 0, fmt.Errorf("registry: commit upload %s in %q: %w", id, repo, err)
	}
	r.forgetUpload(id)
	return desc.Size, nil
}

// CancelUpload drops upload id of repo.
func (r *Registry) CancelUpload(ctx context.Context, repo, id string) error {
	bw, err := r.resumeUpload(ctx, repo, id)
	if err != nil {
		return err
	}
	if err := bw.Cancel(ctx); err != nil {
		return fmt.Errorf("registry: cancel upload %s in %q: %w", id, repo, err)
	}
	r.forgetUpload(id)
	return nil
}

// countSessions counts the session directories under an object store's
// _uploads prefix by walking its objects: a listing with a delimiter may
// also name folders whose objects are all gone (SeaweedFS keeps an emptied
// folder for a while), which are no session.
func (r *Registry) countSessions(ctx context.Context, dir string) (int, error) {
	n := 0
	err := r.driver.Walk(ctx, dir, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() && path.Dir(fi.Path()) == dir {
			n++
			return storagedriver.ErrSkipDir
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return 0, fmt.Errorf("registry: list uploads in %s: %w", dir, err)
	}
	return n, nil
}
