package ecrapi

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/lifecycle"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy,
// DeleteLifecyclePolicy, StartLifecyclePolicyPreview and
// GetLifecyclePolicyPreview with ECR's request and response shapes. Policy
// texts are validated by lifecycle.ParseText with ECR's messages.
// Permissions: reading needs pull, a preview push, writing admin.

// LifecycleStore keeps repositories' lifecycle policies (*store.SQL).
type LifecycleStore interface {
	PutLifecyclePolicy(ctx context.Context, repo, text string, now time.Time) error
	GetLifecyclePolicy(ctx context.Context, repo string) (store.LifecyclePolicy, error)
	DeleteLifecyclePolicy(ctx context.Context, repo string) (store.LifecyclePolicy, error)
}

// LifecyclePreviewer runs and reports previews (*lifecycle.Service).
type LifecyclePreviewer interface {
	StartPreview(ctx context.Context, repo, text string) (policyText, status string, err error)
	GetPreview(ctx context.Context, repo string) (lifecycle.Preview, error)
}

type lifecycleIn struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
}

type lifecycleOut struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
	LastEvaluatedAt     *epoch `json:"lastEvaluatedAt,omitempty"`
}

// lifecycleRepo decodes the request, checks the repository name, the
// caller's permission and that the repository exists.
func (a *API) lifecycleRepo(ctx context.Context, c *call, in any, name func() string) error {
	if err := decode(c, in); err != nil {
		return err
	}
	if a.o.LifecycleStore == nil || a.o.Lifecycle == nil {
		return apiErr("ValidationException", "lifecycle policies are not enabled on this server")
	}
	if err := validRepoName(name()); err != nil {
		return err
	}
	_, err := a.authorizedRepo(ctx, c, name())
	return err
}

func (a *API) lifecyclePolicyNotFound(repo string) error {
	return apiErr("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", repo, a.o.RegistryID)
}

// policyError maps a lifecycle validation error to InvalidParameterException.
func policyError(err error) error {
	var ve *lifecycle.ValidationError
	var le *lifecycle.LengthError
	if errors.As(err, &ve) || errors.As(err, &le) {
		return apiErr("InvalidParameterException", "%s", err.Error())
	}
	return err
}

func (a *API) putLifecyclePolicy(ctx context.Context, c *call) (any, error) {
	var in lifecycleIn
	if err := a.lifecycleRepo(ctx, c, &in, func() string { return in.RepositoryName }); err != nil {
		return nil, err
	}
	if _, err := lifecycle.ParseText(in.LifecyclePolicyText); err != nil {
		return nil, policyError(err)
	}
	err := a.o.LifecycleStore.PutLifecyclePolicy(ctx, in.RepositoryName, in.LifecyclePolicyText, a.o.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.repoNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	return lifecycleOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, LifecyclePolicyText: in.LifecyclePolicyText}, nil
}

func (a *API) getLifecyclePolicy(ctx context.Context, c *call) (any, error) {
	var in lifecycleIn
	if err := a.lifecycleRepo(ctx, c, &in, func() string { return in.RepositoryName }); err != nil {
		return nil, err
	}
	p, err := a.o.LifecycleStore.GetLifecyclePolicy(ctx, in.RepositoryName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.lifecyclePolicyNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	return lifecycleOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, LifecyclePolicyText: p.Text, LastEvaluatedAt: epochPtr(p.LastEvaluatedAt)}, nil
}

func (a *API) deleteLifecyclePolicy(ctx context.Context, c *call) (any, error) {
	var in lifecycleIn
	if err := a.lifecycleRepo(ctx, c, &in, func() string { return in.RepositoryName }); err != nil {
		return nil, err
	}
	p, err := a.o.LifecycleStore.DeleteLifecyclePolicy(ctx, in.RepositoryName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.lifecyclePolicyNotFound(in.RepositoryName)
	}
	if err != nil {
		return nil, err
	}
	return lifecycleOut{RegistryID: a.o.RegistryID, RepositoryName: in.RepositoryName, LifecyclePolicyText: p.Text, LastEvaluatedAt: epochPtr(p.LastEvaluatedAt)}, nil
}

