package ecrapi

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/replication"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// newReplicator is a Replicator over st with one configured destination,
// us-west-2/210987654321, whose queue no dispatcher runs (its rows stay
// IN_PROGRESS): the API's side of replication, without deliveries.
func newReplicator(t *testing.T, st *store.SQL) *replication.Replicator {
	t.Helper()
	ctx := context.Background()
	reg, err := registry.New(ctx, registry.Options{Dir: t.TempDir(), Store: st, Now: t0Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Shutdown() })
	u, _ := url.Parse("https://dr.example.test")
	r, err := replication.New(ctx, replication.Options{
		DB: st.DB(), Dialect: st.Dialect(), Store: st, Source: reg,
		Self:         replication.Destination{Region: "us-east-1", RegistryID: "123456789012"},
		Destinations: []auth.Destination{{Region: "us-west-2", RegistryID: "210987654321", URL: u}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func t0Now() time.Time { return t0 }

// replicationCalls drives the replication operations: a configuration for
// team/*, a push of v1 enqueued, its status.
func replicationCalls(ctx context.Context, s *sdkEnv, r *replication.Replicator) []struct {
	op   string
	call func() error
} {
	dest := ecrtypes.ReplicationDestination{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}
	return []struct {
		op   string
		call func() error
	}{
		{"PutReplicationConfiguration", func() error {
			_, err := s.client.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{
				Rules: []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{dest},
					RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("team/"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}}},
			}})
			return err
		}},
		{"DescribeImageReplicationStatus", func() error {
			if err := r.Push(ctx, "team/app", digest('a')); err != nil {
				return err
			}
			out, err := s.client.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{
				RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
			if err != nil {
				return err
			}
			if len(out.ReplicationStatuses) != 1 || out.ReplicationStatuses[0].Status != ecrtypes.ReplicationStatusInProgress ||
				aws.ToString(out.ImageId.ImageDigest) != digest('a') || aws.ToString(out.ImageId.ImageTag) != "v1" {
				return errors.New("DescribeImageReplicationStatus: want one IN_PROGRESS status of team/app@" + digest('a'))
			}
			return nil
		}},
	}
}

// TestReplicationOperationsSDK: the configuration round-trips through
// PutReplicationConfiguration and DescribeRegistry in ECR's shape;
// refusals carry ECR's error types; an image no rule replicated has no
// statuses; unknown images and repositories are ECR's errors.
func TestReplicationOperationsSDK(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	s.image(t, "team/app", digest('a'), ociConfig, "v1")
	s.image(t, "other/app", digest('b'), ociConfig, "v1")
	cfg := &ecrtypes.ReplicationConfiguration{Rules: []ecrtypes.ReplicationRule{
		{Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}},
			RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("team"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}},
		{Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}}},
	}}
	if _, err := s.client.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	reg, err := s.client.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		t.Fatal(err)
	}
	type view struct{ Dests, Filters []string }
	var got []view
	for _, r := range reg.ReplicationConfiguration.Rules {
		var v view
		for _, d := range r.Destinations {
			v.Dests = append(v.Dests, aws.ToString(d.Region)+"/"+aws.ToString(d.RegistryId))
		}
		for _, f := range r.RepositoryFilters {
			v.Filters = append(v.Filters, string(f.FilterType)+":"+aws.ToString(f.Filter))
		}
		got = append(got, v)
	}
	want := []view{{Dests: []string{"us-west-2/210987654321"}, Filters: []string{"PREFIX_MATCH:team"}}, {Dests: []string{"us-west-2/210987654321"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeRegistry rules (-want +got):\n%s", diff)
	}
	// An empty configuration is allowed and turns replication off.
	if _, err := s.client.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{Rules: []ecrtypes.ReplicationRule{}}}); err != nil {
		t.Fatalf("empty configuration: %v", err)
	}
	out, err := s.client.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("other/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
	if err != nil || len(out.ReplicationStatuses) != 0 {
		t.Errorf("status of an image never enqueued = %+v, %v; want none", out, err)
	}
	for _, tt := range []struct {
		name string
		in   *ecr.DescribeImageReplicationStatusInput
		code string
	}{
		{"unknown tag", &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("nope")}}, "ImageNotFoundException"},
		{"unknown repository", &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("team/none"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}}, "RepositoryNotFoundException"},
		{"other registry", &ecr.DescribeImageReplicationStatusInput{RegistryId: aws.String("210987654321"), RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}}, "InvalidParameterException"},
	} {
		_, err := s.client.DescribeImageReplicationStatus(ctx, tt.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	// A body without replicationConfiguration (the SDK refuses to send
	// one) is ECR's ValidationException.
	code, typ, body := s.do(t, adminKey, "PutReplicationConfiguration", map[string]any{})
	if code != 400 || typ != "ValidationException" || !strings.Contains(body["message"].(string), "'replicationConfiguration'") {
		t.Errorf("PutReplicationConfiguration({}) = %d %s %v", code, typ, body)
	}
}
