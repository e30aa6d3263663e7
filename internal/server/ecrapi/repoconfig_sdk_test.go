package ecrapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// settingsEnv is the API over a real store behind an HTTP server, driven by the
// AWS SDK for Go v2 (the strict client) as an admin, as a reader of
// team/* and as a viewer (pull on "*", which reads registry settings).
type settingsEnv struct {
	admin, reader, viewer *ecr.Client
	store                 *store.SQL
}

const viewerKey = "AKIDVIEWER"

func newSettingsEnv(t *testing.T) *settingsEnv {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.New(nil, []auth.AccessKey{
		{ID: adminKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{ID: readerKey, Secret: secret, Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
		{ID: viewerKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"pull"}}}},
	}, []byte("k"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	api := New(Options{Store: st, Registry: &fakeRegistry{}, Auth: a, RegistryID: "123456789012", Region: "us-east-1", RepoConfig: st})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client := func(key string) *ecr.Client {
		return ecr.New(ecr.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.URL),
			Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		})
	}
	return &settingsEnv{admin: client(adminKey), reader: client(readerKey), viewer: client(viewerKey), store: st}
}

// wantAPIError checks that the SDK decoded err as the ECR error code.
func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

var sdkOpts = cmpopts.IgnoreUnexported(ecrtypes.Repository{}, ecrtypes.Tag{}, ecrtypes.EncryptionConfiguration{},
	ecrtypes.ImageScanningConfiguration{}, ecrtypes.ImageTagMutabilityExclusionFilter{}, ecrtypes.RepositoryCreationTemplate{},
	ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{}, ecrtypes.ReplicationConfiguration{})

func sdkTags(kv ...string) []ecrtypes.Tag {
	var out []ecrtypes.Tag
	for i := 0; i < len(kv); i += 2 {
		out = append(out, ecrtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func TestSDKCreateRepositoryStoresTagsAndEncryption(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	kms := "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d"
	created, err := e.admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:          aws.String("team/app"),
		RegistryId:              aws.String("123456789012"),
		Tags:                    sdkTags("team", "core", "env", ""),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(kms)},
		ImageTagMutability:      ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []ecrtypes.ImageTagMutabilityExclusionFilter{
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")},
		},
	})
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	desc, err := e.admin.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/app"}})
	if err != nil {
		t.Fatalf("DescribeRepositories: %v", err)
	}
	want := ecrtypes.Repository{
		RepositoryName:          aws.String("team/app"),
		RepositoryArn:           aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/app"),
		RegistryId:              aws.String("123456789012"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(kms)},
		ImageTagMutability:      ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []ecrtypes.ImageTagMutabilityExclusionFilter{
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")},
		},
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{},
	}
	ignore := cmpopts.IgnoreFields(ecrtypes.Repository{}, "CreatedAt", "RepositoryUri")
	for what, got := range map[string]ecrtypes.Repository{"CreateRepository": *created.Repository, "DescribeRepositories": desc.Repositories[0]} {
		if diff := cmp.Diff(want, got, sdkOpts, ignore); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	// The tags are readable by the repository's ARN, sorted by key.
	tags, err := e.reader.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: desc.Repositories[0].RepositoryArn})
	if err != nil {
		t.Fatalf("ListTagsForResource: %v", err)
	}
	if diff := cmp.Diff(sdkTags("env", "", "team", "core"), tags.Tags, sdkOpts); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	// A repository without a configuration says AES256.
	plain, err := e.admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Repository.EncryptionConfiguration; got.EncryptionType != ecrtypes.EncryptionTypeAes256 || got.KmsKey != nil {
		t.Errorf("default encryption = %+v, want AES256 without a key", got)
	}

	for _, tc := range []struct {
		name string
		in   *ecr.CreateRepositoryInput
		code string
	}{
		{"foreign registry", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x1"), RegistryId: aws.String("210987654321")}, "InvalidParameterException"},
		{"reserved tag key", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x2"), Tags: sdkTags("aws:owner", "me")}, "InvalidTagParameterException"},
		{"too many tags", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x3"), Tags: manyTags(51)}, "TooManyTagsException"},
		{"AES256 with a key", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x4"),
			EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeAes256, KmsKey: aws.String(kms)}}, "InvalidParameterException"},
		{"unknown encryption", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x5"),
			EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: "ROT13"}}, "InvalidParameterException"},
		{"exclusion without filters", &ecr.CreateRepositoryInput{RepositoryName: aws.String("x6"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion}, "InvalidParameterException"},
	} {
		_, err := e.admin.CreateRepository(ctx, tc.in)
		wantAPIError(t, tc.name, err, tc.code)
		if _, err := e.store.GetRepository(ctx, *tc.in.RepositoryName); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the refused repository exists (%v)", tc.name, err)
		}
	}
}

