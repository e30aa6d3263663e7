package ecrapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/registry"
)

// LayerPath is the path of the layer download URLs GetDownloadUrlForLayer
// hands out (served by LayerHandler).
const LayerPath = "/_ecr/layer"

// LayerURLTTL is how long a layer download URL is valid.
const LayerURLTTL = 15 * time.Minute

// layerPartSize is the partSize InitiateLayerUpload suggests.
const layerPartSize = 10 << 20

type layerFailure struct {
	LayerDigest   string `json:"layerDigest"`
	FailureCode   string `json:"failureCode"`
	FailureReason string `json:"failureReason"`
}

type layer struct {
	LayerDigest       string `json:"layerDigest"`
	LayerAvailability string `json:"layerAvailability"`
	LayerSize         int64  `json:"layerSize"`
}

func (a *API) batchCheckLayerAvailability(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string   `json:"repositoryName"`
		LayerDigests   []string `json:"layerDigests"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if len(in.LayerDigests) < 1 || len(in.LayerDigests) > 100 {
		return nil, apiErr("InvalidParameterException", "layerDigests must hold 1 to 100 entries")
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	layers, failures := []layer{}, []layerFailure{}
	for _, d := range in.LayerDigests {
		if !validDigest(d) {
			failures = append(failures, layerFailure{LayerDigest: d, FailureCode: "InvalidLayerDigest", FailureReason: "Invalid layer digest"})
			continue
		}
		size, err := a.o.Images.BlobSize(ctx, in.RepositoryName, d)
		if errors.Is(err, registry.ErrBlobNotFound) {
			failures = append(failures, layerFailure{LayerDigest: d, FailureCode: "MissingLayerDigest", FailureReason: "Could not find layer"})
			continue
		}
		if err != nil {
			// An unsupported algorithm is a digest distribution cannot parse.
			failures = append(failures, layerFailure{LayerDigest: d, FailureCode: "InvalidLayerDigest", FailureReason: "Invalid layer digest"})
			continue
		}
		layers = append(layers, layer{LayerDigest: d, LayerAvailability: "AVAILABLE", LayerSize: size})
	}
	return map[string]any{"layers": layers, "failures": failures}, nil
}

func (a *API) initiateLayerUpload(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	id, err := a.o.Images.OpenUpload(ctx, c.p.Name, in.RepositoryName)
	var le *registry.UploadLimitError
	if errors.As(err, &le) {
		return nil, apiErr("LimitExceededException", "%s", le.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("ecrapi: initiate layer upload: %w", err)
	}
	return map[string]any{"uploadId": id, "partSize": layerPartSize}, nil
}

func (a *API) uploadNotFound(repo, id string) error {
	return apiErr("UploadNotFoundException", "Upload with id '%s' is not found in the repository with name '%s' in the registry with id '%s'", id, repo, a.o.RegistryID)
}

func (a *API) uploadLayerPart(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		UploadID       string `json:"uploadId"`
		PartFirstByte  *int64 `json:"partFirstByte"`
		PartLastByte   *int64 `json:"partLastByte"`
		LayerPartBlob  []byte `json:"layerPartBlob"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.UploadID == "" || in.PartFirstByte == nil || in.PartLastByte == nil {
		return nil, apiErr("InvalidParameterException", "uploadId, partFirstByte, partLastByte and layerPartBlob are required")
	}
	if len(in.LayerPartBlob) > MaxLayerPart {
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'Member must have length less than or equal to %d'", MaxLayerPart)
	}
	first, last := *in.PartFirstByte, *in.PartLastByte
	if first < 0 || last < first || last-first+1 != int64(len(in.LayerPartBlob)) {
		return nil, apiErr("InvalidLayerPartException", "The layer part of %d bytes does not span bytes %d to %d of the upload", len(in.LayerPartBlob), first, last)
	}
	if last >= MaxLayerSize {
		return nil, apiErr("LimitExceededException", "A layer may not be larger than %d bytes", int64(MaxLayerSize))
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	n, err := a.o.Images.AppendUpload(ctx, in.RepositoryName, in.UploadID, first, in.LayerPartBlob)
	var oe *registry.OffsetError
	switch {
	case errors.Is(err, registry.ErrUploadUnknown):
		return nil, a.uploadNotFound(in.RepositoryName, in.UploadID)
	case errors.As(err, &oe):
		return nil, apiErr("InvalidLayerPartException", "The part starts at byte %d but the upload holds %d bytes (last valid byte received: %d)", first, oe.Have, oe.Have-1)
	case err != nil:
		return nil, fmt.Errorf("ecrapi: upload layer part: %w", err)
	}
	return map[string]any{
		"registryId": a.o.RegistryID, "repositoryName": in.RepositoryName, "uploadId": in.UploadID, "lastByteReceived": n - 1,
	}, nil
}

func (a *API) completeLayerUpload(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string   `json:"repositoryName"`
		UploadID       string   `json:"uploadId"`
		LayerDigests   []string `json:"layerDigests"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.UploadID == "" || len(in.LayerDigests) < 1 || len(in.LayerDigests) > 100 {
		return nil, apiErr("InvalidParameterException", "uploadId and 1 to 100 layerDigests are required")
	}
	d := in.LayerDigests[0]
	for _, o := range in.LayerDigests {
		if !validDigest(o) {
			return nil, apiErr("InvalidParameterException", "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
		}
		if o != d {
			return nil, apiErr("InvalidParameterException", "an upload is one layer: every entry of layerDigests must be the same digest")
		}
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	size, err := a.o.Images.UploadSize(ctx, in.RepositoryName, in.UploadID)
	switch {
	case errors.Is(err, registry.ErrUploadUnknown):
		return nil, a.uploadNotFound(in.RepositoryName, in.UploadID)
	case err != nil:
		return nil, fmt.Errorf("ecrapi: complete layer upload: %w", err)
	}
	if size == 0 {
		return nil, apiErr("EmptyUploadException", "The upload with id '%s' contains no data", in.UploadID)
	}
	if _, err := a.o.Images.BlobSize(ctx, in.RepositoryName, d); err == nil {
		if err := a.o.Images.CancelUpload(ctx, in.RepositoryName, in.UploadID); err != nil && !errors.Is(err, registry.ErrUploadUnknown) {
			return nil, fmt.Errorf("ecrapi: complete layer upload: cancel: %w", err)
		}
		return nil, apiErr("LayerAlreadyExistsException", "The layer with digest '%s' already exists in the repository with name '%s' in the registry with id '%s'", d, in.RepositoryName, a.o.RegistryID)
	}
	_, err = a.o.Images.CommitUpload(ctx, in.RepositoryName, in.UploadID, d)
	switch {
	case errors.Is(err, registry.ErrUploadUnknown):
		return nil, a.uploadNotFound(in.RepositoryName, in.UploadID)
	case errors.Is(err, registry.ErrUploadDigest):
		return nil, apiErr("InvalidLayerException", "The layer's content does not match the digest %s; the upload was discarded", d)
	case err != nil:
		return nil, fmt.Errorf("ecrapi: complete layer upload: %w", err)
	}
	return map[string]any{
		"registryId": a.o.RegistryID, "repositoryName": in.RepositoryName, "uploadId": in.UploadID, "layerDigest": d,
	}, nil
}

func (a *API) getDownloadURLForLayer(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		LayerDigest    string `json:"layerDigest"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if !validDigest(in.LayerDigest) {
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'layerDigest' failed to satisfy constraint: 'Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	if _, err := a.o.Images.BlobSize(ctx, in.RepositoryName, in.LayerDigest); err != nil {
		if errors.Is(err, registry.ErrBlobNotFound) {
			return nil, apiErr("LayersNotFoundException", "The layer with digest '%s' does not exist in the repository with name '%s'", in.LayerDigest, in.RepositoryName)
		}
		return nil, apiErr("InvalidParameterException", "Invalid parameter at 'layerDigest': unsupported digest %s", in.LayerDigest)
	}
	exp := a.o.Now().Add(LayerURLTTL).Unix()
	q := url.Values{}
	q.Set("repositoryName", in.RepositoryName)
	q.Set("layerDigest", in.LayerDigest)
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("signature", a.layerSignature(in.RepositoryName, in.LayerDigest, exp))
	u := url.URL{Scheme: requestScheme(c.r), Host: a.host(c.r), Path: LayerPath, RawQuery: q.Encode()}
	return map[string]any{"downloadUrl": u.String(), "layerDigest": in.LayerDigest}, nil
}

// layerSignature signs a download URL's repository, digest and expiry.
func (a *API) layerSignature(repo, dgst string, exp int64) string {
	mac := hmac.New(sha256.New, a.o.LayerURLSecret)
	fmt.Fprintf(mac, "ecr-layer\n%s\n%s\n%d", repo, dgst, exp)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// LayerHandler serves the URLs GetDownloadUrlForLayer hands out: a GET (or
// HEAD, with ranges) of the blob, authorized by the URL's signature alone
// (HMAC-SHA256 under LayerURLSecret over repository, digest and expiry, valid
// LayerURLTTL), as ECR's presigned URLs are. Without LayerURLSecret or
// Images it answers 404.
func (a *API) LayerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.o.LayerURLSecret) == 0 || a.o.Images == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		repo, dgst := q.Get("repositoryName"), q.Get("layerDigest")
		exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		want := a.layerSignature(repo, dgst, exp)
		if err != nil || !hmac.Equal([]byte(q.Get("signature")), []byte(want)) {
			http.Error(w, "invalid layer URL signature", http.StatusForbidden)
			return
		}
		if a.o.Now().Unix() > exp {
			http.Error(w, "layer URL expired", http.StatusForbidden)
			return
		}
		rc, err := a.o.Images.OpenBlob(r.Context(), repo, dgst)
		if errors.Is(err, registry.ErrBlobNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			a.o.Logger.Error("ecrapi: layer download", "repository", repo, "digest", dgst, "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", dgst)
		w.Header().Set("ETag", `"`+dgst+`"`)
		w.Header().Set("Cache-Control", "private, max-age="+strconv.FormatInt(max(exp-a.o.Now().Unix(), 0), 10))
		http.ServeContent(w, r, "", time.Time{}, rc)
	})
}
