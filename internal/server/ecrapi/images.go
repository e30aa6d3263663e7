package ecrapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

func (id imageID) String() string {
	return fmt.Sprintf("{imageDigest:'%s', imageTag:'%s'}", id.ImageDigest, id.ImageTag)
}

func (a *API) imageNotFound(repo string, id imageID) error {
	return apiErr("ImageNotFoundException", "The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'", id, repo, a.o.RegistryID)
}

// resolve finds the image an imageId names.
func (a *API) resolve(ctx context.Context, repo string, id imageID) (store.Image, error) {
	d := id.ImageDigest
	if id.ImageTag != "" {
		td, err := a.o.Store.ResolveTag(ctx, repo, id.ImageTag)
		if errors.Is(err, store.ErrNotFound) {
			return store.Image{}, a.imageNotFound(repo, id)
		}
		if err != nil {
			return store.Image{}, err
		}
		if d != "" && d != td {
			return store.Image{}, a.imageNotFound(repo, id)
		}
		d = td
	}
	if d == "" {
		return store.Image{}, apiErr("InvalidParameterException", "imageId must have an imageDigest or an imageTag")
	}
	img, err := a.o.Store.GetImage(ctx, repo, d)
	if errors.Is(err, store.ErrNotFound) {
		return img, a.imageNotFound(repo, id)
	}
	return img, err
}

type scanStatus struct {
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
}

type findingsSummary struct {
	ImageScanCompletedAt         *epoch                    `json:"imageScanCompletedAt,omitempty"`
	VulnerabilitySourceUpdatedAt *epoch                    `json:"vulnerabilitySourceUpdatedAt,omitempty"`
	FindingSeverityCounts        map[severity.Severity]int `json:"findingSeverityCounts"`
}