func manyTags(n int) []ecrtypes.Tag {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("k%02d", i), "v")
	}
	return sdkTags(kv...)
}

func TestSDKResourceTags(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	out, err := e.admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/svc"), Tags: sdkTags("a", "1")})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.Repository.RepositoryArn
	if _, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("a", "2", "b", "")}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := e.admin.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"b", "absent"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	got, err := e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatalf("ListTagsForResource: %v", err)
	}
	if diff := cmp.Diff(sdkTags("a", "2"), got.Tags, sdkOpts); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	long := strings.Repeat("k", 129)
	missing := aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/none")
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"reserved key", func() error {
			_, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("AWS:x", "v")})
			return err
		}, "InvalidTagParameterException"},
		{"long key", func() error {
			_, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags(long, "v")})
			return err
		}, "InvalidTagParameterException"},
		{"long value", func() error {
			_, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("k", strings.Repeat("v", 257))})
			return err
		}, "InvalidTagParameterException"},
		// One tag is there: 50 more make 51.
		{"over 50 in all", func() error {
			_, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: manyTags(50)})
			return err
		}, "TooManyTagsException"},
		{"untag empty key", func() error {
			_, err := e.admin.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{""}})
			return err
		}, "InvalidTagParameterException"},
		{"missing repository", func() error {
			_, err := e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: missing})
			return err
		}, "RepositoryNotFoundException"},
		{"tag missing repository", func() error {
			_, err := e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: missing, Tags: sdkTags("k", "v")})
			return err
		}, "RepositoryNotFoundException"},
		{"foreign account", func() error {
			_, err := e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:210987654321:repository/team/svc")})
			return err
		}, "InvalidParameterException"},
		{"foreign region", func() error {
			_, err := e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:eu-west-1:123456789012:repository/team/svc")})
			return err
		}, "InvalidParameterException"},
		{"not an ARN", func() error {
			_, err := e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("team/svc")})
			return err
		}, "InvalidParameterException"},
		{"reader cannot tag", func() error {
			_, err := e.reader.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("k", "v")})
			return err
		}, "AccessDeniedException"},
	} {
		wantAPIError(t, tc.name, tc.call(), tc.code)
	}
	// The refused calls changed nothing.
	got, err = e.admin.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sdkTags("a", "2"), got.Tags, sdkOpts); diff != "" {
		t.Errorf("tags after refusals (-want +got):\n%s", diff)
	}
	// The SDK decodes the modeled exceptions into their types.
	_, err = e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("aws:x", "v")})
	var ite *ecrtypes.InvalidTagParameterException
	if !errors.As(err, &ite) {
		t.Errorf("reserved key: %T %v, want *types.InvalidTagParameterException", err, err)
	}
	_, err = e.admin.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: manyTags(51)})
	var tmt *ecrtypes.TooManyTagsException
	if !errors.As(err, &tmt) {
		t.Errorf("51 tags: %T %v, want *types.TooManyTagsException", err, err)
	}
}

