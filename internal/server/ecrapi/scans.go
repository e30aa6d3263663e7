package ecrapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

type imageRequest struct {
	RegistryID     string  `json:"registryId"`
	RepositoryName string  `json:"repositoryName"`
	ImageID        imageID `json:"imageId"`
	NextToken      string  `json:"nextToken"`
	MaxResults     *int    `json:"maxResults"`
}

func (a *API) startImageScan(ctx context.Context, c *call) (any, error) {
	var in imageRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	repo, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	img, err := a.resolve(ctx, repo.Name, in.ImageID)
	if err != nil {
		return nil, err
	}
	if !scanning.IsImageConfig(img.ArtifactMediaType) {
		return nil, apiErr("UnsupportedImageTypeException", "The image with imageId %s has media type '%s', which is not supported for scanning", in.ImageID, img.MediaType)
	}
	cfg, err := a.scanningConfig(ctx)
	if err != nil {
		return nil, err
	}
	eff := cfg.Evaluate(repo.Name, repo.ScanOnPush)
	if !eff.Scanned {
		return nil, apiErr("ValidationException", "The repository '%s' is not covered by an enhanced scanning rule", repo.Name)
	}
	err = a.o.Store.StartScan(ctx, repo.Name, img.Digest, eff.Enhanced, a.o.Now().UTC(), ScanInterval)
	if errors.Is(err, store.ErrRateLimited) {
		return nil, apiErr("LimitExceededException", "The scan quota per image has been exceeded. Wait and try again.")
	}
	if err != nil {
		return nil, err
	}
	a.o.Notify()
	return map[string]any{
		"registryId":      a.o.RegistryID,
		"repositoryName":  repo.Name,
		"imageId":         imageID{ImageDigest: img.Digest, ImageTag: in.ImageID.ImageTag},
		"imageScanStatus": scanStatus{Status: string(scanning.StatusInProgress)},
	}, nil
}

