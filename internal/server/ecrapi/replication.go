package ecrapi

import (
	"context"
	"errors"

	"github.com/stowaway-scanner/stowaway/internal/server/replication"
)

// Replication serves the registry replication operations
// (PutReplicationConfiguration, DescribeRegistry's replicationConfiguration,
// DescribeImageReplicationStatus); *replication.Replicator implements it.
type Replication interface {
	Configuration(ctx context.Context) (replication.Config, error)
	// PutConfiguration validates and stores; a refusal is a
	// *replication.Error.
	PutConfiguration(ctx context.Context, c replication.Config) error
	Statuses(ctx context.Context, repo, digest string) ([]replication.Status, error)
}

func (a *API) replicationActions() map[string]action {
	return map[string]action{
		"PutReplicationConfiguration":    a.putReplicationConfiguration,
		"DescribeImageReplicationStatus": a.describeImageReplicationStatus,
	}
}

// replicationConfigIn is PutReplicationConfiguration's request; nil
// members were absent.
type replicationConfigIn struct {
	ReplicationConfiguration *struct {
		Rules *[]replication.Rule `json:"rules"`
	} `json:"replicationConfiguration"`
}

func (a *API) putReplicationConfiguration(ctx context.Context, c *call) (any, error) {
	var in replicationConfigIn
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	if a.o.Replication == nil {
		return nil, apiErr("ValidationException", "PutReplicationConfiguration is not enabled on this server")
	}
	switch {
	case in.ReplicationConfiguration == nil:
		return nil, apiErr("ValidationException", "1 validation error detected: Value null at 'replicationConfiguration' failed to satisfy constraint: Member must not be null")
	case in.ReplicationConfiguration.Rules == nil:
		return nil, apiErr("ValidationException", "1 validation error detected: Value null at 'replicationConfiguration.rules' failed to satisfy constraint: Member must not be null")
	}
	cfg := replication.Config{Rules: *in.ReplicationConfiguration.Rules}
	if err := a.o.Replication.PutConfiguration(ctx, cfg); err != nil {
		var re *replication.Error
		if errors.As(err, &re) {
			return nil, apiErr(re.Type, "%s", re.Message)
		}
		return nil, err
	}
	stored, err := a.o.Replication.Configuration(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"replicationConfiguration": stored}, nil
}

func (a *API) describeRegistry(ctx context.Context, c *call) (any, error) {
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	cfg := replication.Config{Rules: []replication.Rule{}}
	if a.o.Replication != nil {
		var err error
		if cfg, err = a.o.Replication.Configuration(ctx); err != nil {
			return nil, err
		}
	}
	return map[string]any{"registryId": a.o.RegistryID, "replicationConfiguration": cfg}, nil
}

type replicationStatusOut struct {
	Region      string `json:"region"`
	RegistryID  string `json:"registryId"`
	Status      string `json:"status"`
	FailureCode string `json:"failureCode,omitempty"`
}

func (a *API) describeImageReplicationStatus(ctx context.Context, c *call) (any, error) {
	var in imageRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validRepoName(in.RepositoryName); err != nil {
		return nil, err
	}
	if _, err := a.authorizedRepo(ctx, c, in.RepositoryName); err != nil {
		return nil, err
	}
	img, err := a.resolve(ctx, in.RepositoryName, in.ImageID)
	if err != nil {
		return nil, err
	}
	if a.o.Replication == nil {
		return nil, apiErr("ValidationException", "DescribeImageReplicationStatus is not enabled on this server")
	}
	sts, err := a.o.Replication.Statuses(ctx, in.RepositoryName, img.Digest)
	if err != nil {
		return nil, err
	}
	out := make([]replicationStatusOut, 0, len(sts))
	for _, s := range sts {
		out = append(out, replicationStatusOut{Region: s.Destination.Region, RegistryID: s.Destination.RegistryID, Status: s.Status, FailureCode: s.FailureCode})
	}
	return map[string]any{
		"repositoryName":      in.RepositoryName,
		"imageId":             imageID{ImageDigest: img.Digest, ImageTag: in.ImageID.ImageTag},
		"replicationStatuses": out,
	}, nil
}
