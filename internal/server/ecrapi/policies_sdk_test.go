package ecrapi

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
)

const (
	sdkRepoPolicy     = `{"Version":"2012-10-17","Statement":[{"Sid":"NoDeletes","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"ecr:BatchDelete*"}]}`
	sdkRegistryPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:us-east-1:123456789012:repository/*"}]}`
)

// policyCalls calls the six policy operations once each (driveAll);
// team/app must exist.
func policyCalls(ctx context.Context, client *ecr.Client) []struct {
	op   string
	call func() error
} {
	repo := aws.String("team/app")
	return []struct {
		op   string
		call func() error
	}{
		{"SetRepositoryPolicy", func() error {
			_, err := client.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(sdkRepoPolicy)})
			return err
		}},
		{"GetRepositoryPolicy", func() error {
			_, err := client.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: repo})
			return err
		}},
		{"DeleteRepositoryPolicy", func() error {
			_, err := client.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: repo})
			return err
		}},
		{"PutRegistryPolicy", func() error {
			_, err := client.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(sdkRegistryPolicy)})
			return err
		}},
		{"GetRegistryPolicy", func() error {
			_, err := client.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
			return err
		}},
		{"DeleteRegistryPolicy", func() error {
			_, err := client.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
			return err
		}},
	}
}

// TestSDKPolicyRoundTrip: the six operations through the AWS SDK for Go
// v2, the texts returned as set, and the not-found errors decoded as the
// SDK's modeled types.
func TestSDKPolicyRoundTrip(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	s.image(t, "team/app", digest('a'), ociConfig, "v1")
	repo := aws.String("team/app")
	c := s.client

	_, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: repo})
	var rpnf *ecrtypes.RepositoryPolicyNotFoundException
	if !errors.As(err, &rpnf) {
		t.Fatalf("GetRepositoryPolicy before any: %v, want RepositoryPolicyNotFoundException", err)
	}
	set, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(sdkRepoPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: repo})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"123456789012", "team/app", sdkRepoPolicy}
	for _, out := range [][]string{
		{aws.ToString(set.RegistryId), aws.ToString(set.RepositoryName), aws.ToString(set.PolicyText)},
		{aws.ToString(got.RegistryId), aws.ToString(got.RepositoryName), aws.ToString(got.PolicyText)},
	} {
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("repository policy response (-want +got):\n%s", diff)
		}
	}
	del, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: repo})
	if err != nil || aws.ToString(del.PolicyText) != sdkRepoPolicy {
		t.Fatalf("DeleteRepositoryPolicy = %+v, %v", del, err)
	}
	if _, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: repo}); !errors.As(err, &rpnf) {
		t.Errorf("second DeleteRepositoryPolicy: %v", err)
	}
	var rnf *ecrtypes.RepositoryNotFoundException
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("gone/app"), PolicyText: aws.String(sdkRepoPolicy)}); !errors.As(err, &rnf) {
		t.Errorf("SetRepositoryPolicy on a missing repository: %v", err)
	}
	var ipe *ecrtypes.InvalidParameterException
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(`{"Statement":[]}`)}); !errors.As(err, &ipe) {
		t.Errorf("SetRepositoryPolicy of an empty policy: %v", err)
	}

	var regnf *ecrtypes.RegistryPolicyNotFoundException
	if _, err := c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{}); !errors.As(err, &regnf) {
		t.Fatalf("GetRegistryPolicy before any: %v, want RegistryPolicyNotFoundException", err)
	}
	put, err := c.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(sdkRegistryPolicy)})
	if err != nil || aws.ToString(put.PolicyText) != sdkRegistryPolicy || aws.ToString(put.RegistryId) != "123456789012" {
		t.Fatalf("PutRegistryPolicy = %+v, %v", put, err)
	}
	reg, err := c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	if err != nil || aws.ToString(reg.PolicyText) != sdkRegistryPolicy {
		t.Fatalf("GetRegistryPolicy = %+v, %v", reg, err)
	}
	if _, err := c.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(sdkRepoPolicy[:20])}); !errors.As(err, &ipe) {
		t.Errorf("PutRegistryPolicy of a broken text: %v", err)
	}
	if _, err := c.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{}); !errors.As(err, &regnf) {
		t.Errorf("second DeleteRegistryPolicy: %v", err)
	}
}