func (a *API) startLifecyclePolicyPreview(ctx context.Context, c *call) (any, error) {
	var in lifecycleIn
	if err := a.lifecycleRepo(ctx, c, &in, func() string { return in.RepositoryName }); err != nil {
		return nil, err
	}
	text, status, err := a.o.Lifecycle.StartPreview(ctx, in.RepositoryName, in.LifecyclePolicyText)
	switch {
	case errors.Is(err, lifecycle.ErrNoPolicy):
		return nil, a.lifecyclePolicyNotFound(in.RepositoryName)
	case errors.Is(err, lifecycle.ErrPreviewInProgress):
		return nil, apiErr("LifecyclePolicyPreviewInProgressException", "The previous lifecycle policy preview request has not completed for the repository with name '%s' in the registry with id '%s'", in.RepositoryName, a.o.RegistryID)
	case errors.Is(err, store.ErrNotFound):
		return nil, a.repoNotFound(in.RepositoryName)
	case err != nil:
		return nil, policyError(err)
	}
	return map[string]string{
		"registryId":          a.o.RegistryID,
		"repositoryName":      in.RepositoryName,
		"lifecyclePolicyText": text,
		"status":              status,
	}, nil
}

type previewResult struct {
	ImageTags           []string          `json:"imageTags,omitempty"`
	ImageDigest         string            `json:"imageDigest"`
	ImagePushedAt       *epoch            `json:"imagePushedAt,omitempty"`
	Action              map[string]string `json:"action"`
	AppliedRulePriority int               `json:"appliedRulePriority"`
}

// maxPreviewResults is GetLifecyclePolicyPreview's maxResults bound (ECR API
// reference: 1 to 100).
const maxPreviewResults = 100

func (a *API) getLifecyclePolicyPreview(ctx context.Context, c *call) (any, error) {
	var in struct {
		RegistryID     string    `json:"registryId"`
		RepositoryName string    `json:"repositoryName"`
		ImageIDs       []imageID `json:"imageIds"`
		NextToken      string    `json:"nextToken"`
		MaxResults     *int      `json:"maxResults"`
		Filter         *struct {
			TagStatus string `json:"tagStatus"`
		} `json:"filter"`
	}
	if err := a.lifecycleRepo(ctx, c, &in, func() string { return in.RepositoryName }); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > maxPreviewResults) {
		return nil, apiErr("InvalidParameterException", "maxResults must be between 1 and %d", maxPreviewResults)
	}
	if in.MaxResults != nil && len(in.ImageIDs) > 0 {
		return nil, apiErr("InvalidParameterException", "maxResults can not be used with imageIds")
	}
	filter := "ANY"
	if in.Filter != nil && in.Filter.TagStatus != "" {
		filter = in.Filter.TagStatus
		if filter != "TAGGED" && filter != "UNTAGGED" && filter != "ANY" {
			return nil, apiErr("InvalidParameterException", "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
		}
	}
	pv, err := a.o.Lifecycle.GetPreview(ctx, in.RepositoryName)
	if errors.Is(err, lifecycle.ErrNoPreview) {
		return nil, apiErr("LifecyclePolicyPreviewNotFoundException", "There is no lifecycle policy preview for the repository with name '%s' in the registry with id '%s'", in.RepositoryName, a.o.RegistryID)
	}
	if err != nil {
		return nil, err
	}
	var selected []lifecycle.PreviewResult
	for _, r := range pv.Results {
		switch {
		case filter == "TAGGED" && len(r.Tags) == 0, filter == "UNTAGGED" && len(r.Tags) > 0:
			continue
		case len(in.ImageIDs) > 0 && !previewWanted(r, in.ImageIDs):
			continue
		}
		selected = append(selected, r)
	}
	limit := in.MaxResults
	if limit == nil {
		def := maxPreviewResults
		limit = &def
	}
	start, end, next, err := pageBounds(in.NextToken, limit, len(selected))
	if err != nil {
		return nil, err
	}
	results := []previewResult{}
	for _, r := range selected[start:end] {
		results = append(results, previewResult{
			ImageTags:           r.Tags,
			ImageDigest:         r.Digest,
			ImagePushedAt:       epochPtr(r.PushedAt),
			Action:              map[string]string{"type": "EXPIRE"},
			AppliedRulePriority: r.RulePriority,
		})
	}
	out := map[string]any{
		"registryId":          a.o.RegistryID,
		"repositoryName":      in.RepositoryName,
		"lifecyclePolicyText": pv.PolicyText,
		"status":              pv.Status,
		"previewResults":      results,
		"summary":             map[string]int{"expiringImageTotalCount": len(pv.Results)},
	}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func previewWanted(r lifecycle.PreviewResult, ids []imageID) bool {
	for _, id := range ids {
		if id.ImageDigest != "" && id.ImageDigest != r.Digest {
			continue
		}
		if id.ImageTag != "" && !slices.Contains(r.Tags, id.ImageTag) {
			continue
		}
		if id.ImageDigest != "" || id.ImageTag != "" {
			return true
		}
	}
	return false
}
