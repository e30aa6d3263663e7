package ecrapi

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

var repoNameRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func validRepoName(name string) error {
	if len(name) < 2 || len(name) > 256 || !repoNameRE.MatchString(name) {
		return apiErr("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s' and be 2 to 256 characters'", repoNameRE)
	}
	return nil
}

type scanningConfiguration struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type repositoryOut struct {
	RepositoryArn              string                  `json:"repositoryArn"`
	RegistryID                 string                  `json:"registryId"`
	RepositoryName             string                  `json:"repositoryName"`
	RepositoryURI              string                  `json:"repositoryUri"`
	CreatedAt                  *epoch                  `json:"createdAt,omitempty"`
	ImageTagMutability         string                  `json:"imageTagMutability"`
	ImageTagMutabilityFilters  []exclusionFilter       `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration    encryptionConfiguration `json:"encryptionConfiguration"`
}

func (a *API) arn(repo string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", a.o.Region, a.o.RegistryID, repo)
}

func (a *API) repoOut(c *call, r store.Repository) repositoryOut {
	mut, filters := mutabilityOut(r.TagImmutable, r.TagMutabilityExclusions)
	return repositoryOut{
		RepositoryArn:              a.arn(r.Name),
		RegistryID:                 a.o.RegistryID,
		RepositoryName:             r.Name,
		RepositoryURI:              a.host(c.r) + "/" + r.Name,
		CreatedAt:                  epochPtr(r.CreatedAt),
		ImageTagMutability:         mut,
		ImageTagMutabilityFilters:  filters,
		ImageScanningConfiguration: scanningConfiguration{ScanOnPush: r.ScanOnPush},
		EncryptionConfiguration:    encryptionOut(r.Encryption),
	}
}

func (a *API) repoNotFound(name string) error {
	return apiErr("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", name, a.o.RegistryID)
}

// getRepo loads a repository, mapping absence to RepositoryNotFoundException.
func (a *API) getRepo(ctx context.Context, name string) (store.Repository, error) {
	r, err := a.o.Store.GetRepository(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return r, a.repoNotFound(name)
	}
	return r, err
}

// authorizedRepo checks that the caller may act on the repository name, then
// returns it (RepositoryNotFoundException when there is none). Permission is
// checked first: a caller without it gets AccessDeniedException whether or
// not the repository exists.
func (a *API) authorizedRepo(ctx context.Context, c *call, name string) (store.Repository, error) {
	if err := a.need(ctx, c, name); err != nil {
		return store.Repository{}, err
	}
	return a.getRepo(ctx, name)
}

func (a *API) createRepository(ctx context.Context, c *call) (any, error) {
	var in struct {
		RegistryID                 string                   `json:"registryId"`
		RepositoryName             string                   `json:"repositoryName"`
		ImageTagMutability         string                   `json:"imageTagMutability"`
		MutabilityFilters          []exclusionFilter        `json:"imageTagMutabilityExclusionFilters"`
		ImageScanningConfiguration *scanningConfiguration   `json:"imageScanningConfiguration"`
		EncryptionConfiguration    *encryptionConfiguration `json:"encryptionConfiguration"`
		Tags                       []tagIn                  `json:"tags"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validRepoName(in.RepositoryName); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	r := store.Repository{Name: in.RepositoryName, CreatedAt: a.o.Now().UTC()}
	var err error
	if r.TagImmutable, r.TagMutabilityExclusions, err = parseMutability(in.ImageTagMutability, in.MutabilityFilters); err != nil {
		return nil, err
	}
	if r.Encryption, err = parseEncryption(in.EncryptionConfiguration, false); err != nil {
		return nil, err
	}
	tags, err := validTags(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(tags) > 0 && a.o.RepoConfig == nil {
		return nil, apiErr("InvalidParameterException", "this server does not store repository tags")
	}
	if in.ImageScanningConfiguration != nil {
		r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	}
	err = a.o.Store.CreateRepository(ctx, r)
	if errors.Is(err, store.ErrExists) {
		return nil, apiErr("RepositoryAlreadyExistsException", "The repository with name '%s' already exists in the registry with id '%s'", r.Name, a.o.RegistryID)
	}
	if err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if err := a.o.RepoConfig.TagRepository(ctx, r.Name, tags, MaxResourceTags); err != nil {
			return nil, tagError(err)
		}
	}
	return map[string]any{"repository": a.repoOut(c, r)}, nil
}

func (a *API) describeRepositories(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryNames []string `json:"repositoryNames"`
		NextToken       string   `json:"nextToken"`
		MaxResults      *int     `json:"maxResults"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	var repos []store.Repository
	if len(in.RepositoryNames) > 0 {
		if in.NextToken != "" || in.MaxResults != nil {
			return nil, apiErr("InvalidParameterException", "nextToken and maxResults cannot be used with repositoryNames")
		}
		for _, n := range in.RepositoryNames {
			r, err := a.authorizedRepo(ctx, c, n)
			if err != nil {
				return nil, err
			}
			repos = append(repos, r)
		}
	} else {
		all, err := a.o.Store.ListRepositories(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range all {
			if a.o.Authz.Authorize(ctx, c.p, "ecr:DescribeRepositories", r.Name, auth.SourceIP(c.r.RemoteAddr)).Allowed {
				repos = append(repos, r)
			}
		}
	}
	sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
	start, end, next, err := pageBounds(in.NextToken, in.MaxResults, len(repos))
	if err != nil {
		return nil, err
	}
	out := []repositoryOut{}
	for _, r := range repos[start:end] {
		out = append(out, a.repoOut(c, r))
	}
	resp := map[string]any{"repositories": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (a *API) deleteRepository(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		Force          bool   `json:"force"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	r, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	imgs, err := a.o.Store.ListImages(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	if len(imgs) > 0 && !in.Force {
		return nil, apiErr("RepositoryNotEmptyException", "The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", r.Name, a.o.RegistryID)
	}
	if err := a.o.Registry.DeleteRepository(ctx, r.Name); err != nil {
		return nil, err
	}
	if err := a.o.Store.DeleteRepository(ctx, r.Name); err != nil {
		return nil, err
	}
	return map[string]any{"repository": a.repoOut(c, r)}, nil
}

func (a *API) putImageScanningConfiguration(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryName             string                 `json:"repositoryName"`
		ImageScanningConfiguration *scanningConfiguration `json:"imageScanningConfiguration"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.ImageScanningConfiguration == nil {
		return nil, apiErr("InvalidParameterException", "imageScanningConfiguration is required")
	}
	r, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	if err := a.o.Store.UpdateRepository(ctx, r); err != nil {
		return nil, err
	}
	return map[string]any{
		"registryId":                 a.o.RegistryID,
		"repositoryName":             r.Name,
		"imageScanningConfiguration": scanningConfiguration{ScanOnPush: r.ScanOnPush},
	}, nil
}