func TestSDKPutImageTagMutability(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	if _, err := e.admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/m")}); err != nil {
		t.Fatal(err)
	}
	wild := func(fs ...string) []ecrtypes.ImageTagMutabilityExclusionFilter {
		var out []ecrtypes.ImageTagMutabilityExclusionFilter
		for _, f := range fs {
			out = append(out, ecrtypes.ImageTagMutabilityExclusionFilter{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String(f)})
		}
		return out
	}
	for _, tc := range []struct {
		mode    ecrtypes.ImageTagMutability
		filters []ecrtypes.ImageTagMutabilityExclusionFilter
		// latestImmutable is the stored rule for "latest".
		latestImmutable bool
	}{
		{ecrtypes.ImageTagMutabilityImmutable, nil, true},
		{ecrtypes.ImageTagMutabilityImmutableWithExclusion, wild("lat*", "dev"), false},
		{ecrtypes.ImageTagMutabilityMutableWithExclusion, wild("latest"), true},
		{ecrtypes.ImageTagMutabilityMutable, nil, false},
	} {
		out, err := e.admin.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
			RepositoryName: aws.String("team/m"), RegistryId: aws.String("123456789012"),
			ImageTagMutability: tc.mode, ImageTagMutabilityExclusionFilters: tc.filters,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		if out.ImageTagMutability != tc.mode || aws.ToString(out.RepositoryName) != "team/m" || aws.ToString(out.RegistryId) != "123456789012" {
			t.Errorf("%s: response %s %s %s", tc.mode, out.ImageTagMutability, aws.ToString(out.RepositoryName), aws.ToString(out.RegistryId))
		}
		if diff := cmp.Diff(tc.filters, out.ImageTagMutabilityExclusionFilters, sdkOpts); diff != "" {
			t.Errorf("%s: response filters (-want +got):\n%s", tc.mode, diff)
		}
		desc, err := e.reader.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/m"}})
		if err != nil {
			t.Fatal(err)
		}
		if r := desc.Repositories[0]; r.ImageTagMutability != tc.mode || !cmp.Equal(tc.filters, r.ImageTagMutabilityExclusionFilters, sdkOpts) {
			t.Errorf("%s: described as %s %v", tc.mode, r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
		}
		r, err := e.store.GetRepository(ctx, "team/m")
		if err != nil {
			t.Fatal(err)
		}
		if r.TagIsImmutable("latest") != tc.latestImmutable {
			t.Errorf("%s: latest immutable = %v, want %v", tc.mode, !tc.latestImmutable, tc.latestImmutable)
		}
	}
	for _, tc := range []struct {
		name string
		in   *ecr.PutImageTagMutabilityInput
		code string
	}{
		{"exclusion without filters", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion}, "InvalidParameterException"},
		{"filters without exclusion", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable, ImageTagMutabilityExclusionFilters: wild("x")}, "InvalidParameterException"},
		{"six filters", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion, ImageTagMutabilityExclusionFilters: wild("a", "b", "c", "d", "e", "f")}, "InvalidParameterException"},
		{"bad filter", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion, ImageTagMutabilityExclusionFilters: wild("a/b")}, "InvalidParameterException"},
		{"unknown mode", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: "SOMETIMES"}, "InvalidParameterException"},
		{"foreign registry", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), RegistryId: aws.String("210987654321"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}, "InvalidParameterException"},
		{"missing repository", &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/none"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}, "RepositoryNotFoundException"},
	} {
		_, err := e.admin.PutImageTagMutability(ctx, tc.in)
		wantAPIError(t, tc.name, err, tc.code)
	}
	_, err := e.reader.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/m"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable})
	wantAPIError(t, "reader", err, "AccessDeniedException")
}

