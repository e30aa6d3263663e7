package ecrapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// TestForeignRegistryIDRefused: an operation naming another registry's id
// is refused (the SDK decodes InvalidParameterException), whatever the
// operation; the server's own id and no id are served.
func TestForeignRegistryIDRefused(t *testing.T) {
	s := newSDKEnv(t)
	s.env.image(t, "team/app", digest('a'), ociConfig, "v1")
	ctx := context.Background()
	calls := map[string]func(id *string) error{
		"DescribeRepositories": func(id *string) error {
			_, err := s.client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: id})
			return err
		},
		"ListImages": func(id *string) error {
			_, err := s.client.ListImages(ctx, &ecr.ListImagesInput{RegistryId: id, RepositoryName: aws.String("team/app")})
			return err
		},
		"DescribeImages": func(id *string) error {
			_, err := s.client.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: id, RepositoryName: aws.String("team/app")})
			return err
		},
		"GetLifecyclePolicy": func(id *string) error {
			_, err := s.client.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RegistryId: id, RepositoryName: aws.String("team/app")})
			var nf *ecrtypes.LifecyclePolicyNotFoundException
			if errors.As(err, &nf) {
				return nil
			}
			return err
		},
	}
	for op, call := range calls {
		t.Run(op, func(t *testing.T) {
			for _, id := range []*string{nil, aws.String("123456789012")} {
				if err := call(id); err != nil {
					t.Errorf("registryId %v: %v", aws.ToString(id), err)
				}
			}
			err := call(aws.String("111111111111"))
			var ip *ecrtypes.InvalidParameterException
			if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "111111111111") {
				t.Errorf("foreign registryId: %v, want InvalidParameterException naming it", err)
			}
		})
	}
}