func (a *API) describeImageScanFindings(ctx context.Context, c *call) (any, error) {
	var in imageRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validRepoName(in.RepositoryName); err != nil {
		return nil, err
	}
	repo, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	img, err := a.resolve(ctx, in.RepositoryName, in.ImageID)
	if err != nil {
		return nil, err
	}
	id := imageID{ImageDigest: img.Digest, ImageTag: in.ImageID.ImageTag}
	// Only the requested page of findings is read (store.FindingsPage); a
	// malformed request still reads the summary first, so that a missing
	// scan is reported before a bad nextToken, as before.
	start, limit, perr := pageRequest(in.NextToken, in.MaxResults)
	if perr != nil {
		start, limit = 0, 0
	}
	pg, err := a.o.Store.ScanFindingsPage(ctx, in.RepositoryName, img.Digest, start, limit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr("ScanNotFoundException", "Image scan does not exist for the image with '%s' in the repository with name '%s' in the registry with id '%s'", id, in.RepositoryName, a.o.RegistryID)
	}
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	v, err := decodeScan(pg.Scan)
	if err != nil {
		return nil, err
	}
	eff, err := a.scanEffective(ctx, repo)
	if err != nil {
		return nil, err
	}
	v.status = reported(eff, v.status)
	resp := map[string]any{
		"registryId":      a.o.RegistryID,
		"repositoryName":  in.RepositoryName,
		"imageId":         id,
		"imageScanStatus": v.status,
	}
	sum := v.summary()
	if sum == nil {
		if _, _, _, err := pageWindow(start, limit, 0); err != nil {
			return nil, err
		}
		return resp, nil
	}
	// Page over findings, then enhanced findings, as one sequence.
	_, _, next, err := pageWindow(start, limit, pg.Total())
	if err != nil {
		return nil, err
	}
	findings := make([]scanning.Finding, len(pg.Basic))
	for i, raw := range pg.Basic {
		if err := jsonUnmarshal(raw, &findings[i]); err != nil {
			return nil, fmt.Errorf("ecrapi: stored finding %d: %w", start+i, err)
		}
	}
	var enhanced []json.RawMessage
	for i, raw := range pg.Enhanced {
		w, err := wireFinding(raw)
		if err != nil {
			return nil, fmt.Errorf("ecrapi: stored enhanced finding %d: %w", start+len(pg.Basic)+i, err)
		}
		enhanced = append(enhanced, w)
	}
	if len(enhanced) > 0 {
		if enhanced, err = a.routeEnhanced(in.RepositoryName, img, enhanced); err != nil {
			return nil, err
		}
	}
	out := map[string]any{
		"findingSeverityCounts": sum.FindingSeverityCounts,
		"findings":              findings,
	}
	if sum.ImageScanCompletedAt != nil {
		out["imageScanCompletedAt"] = sum.ImageScanCompletedAt
	}
	if sum.VulnerabilitySourceUpdatedAt != nil {
		out["vulnerabilitySourceUpdatedAt"] = sum.VulnerabilitySourceUpdatedAt
	}
	if len(enhanced) > 0 {
		out["enhancedFindings"] = enhanced
	}
	resp["imageScanFindings"] = out
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (a *API) putRegistryScanningConfiguration(ctx context.Context, c *call) (any, error) {
	var in scanning.Config
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	if in.ScanType == "" {
		in.ScanType = scanning.ScanBasic
	}
	if in.Rules == nil {
		in.Rules = []scanning.Rule{}
	}
	if err := in.Validate(); err != nil {
		var ce *scanning.ConfigError
		if errors.As(err, &ce) {
			return nil, apiErr(ce.Code, ce.Message)
		}
		return nil, err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if err := a.o.Store.PutScanningConfig(ctx, raw); err != nil {
		return nil, err
	}
	return map[string]any{"registryScanningConfiguration": in}, nil
}

func (a *API) getRegistryScanningConfiguration(ctx context.Context, c *call) (any, error) {
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	cfg, err := a.scanningConfig(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"registryId": a.o.RegistryID, "scanningConfiguration": cfg}, nil
}

func (a *API) batchGetRepositoryScanningConfiguration(ctx context.Context, c *call) (any, error) {
	var in struct {
		RepositoryNames []string `json:"repositoryNames"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if len(in.RepositoryNames) < 1 || len(in.RepositoryNames) > 25 {
		return nil, apiErr("ValidationException", "repositoryNames must hold 1 to 25 names")
	}
	cfg, err := a.scanningConfig(ctx)
	if err != nil {
		return nil, err
	}
	type repoScan struct {
		RepositoryArn      string            `json:"repositoryArn"`
		RepositoryName     string            `json:"repositoryName"`
		ScanOnPush         bool              `json:"scanOnPush"`
		ScanFrequency      string            `json:"scanFrequency"`
		AppliedScanFilters []scanning.Filter `json:"appliedScanFilters"`
	}
	type failure struct {
		RepositoryName string `json:"repositoryName"`
		FailureCode    string `json:"failureCode"`
		FailureReason  string `json:"failureReason"`
	}
	configs, failures := []repoScan{}, []failure{}
	for _, n := range in.RepositoryNames {
		if err := a.need(ctx, c, n); err != nil {
			return nil, err
		}
		r, err := a.o.Store.GetRepository(ctx, n)
		if errors.Is(err, store.ErrNotFound) {
			failures = append(failures, failure{n, "REPOSITORY_NOT_FOUND", "REPOSITORY_NOT_FOUND"})
			continue
		}
		if err != nil {
			return nil, err
		}
		eff := cfg.Evaluate(r.Name, r.ScanOnPush)
		applied := eff.Applied
		if applied == nil {
			applied = []scanning.Filter{}
		}
		configs = append(configs, repoScan{
			RepositoryArn:      a.arn(r.Name),
			RepositoryName:     r.Name,
			ScanOnPush:         eff.ScanOnPush,
			ScanFrequency:      string(eff.Frequency),
			AppliedScanFilters: applied,
		})
	}
	return map[string]any{"scanningConfigurations": configs, "failures": failures}, nil
}