func TestSDKAccountSettingsAndRegistry(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	get := func(name string) string {
		t.Helper()
		out, err := e.viewer.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String(name)})
		if err != nil {
			t.Fatalf("GetAccountSetting %s: %v", name, err)
		}
		if aws.ToString(out.Name) != name {
			t.Errorf("GetAccountSetting %s: name %q", name, aws.ToString(out.Name))
		}
		return aws.ToString(out.Value)
	}
	// Defaults: ECR's for a new registry.
	if v := get("BASIC_SCAN_TYPE_VERSION"); v != "AWS_NATIVE" {
		t.Errorf("default BASIC_SCAN_TYPE_VERSION = %q", v)
	}
	if v := get("REGISTRY_POLICY_SCOPE"); v != "V2" {
		t.Errorf("default REGISTRY_POLICY_SCOPE = %q", v)
	}
	for name, value := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "CLAIR", "REGISTRY_POLICY_SCOPE": "V1"} {
		out, err := e.admin.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String(name), Value: aws.String(value)})
		if err != nil {
			t.Fatalf("PutAccountSetting %s: %v", name, err)
		}
		if aws.ToString(out.Name) != name || aws.ToString(out.Value) != value {
			t.Errorf("PutAccountSetting %s: answered %s=%s", name, aws.ToString(out.Name), aws.ToString(out.Value))
		}
		if v := get(name); v != value {
			t.Errorf("%s = %q after setting %q", name, v, value)
		}
	}
	for _, tc := range []struct {
		name, value, code string
		client            *ecr.Client
	}{
		{"UNKNOWN_SETTING", "x", "ValidationException", e.admin},
		{"BASIC_SCAN_TYPE_VERSION", "TRIVY", "ValidationException", e.admin},
		{"REGISTRY_POLICY_SCOPE", "V3", "ValidationException", e.admin},
		{"BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE", "AccessDeniedException", e.viewer},
	} {
		_, err := tc.client.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String(tc.name), Value: aws.String(tc.value)})
		wantAPIError(t, "put "+tc.name+"="+tc.value, err, tc.code)
	}
	_, err := e.admin.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("UNKNOWN_SETTING")})
	var ve *ecrtypes.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("get unknown setting: %T %v, want *types.ValidationException", err, err)
	}
	if v := get("BASIC_SCAN_TYPE_VERSION"); v != "CLAIR" {
		t.Errorf("BASIC_SCAN_TYPE_VERSION = %q after refused puts", v)
	}

	_, err = e.reader.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("BASIC_SCAN_TYPE_VERSION")})
	wantAPIError(t, "get without a registry-wide grant", err, "AccessDeniedException")
	reg, err := e.viewer.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		t.Fatalf("DescribeRegistry: %v", err)
	}
	if aws.ToString(reg.RegistryId) != "123456789012" || reg.ReplicationConfiguration == nil || len(reg.ReplicationConfiguration.Rules) != 0 {
		t.Errorf("DescribeRegistry = %s %+v", aws.ToString(reg.RegistryId), reg.ReplicationConfiguration)
	}
}