type imageDetail struct {
	RegistryID               string           `json:"registryId"`
	RepositoryName           string           `json:"repositoryName"`
	ImageDigest              string           `json:"imageDigest"`
	ImageTags                []string         `json:"imageTags,omitempty"`
	ImageSizeInBytes         int64            `json:"imageSizeInBytes"`
	ImagePushedAt            *epoch           `json:"imagePushedAt,omitempty"`
	ImageScanStatus          *scanStatus      `json:"imageScanStatus,omitempty"`
	ImageScanFindingsSummary *findingsSummary `json:"imageScanFindingsSummary,omitempty"`
	ImageManifestMediaType   string           `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType        string           `json:"artifactMediaType,omitempty"`
	// Filled by imageFacts (imagedetail.go).
	LastRecordedPullTime  *epoch `json:"lastRecordedPullTime,omitempty"`
	SubjectManifestDigest string `json:"subjectManifestDigest,omitempty"`
	ImageStatus           string `json:"imageStatus,omitempty"`
}

// scanView is a stored scan decoded for responses.
type scanView struct {
	status scanStatus
	result *scanning.Result
}

func decodeScan(sc store.Scan) (scanView, error) {
	v := scanView{status: scanStatus{Status: sc.Status, Description: sc.Description}}
	if len(sc.Result) > 0 {
		var res scanning.Result
		if err := jsonUnmarshal(sc.Result, &res); err != nil {
			return v, fmt.Errorf("ecrapi: stored scan result: %w", err)
		}
		v.result = &res
	}
	if v.status.Status == string(scanning.StatusComplete) && v.status.Description == "" {
		v.status.Description = "The scan was completed successfully."
	}
	return v, nil
}

func (v scanView) summary() *findingsSummary {
	// An image whose continuous scanning expired keeps its last findings
	// (package rescan), as ACTIVE ones carry current findings.
	switch scanning.Status(v.status.Status) {
	case scanning.StatusComplete, scanning.StatusActive, scanning.StatusEligibilityExpired:
	default:
		return nil
	}
	if v.result == nil {
		return nil
	}
	counts := v.result.SeverityCounts
	if counts == nil {
		counts = map[severity.Severity]int{}
	}
	return &findingsSummary{
		ImageScanCompletedAt:         epochPtr(v.result.CompletedAt),
		VulnerabilitySourceUpdatedAt: epochPtr(v.result.VulnerabilitySourceUpdatedAt),
		FindingSeverityCounts:        counts,
	}
}

func (a *API) detail(ctx context.Context, img store.Image) (imageDetail, error) {
	d := imageDetail{
		RegistryID:             a.o.RegistryID,
		RepositoryName:         img.Repository,
		ImageDigest:            img.Digest,
		ImageTags:              img.Tags,
		ImageSizeInBytes:       img.Size,
		ImagePushedAt:          epochPtr(img.PushedAt),
		ImageManifestMediaType: img.MediaType,
		ArtifactMediaType:      img.ArtifactMediaType,
	}
	if err := a.imageFacts(ctx, img, &d); err != nil {
		return d, err
	}
	// The summary alone: no finding is read.
	pg, err := a.o.Store.ScanFindingsPage(ctx, img.Repository, img.Digest, 0, 0)
	if errors.Is(err, store.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	v, err := decodeScan(pg.Scan)
	if err != nil {
		return d, err
	}
	d.ImageScanStatus = &v.status
	d.ImageScanFindingsSummary = v.summary()
	return d, nil
}

type tagFilter struct {
	TagStatus string `json:"tagStatus"`
}

func (f *tagFilter) keep(img store.Image) (bool, error) {
	if f == nil {
		return true, nil
	}
	switch f.TagStatus {
	case "", "ANY":
		return true, nil
	case "TAGGED":
		return len(img.Tags) > 0, nil
	case "UNTAGGED":
		return len(img.Tags) == 0, nil
	}
	return false, apiErr("InvalidParameterException", "tagStatus must be TAGGED, UNTAGGED or ANY")
}

// filteredImages lists the images of repo that f keeps.
func (a *API) filteredImages(ctx context.Context, repo string, f *tagFilter) ([]store.Image, error) {
	all, err := a.o.Store.ListImages(ctx, repo)
	if err != nil {
		return nil, err
	}
	var imgs []store.Image
	for _, img := range all {
		ok, err := f.keep(img)
		if err != nil {
			return nil, err
		}
		if ok {
			imgs = append(imgs, img)
		}
	}
	return imgs, nil
}

func (a *API) describeImages(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string     `json:"repositoryName"`
		ImageIDs       []imageID  `json:"imageIds"`
		NextToken      string     `json:"nextToken"`
		MaxResults     *int       `json:"maxResults"`
		Filter         *tagFilter `json:"filter"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	repo, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var imgs []store.Image
	if len(in.ImageIDs) > 0 {
		seen := map[string]bool{}
		for _, id := range in.ImageIDs {
			img, err := a.resolve(ctx, in.RepositoryName, id)
			if err != nil {
				return nil, err
			}
			if !seen[img.Digest] {
				seen[img.Digest] = true
				imgs = append(imgs, img)
			}
		}
	} else {
		var err error
		imgs, err = a.filteredImages(ctx, in.RepositoryName, in.Filter)
		if err != nil {
			return nil, err
		}
	}
	start, end, next, err := pageBounds(in.NextToken, in.MaxResults, len(imgs))
	if err != nil {
		return nil, err
	}
	eff, err := a.scanEffective(ctx, repo)
	if err != nil {
		return nil, err
	}
	details := []imageDetail{}
	for _, img := range imgs[start:end] {
		d, err := a.detail(ctx, img)
		if err != nil {
			return nil, err
		}
		if d.ImageScanStatus != nil {
			*d.ImageScanStatus = reported(eff, *d.ImageScanStatus)
		}
		details = append(details, d)
	}
	resp := map[string]any{"imageDetails": details}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (a *API) listImages(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string     `json:"repositoryName"`
		NextToken      string     `json:"nextToken"`
		MaxResults     *int       `json:"maxResults"`
		Filter         *tagFilter `json:"filter"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	imgs, err := a.filteredImages(ctx, in.RepositoryName, in.Filter)
	if err != nil {
		return nil, err
	}
	ids := []imageID{}
	for _, img := range imgs {
		if len(img.Tags) == 0 {
			ids = append(ids, imageID{ImageDigest: img.Digest})
		}
		for _, t := range img.Tags {
			ids = append(ids, imageID{ImageDigest: img.Digest, ImageTag: t})
		}
	}
	start, end, next, err := pageBounds(in.NextToken, in.MaxResults, len(ids))
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"imageIds": ids[start:end]}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

type imageFailure struct {
	ImageID       imageID `json:"imageId"`
	FailureCode   string  `json:"failureCode"`
	FailureReason string  `json:"failureReason"`
}

func (a *API) batchDeleteImage(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string    `json:"repositoryName"`
		ImageIDs       []imageID `json:"imageIds"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) < 1 || len(in.ImageIDs) > 100 {
		return nil, apiErr("InvalidParameterException", "imageIds must hold 1 to 100 entries")
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	deleted, failures := []imageID{}, []imageFailure{}
	for _, id := range in.ImageIDs {
		done, fail, err := a.deleteOne(ctx, in.RepositoryName, id)
		if err != nil {
			return nil, err
		}
		if fail != nil {
			failures = append(failures, *fail)
			continue
		}
		deleted = append(deleted, done...)
	}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

// deleteOne deletes by digest (image and all tags) or by tag (the tag, and
// the image when it was its last tag).
func (a *API) deleteOne(ctx context.Context, repo string, id imageID) ([]imageID, *imageFailure, error) {
	fail := func(code, reason string) ([]imageID, *imageFailure, error) {
		return nil, &imageFailure{ImageID: id, FailureCode: code, FailureReason: reason}, nil
	}
	if id.ImageDigest == "" && id.ImageTag == "" {
		return fail("MissingDigestAndTag", "Requested image must have a digest or a tag")
	}
	if id.ImageDigest != "" && !strings.HasPrefix(id.ImageDigest, "sha256:") {
		return fail("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
	}
	var img store.Image
	var err error
	if id.ImageTag != "" {
		d, rerr := a.o.Store.ResolveTag(ctx, repo, id.ImageTag)
		if errors.Is(rerr, store.ErrNotFound) {
			return fail("ImageNotFound", "Requested image not found")
		}
		if rerr != nil {
			return nil, nil, rerr
		}
		if id.ImageDigest != "" && id.ImageDigest != d {
			return fail("ImageTagDoesNotMatchDigest", "Invalid request parameters: given tag does not map to the given digest")
		}
		img, err = a.o.Store.GetImage(ctx, repo, d)
	} else {
		img, err = a.o.Store.GetImage(ctx, repo, id.ImageDigest)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fail("ImageNotFound", "Requested image not found")
	}
	if err != nil {
		return nil, nil, err
	}
	if id.ImageTag != "" && len(img.Tags) > 1 {
		if err := a.o.Registry.Untag(ctx, repo, id.ImageTag); err != nil {
			return nil, nil, err
		}
		if err := a.o.Store.DeleteTag(ctx, repo, id.ImageTag); err != nil {
			return nil, nil, err
		}
		return []imageID{{ImageDigest: img.Digest, ImageTag: id.ImageTag}}, nil, nil
	}
	if err := a.o.Registry.DeleteManifest(ctx, repo, img.Digest); err != nil {
		return nil, nil, err
	}
	if err := a.o.Store.DeleteImage(ctx, repo, img.Digest); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if _, err := a.o.Registry.DeleteReferrers(ctx, repo, img.Digest); err != nil {
		return nil, nil, err
	}
	if len(img.Tags) == 0 {
		return []imageID{{ImageDigest: img.Digest}}, nil, nil
	}
	var out []imageID
	for _, t := range img.Tags {
		out = append(out, imageID{ImageDigest: img.Digest, ImageTag: t})
	}
	return out, nil, nil
}
