package ecrapi

import (
	"context"
	"fmt"
	"slices"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// isSignature reports the referrer artifactTypes DescribeImageSigningStatus
// counts as signatures: Notary Project (notation), cosign and Sigstore
// bundles.
func isSignature(artifactType string) bool {
	switch artifactType {
	case "application/vnd.cncf.notary.signature",
		"application/vnd.dev.cosign.artifact.sig.v1+json",
		"application/vnd.dev.sigstore.bundle.v0.3+json",
		"application/vnd.dev.sigstore.bundle+json;version=0.3":
		return true
	}
	return false
}

type imageReferrer struct {
	Digest         string            `json:"digest"`
	MediaType      string            `json:"mediaType"`
	ArtifactType   string            `json:"artifactType,omitempty"`
	Size           int64             `json:"size"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	ArtifactStatus string            `json:"artifactStatus"`
}

// listImageReferrers answers from the index /v2/<name>/referrers serves.
// Every stored artifact is ACTIVE (no archive storage class here), so an
// artifactStatus filter of ARCHIVED or ACTIVATING matches nothing.
func (a *API) listImageReferrers(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		SubjectID      *struct {
			ImageDigest string `json:"imageDigest"`
		} `json:"subjectId"`
		Filter *struct {
			ArtifactTypes  []string `json:"artifactTypes"`
			ArtifactStatus string   `json:"artifactStatus"`
		} `json:"filter"`
		NextToken  string `json:"nextToken"`
		MaxResults *int   `json:"maxResults"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.SubjectID == nil || !validDigest(in.SubjectID.ImageDigest) {
		return nil, apiErr("InvalidParameterException", "subjectId.imageDigest is required and must satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 50) {
		return nil, apiErr("InvalidParameterException", "maxResults must be between 1 and 50")
	}
	var types []string
	status := "ACTIVE"
	if in.Filter != nil {
		if len(in.Filter.ArtifactTypes) > 5 {
			return nil, apiErr("InvalidParameterException", "filter.artifactTypes holds at most 5 entries")
		}
		for _, t := range in.Filter.ArtifactTypes {
			if t == "" || len(t) > 255 {
				return nil, apiErr("InvalidParameterException", "an artifact type must be 1 to 255 characters")
			}
		}
		types = in.Filter.ArtifactTypes
		switch in.Filter.ArtifactStatus {
		case "", "ACTIVE", "ANY":
		case "ARCHIVED", "ACTIVATING":
			status = in.Filter.ArtifactStatus
		default:
			return nil, apiErr("InvalidParameterException", "filter.artifactStatus must be ACTIVE, ARCHIVED, ACTIVATING or ANY")
		}
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	refs, err := a.o.Referrers.ListReferrers(ctx, in.RepositoryName, in.SubjectID.ImageDigest, "")
	if err != nil {
		return nil, fmt.Errorf("ecrapi: list image referrers: %w", err)
	}
	out := []imageReferrer{}
	if status == "ACTIVE" {
		for _, r := range refs {
			if len(types) > 0 && !slices.Contains(types, r.ArtifactType) {
				continue
			}
			out = append(out, referrerOf(r))
		}
	}
	start, limit, err := pageRequest(in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	if in.MaxResults == nil {
		limit = 50
	}
	start, end, next, err := pageWindow(start, limit, len(out))
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"referrers": out[start:end]}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func referrerOf(r store.Referrer) imageReferrer {
	return imageReferrer{
		Digest: r.Digest, MediaType: r.MediaType, ArtifactType: r.ArtifactType,
		Size: r.Size, Annotations: r.Annotations, ArtifactStatus: "ACTIVE",
	}
}

type signingStatus struct {
	Status string `json:"status"`
}

// describeImageSigningStatus reports one COMPLETE status per signature
// referrer of the image (an artifactType isSignature accepts), without a
// signingProfileArn: signing here is done by clients (notation, cosign), not
// by AWS Signer through a signing configuration. An unsigned image has no
// statuses.
func (a *API) describeImageSigningStatus(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string  `json:"repositoryName"`
		ImageID        imageID `json:"imageId"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	img, err := a.resolve(ctx, in.RepositoryName, in.ImageID)
	if err != nil {
		return nil, err
	}
	refs, err := a.o.Referrers.ListReferrers(ctx, in.RepositoryName, img.Digest, "")
	if err != nil {
		return nil, fmt.Errorf("ecrapi: describe image signing status: %w", err)
	}
	statuses := []signingStatus{}
	for _, r := range refs {
		if isSignature(r.ArtifactType) {
			statuses = append(statuses, signingStatus{Status: "COMPLETE"})
		}
	}
	return map[string]any{
		"registryId":      a.o.RegistryID,
		"repositoryName":  in.RepositoryName,
		"imageId":         imageID{ImageDigest: img.Digest, ImageTag: in.ImageID.ImageTag},
		"signingStatuses": statuses,
	}, nil
}