func TestSDKRepositoryCreationTemplates(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	kms := "arn:aws:kms:us-east-1:123456789012:key/abc-123"
	policy := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`
	full := &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:                  aws.String("prod"),
		Description:             aws.String("production"),
		AppliedFor:              []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush, ecrtypes.RCTAppliedForPullThroughCache},
		EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(kms)},
		ResourceTags:            sdkTags("env", "prod"),
		ImageTagMutability:      ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []ecrtypes.ImageTagMutabilityExclusionFilter{
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")},
		},
		RepositoryPolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`),
		LifecyclePolicy:  aws.String(policy),
		CustomRoleArn:    aws.String("arn:aws:iam::123456789012:role/ecr-template"),
	}
	created, err := e.admin.CreateRepositoryCreationTemplate(ctx, full)
	if err != nil {
		t.Fatalf("CreateRepositoryCreationTemplate: %v", err)
	}
	want := ecrtypes.RepositoryCreationTemplate{
		Prefix: full.Prefix, Description: full.Description, AppliedFor: full.AppliedFor,
		EncryptionConfiguration: full.EncryptionConfiguration, ResourceTags: full.ResourceTags,
		ImageTagMutability: full.ImageTagMutability, ImageTagMutabilityExclusionFilters: full.ImageTagMutabilityExclusionFilters,
		RepositoryPolicy: full.RepositoryPolicy, LifecyclePolicy: full.LifecyclePolicy, CustomRoleArn: full.CustomRoleArn,
	}
	ignoreTimes := cmpopts.IgnoreFields(ecrtypes.RepositoryCreationTemplate{}, "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(want, *created.RepositoryCreationTemplate, sdkOpts, ignoreTimes); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if aws.ToString(created.RegistryId) != "123456789012" || created.RepositoryCreationTemplate.CreatedAt == nil || created.RepositoryCreationTemplate.UpdatedAt == nil {
		t.Errorf("created: registry %q, times %v %v", aws.ToString(created.RegistryId), created.RepositoryCreationTemplate.CreatedAt, created.RepositoryCreationTemplate.UpdatedAt)
	}
	root, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush},
	})
	if err != nil {
		t.Fatalf("ROOT: %v", err)
	}
	// Unset members read as ECR's defaults.
	if r := root.RepositoryCreationTemplate; r.ImageTagMutability != ecrtypes.ImageTagMutabilityMutable ||
		r.EncryptionConfiguration == nil || r.EncryptionConfiguration.EncryptionType != ecrtypes.EncryptionTypeAes256 {
		t.Errorf("ROOT template: %s %+v", r.ImageTagMutability, r.EncryptionConfiguration)
	}

	// All, by prefix, by page.
	all, err := e.viewer.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	if err != nil {
		t.Fatalf("DescribeRepositoryCreationTemplates: %v", err)
	}
	var prefixes []string
	for _, tm := range all.RepositoryCreationTemplates {
		prefixes = append(prefixes, aws.ToString(tm.Prefix))
	}
	if diff := cmp.Diff([]string{"ROOT", "prod"}, prefixes); diff != "" {
		t.Errorf("described prefixes (-want +got):\n%s", diff)
	}
	one, err := e.viewer.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.RepositoryCreationTemplates) != 1 || !cmp.Equal(want, one.RepositoryCreationTemplates[0], sdkOpts, ignoreTimes) {
		t.Errorf("by prefix: %+v", one.RepositoryCreationTemplates)
	}
	page, err := e.viewer.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	page2, err := e.viewer.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.RepositoryCreationTemplates) != 1 || page.NextToken == nil || len(page2.RepositoryCreationTemplates) != 1 ||
		aws.ToString(page2.RepositoryCreationTemplates[0].Prefix) != "prod" || page2.NextToken != nil {
		t.Errorf("pages: %d next %v, then %d next %v", len(page.RepositoryCreationTemplates), page.NextToken, len(page2.RepositoryCreationTemplates), page2.NextToken)
	}

	// An update changes only what it gives.
	upd, err := e.admin.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{
		Prefix: aws.String("prod"), Description: aws.String("changed"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
	})
	if err != nil {
		t.Fatalf("UpdateRepositoryCreationTemplate: %v", err)
	}
	want.Description, want.ImageTagMutability, want.ImageTagMutabilityExclusionFilters = aws.String("changed"), ecrtypes.ImageTagMutabilityImmutable, nil
	if diff := cmp.Diff(want, *upd.RepositoryCreationTemplate, sdkOpts, ignoreTimes); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate", func() error { _, err := e.admin.CreateRepositoryCreationTemplate(ctx, full); return err }, "TemplateAlreadyExistsException"},
		{"bad prefix", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("Bad_Prefix"), AppliedFor: full.AppliedFor})
			return err
		}, "InvalidParameterException"},
		{"empty appliedFor", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x"), AppliedFor: []ecrtypes.RCTAppliedFor{}})
			return err
		}, "InvalidParameterException"},
		{"unknown appliedFor", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x"), AppliedFor: []ecrtypes.RCTAppliedFor{"ON_PULL"}})
			return err
		}, "InvalidParameterException"},
		{"bad lifecycle policy", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x"), AppliedFor: full.AppliedFor, LifecyclePolicy: aws.String(`{"rules":[]}`)})
			return err
		}, "InvalidParameterException"},
		{"bad kms key", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x"), AppliedFor: full.AppliedFor,
				EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String("my-key")}})
			return err
		}, "InvalidParameterException"},
		{"reserved resource tag", func() error {
			_, err := e.admin.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x"), AppliedFor: full.AppliedFor, ResourceTags: sdkTags("aws:k", "v")})
			return err
		}, "InvalidTagParameterException"},
		{"update missing", func() error {
			_, err := e.admin.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("none")})
			return err
		}, "TemplateNotFoundException"},
		{"reader cannot create", func() error {
			_, err := e.reader.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("y"), AppliedFor: full.AppliedFor})
			return err
		}, "AccessDeniedException"},
	} {
		wantAPIError(t, tc.name, tc.call(), tc.code)
	}

	del, err := e.admin.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")})
	if err != nil {
		t.Fatalf("DeleteRepositoryCreationTemplate: %v", err)
	}
	if diff := cmp.Diff(want, *del.RepositoryCreationTemplate, sdkOpts, ignoreTimes); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	_, err = e.admin.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")})
	var tnf *ecrtypes.TemplateNotFoundException
	if !errors.As(err, &tnf) {
		t.Errorf("deleting again: %T %v, want *types.TemplateNotFoundException", err, err)
	}
}

