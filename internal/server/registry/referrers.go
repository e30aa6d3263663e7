package registry

import (
	"encoding/json"
	"net/http"

	"github.com/opencontainers/go-digest"
)

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type imageIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// serveReferrers answers GET /v2/<name>/referrers/<digest>. Per the
// distribution spec it never answers 404: an unknown subject has an empty
// index.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, rt route) {
	if _, err := digest.Parse(rt.ref); err != nil {
		ociError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid subject digest")
		return
	}
	artifactType := req.URL.Query().Get("artifactType")
	refs, err := r.opts.Store.ListReferrers(req.Context(), rt.repo, rt.ref, artifactType)
	if err != nil {
		r.opts.Logger.Error("registry: list referrers", "repository", rt.repo, "err", err)
		ociError(w, http.StatusInternalServerError, "UNKNOWN", "listing referrers failed")
		return
	}
	idx := imageIndex{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []descriptor{}}
	for _, ref := range refs {
		idx.Manifests = append(idx.Manifests, descriptor{
			MediaType:    ref.MediaType,
			Digest:       ref.Digest,
			Size:         ref.Size,
			ArtifactType: ref.ArtifactType,
			Annotations:  ref.Annotations,
		})
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(idx)
}