// settingsCalls drives every settings operation once, with every member
// its response can carry, for the model-shape and SDK coverage tests
// (driveAll); team/app must exist.
func settingsCalls(ctx context.Context, client *ecr.Client) []struct {
	op   string
	call func() error
} {
	arn := aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/app")
	filters := []ecrtypes.ImageTagMutabilityExclusionFilter{{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("dev-*")}}
	return []struct {
		op   string
		call func() error
	}{
		{"TagResource", func() error {
			_, err := client.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: sdkTags("team", "core", "env", "prod")})
			return err
		}},
		{"UntagResource", func() error {
			_, err := client.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}})
			return err
		}},
		{"ListTagsForResource", func() error {
			_, err := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
			return err
		}},
		{"PutImageTagMutability", func() error {
			_, err := client.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/app"),
				ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: filters})
			return err
		}},
		{"PutAccountSetting", func() error {
			_, err := client.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BASIC_SCAN_TYPE_VERSION"), Value: aws.String("CLAIR")})
			return err
		}},
		{"GetAccountSetting", func() error {
			_, err := client.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("BASIC_SCAN_TYPE_VERSION")})
			return err
		}},
		{"DescribeRegistry", func() error {
			_, err := client.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
			return err
		}},
		{"CreateRepositoryCreationTemplate", func() error {
			_, err := client.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
				Prefix: aws.String("team"), Description: aws.String("d"),
				AppliedFor:              []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush},
				EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String("arn:aws:kms:us-east-1:123456789012:key/k1")},
				ResourceTags:            sdkTags("k", "v"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutableWithExclusion, ImageTagMutabilityExclusionFilters: filters,
				RepositoryPolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`), LifecyclePolicy: aws.String(testPolicy),
				CustomRoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
			})
			return err
		}},
		{"UpdateRepositoryCreationTemplate", func() error {
			_, err := client.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("team"), Description: aws.String("e")})
			return err
		}},
		{"DescribeRepositoryCreationTemplates", func() error {
			_, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
			return err
		}},
		{"DeleteRepositoryCreationTemplate", func() error {
			_, err := client.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("team")})
			return err
		}},
	}
}

// TestSettingsNeedRepoConfig: without a settings store the operations that
// need one answer that they are not enabled, with a modeled error type.
func TestSettingsNeedRepoConfig(t *testing.T) {
	e := newEnv(t)
	e.wantErr(t, adminKey, "TagResource", map[string]any{"resourceArn": "arn:aws:ecr:us-east-1:123456789012:repository/app", "tags": []any{}}, "InvalidParameterException")
	e.wantErr(t, adminKey, "ListTagsForResource", map[string]any{"resourceArn": "arn:aws:ecr:us-east-1:123456789012:repository/app"}, "InvalidParameterException")
	e.wantErr(t, adminKey, "GetAccountSetting", map[string]any{"name": "BASIC_SCAN_TYPE_VERSION"}, "ValidationException")
	e.wantErr(t, adminKey, "DescribeRepositoryCreationTemplates", map[string]any{}, "ValidationException")
	// Creating a repository with tags needs it too; without tags it does not.
	e.wantErr(t, adminKey, "CreateRepository", map[string]any{"repositoryName": "app", "tags": []any{map[string]any{"Key": "k", "Value": "v"}}}, "InvalidParameterException")
	e.must(t, "CreateRepository", map[string]any{"repositoryName": "app"})
}
