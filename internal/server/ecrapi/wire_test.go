package ecrapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/server/lifecycle"
	"github.com/stowaway-scanner/stowaway/internal/server/replication"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// recorded is one response the SDK received.
type recorded struct {
	op, requestID string
	status        int
	body          []byte
}

// recorder is an http.RoundTripper that keeps every response body, so that
// a test sees the JSON the SDK decoded.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, recorded{
		op:        strings.TrimPrefix(req.Header.Get("X-Amz-Target"), TargetPrefix),
		requestID: resp.Header.Get(RequestIDHeader),
		status:    resp.StatusCode,
		body:      b,
	})
	return resp, nil
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// fakePreviewer answers lifecycle previews with one expiring image.
type fakePreviewer struct{ pushed time.Time }

func (f fakePreviewer) StartPreview(_ context.Context, _, text string) (string, string, error) {
	return text, "COMPLETE", nil
}

func (f fakePreviewer) GetPreview(context.Context, string) (lifecycle.Preview, error) {
	return lifecycle.Preview{PolicyText: testPolicy, Status: "COMPLETE", Results: []lifecycle.PreviewResult{
		{Digest: digest('b'), PushedAt: f.pushed, RulePriority: 1},
	}}, nil
}

const testPolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`

// sdkEnv is an env served over HTTP to an AWS SDK for Go v2 client that
// signs as the admin key and records every response.
type sdkEnv struct {
	*env
	client     *ecr.Client
	rec        *recorder
	replicator *replication.Replicator
}

func newSDKEnv(t *testing.T) *sdkEnv {
	t.Helper()
	e := newEnv(t)
	// The SDK signs with the wall clock.
	e.clock.t = time.Now().UTC().Truncate(time.Second)
	e.api.o.LifecycleStore = e.store
	e.api.o.Lifecycle = fakePreviewer{pushed: e.clock.t}
	e.api.o.RepoConfig = e.store
	e.api.o.Policies = e.store
	var changed int
	enablePullThrough(e, &changed)
	r := newReplicator(t, e.store)
	e.api.o.Replication = r
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	client := ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(adminKey, secret, ""),
		HTTPClient:   &http.Client{Transport: rec},
		Retryer:      aws.NopRetryer{},
	})
	return &sdkEnv{env: e, client: client, rec: rec, replicator: r}
}

// enhancedResult is a stored ENHANCED scan result as the scanner writes it
// (report.ScanningResult), with every timestamp an enhanced finding has.
func enhancedResult(t *testing.T, completed time.Time) scanning.Result {
	t.Helper()
	pkg := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", Path: "var/lib/dpkg/status", Layer: "sha256:aaa"}
	inv := &inventory.Inventory{
		Source:   inventory.Source{Ref: "registry.test/team/app@" + digest('b'), Digest: digest('b'), Tags: []string{"v2"}, Architecture: "amd64", OS: "linux"},
		Distro:   &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported},
		Packages: []inventory.Package{pkg},
	}
	v3 := advisory.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "nvd"}
	f := match.Finding{ID: "CVE-2024-0727", Package: pkg, Namespace: "debian:12", Status: match.StatusFixable, FixedVersion: "3.0.13-1~deb12u1",
		Severity: "CRITICAL", SeveritySource: "cvss3:nvd", VendorSeverity: "MEDIUM", CVSS3: &v3, Description: "PKCS12 NULL dereference",
		URI: "https://security-tracker.debian.org/tracker/CVE-2024-0727", Sources: []string{"osv-Debian"},
		Published: completed.Add(-1000 * time.Hour), Modified: completed.Add(-100 * time.Hour)}
	res, err := report.ScanningResult(report.Scan{Inventory: inv, Findings: []match.Finding{f}, Enhanced: true, CompletedAt: completed,
		DBUpdatedAt: completed.Add(-time.Hour), Repository: "team/app", RegistryID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	return *res
}

func basicResult(completed time.Time) scanning.Result {
	return scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{"HIGH": 1}, CompletedAt: completed, VulnerabilitySourceUpdatedAt: completed.Add(-time.Hour),
		Findings: []scanning.Finding{{Name: "CVE-2024-1", Severity: "HIGH", URI: "https://example.test/CVE-2024-1", Attributes: []scanning.Attribute{{Key: "package_name", Value: "p"}, {Key: "package_version", Value: "1"}}}}}
}

// driveAll calls every implemented operation once through the SDK, with a
// repository holding an image with a BASIC and one with an ENHANCED scan
// result, and fails on any error. It returns the recorded responses.
func (s *sdkEnv) driveAll(t *testing.T) []recorded {
	t.Helper()
	ctx := context.Background()
	e := s.env
	e.image(t, "team/app", digest('a'), ociConfig, "v1", "latest")
	e.image(t, "team/app", digest('b'), ociConfig, "v2")
	e.image(t, "team/app", digest('c'), ociConfig, "v3")
	completeScan(t, e.store, "team/app", digest('a'), basicResult(e.clock.t))
	completeScan(t, e.store, "team/app", digest('b'), enhancedResult(t, e.clock.t))
	// An SBOM referrer of v1 and a pull of v1, for DescribeImages'
	// subjectManifestDigest and lastRecordedPullTime.
	e.image(t, "team/app", digest('d'), "application/vnd.oci.empty.v1+json")
	if err := e.store.PutReferrer(ctx, store.Referrer{Repository: "team/app", Subject: digest('a'), Digest: digest('d'),
		MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/spdx+json", Size: 10}); err != nil {
		t.Fatal(err)
	}
	pulled := e.clock.t.Add(time.Minute)
	if _, err := e.store.RecordPull(ctx, "team/app", digest('a'), pulled, 0); err != nil {
		t.Fatal(err)
	}
	repo := aws.String("team/app")
	byTag := func(tag string) *ecrtypes.ImageIdentifier {
		return &ecrtypes.ImageIdentifier{ImageTag: aws.String(tag)}
	}
	calls := []struct {
		op   string
		call func() error
	}{
		{"CreateRepository", func() error {
			_, err := s.client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/new"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable})
			return err
		}},
		{"DescribeRepositories", func() error {
			_, err := s.client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
			return err
		}},
		{"PutImageScanningConfiguration", func() error {
			_, err := s.client.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: repo, ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
			return err
		}},
		{"PutRegistryScanningConfiguration", func() error {
			_, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic, Rules: []ecrtypes.RegistryScanningRule{{
				ScanFrequency:     ecrtypes.ScanFrequencyScanOnPush,
				RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("team/*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}},
			}}})
			return err
		}},
		{"GetRegistryScanningConfiguration", func() error {
			_, err := s.client.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
			return err
		}},
		{"BatchGetRepositoryScanningConfiguration", func() error {
			_, err := s.client.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"team/app", "gone/app"}})
			return err
		}},
		{"DescribeImages", func() error {
			out, err := s.client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo})
			if err != nil {
				return err
			}
			return checkImageFacts(out.ImageDetails, map[string]imageFactsSeen{
				digest('a'): {Status: "ACTIVE", ManifestType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: ociConfig, Pulled: pulled},
				digest('b'): {Status: "ACTIVE", ManifestType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: ociConfig},
				digest('c'): {Status: "ACTIVE", ManifestType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: ociConfig},
				digest('d'): {Status: "ACTIVE", ManifestType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/spdx+json", Subject: digest('a')},
			})
		}},
		{"ListImages", func() error {
			_, err := s.client.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo})
			return err
		}},
		{"DescribeImageScanFindings", func() error {
			_, err := s.client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: repo, ImageId: byTag("v1")})
			return err
		}},
		{"DescribeImageScanFindings", func() error {
			_, err := s.client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: repo, ImageId: byTag("v2")})
			return err
		}},
		{"StartImageScan", func() error {
			_, err := s.client.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: repo, ImageId: byTag("v3")})
			return err
		}},
		{"GetAuthorizationToken", func() error {
			_, err := s.client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
			return err
		}},
		{"PutLifecyclePolicy", func() error {
			_, err := s.client.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(testPolicy)})
			return err
		}},
		{"GetLifecyclePolicy", func() error {
			_, err := s.client.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
			return err
		}},
		{"StartLifecyclePolicyPreview", func() error {
			_, err := s.client.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(testPolicy)})
			return err
		}},
		{"GetLifecyclePolicyPreview", func() error {
			_, err := s.client.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
			return err
		}},
		{"DeleteLifecyclePolicy", func() error {
			_, err := s.client.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: repo})
			return err
		}},
		{"BatchDeleteImage", func() error {
			_, err := s.client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []ecrtypes.ImageIdentifier{*byTag("latest"), *byTag("gone")}})
			return err
		}},
		{"DeleteRepository", func() error {
			_, err := s.client.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/new")})
			return err
		}},
	}
	calls = append(calls, replicationCalls(ctx, s, s.replicator)...)
	calls = append(calls, settingsCalls(ctx, s.client)...)
	calls = append(calls, policyCalls(ctx, s.client)...)
	calls = append(calls, pullThroughCalls(ctx, s.client)...)
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Errorf("%s through the SDK: %v", c.op, err)
		}
	}
	return s.rec.all()
}

// driveImageOps calls the image and layer operations through the SDK on an
// API over a real registry (newImageEnv): upload a config blob in one part,
// check it, put a manifest naming it, read it back, ask for its download
// URL, its referrers and its signing status. It returns the recorded calls.
func driveImageOps(t *testing.T) []recorded {
	t.Helper()
	e := newImageEnv(t)
	e.clock.t = time.Now().UTC().Truncate(time.Second) // the SDK signs with the wall clock
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	client := ecr.New(ecr.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(adminKey, secret, ""),
		HTTPClient:  &http.Client{Transport: rec}, Retryer: aws.NopRetryer{},
	})
	ctx := context.Background()
	repo := aws.String("team/app")
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDigest := digestOf(cfg)
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfgDigest + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[]}`
	up, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
	if err != nil {
		t.Fatalf("InitiateLayerUpload: %v", err)
	}
	steps := []struct {
		op   string
		call func() error
	}{
		{"UploadLayerPart", func() error {
			_, err := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: up.UploadId,
				PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(cfg) - 1)), LayerPartBlob: cfg})
			return err
		}},
		{"CompleteLayerUpload", func() error {
			_, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: up.UploadId, LayerDigests: []string{cfgDigest}})
			return err
		}},
		{"BatchCheckLayerAvailability", func() error {
			_, err := client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: repo, LayerDigests: []string{cfgDigest, digestOf([]byte("absent"))}})
			return err
		}},
		{"PutImage", func() error {
			_, err := client.PutImage(ctx, &ecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(manifest), ImageTag: aws.String("v1")})
			return err
		}},
		{"BatchGetImage", func() error {
			_, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: repo, ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("gone")}}})
			return err
		}},
		{"GetDownloadUrlForLayer", func() error {
			_, err := client.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: repo, LayerDigest: aws.String(cfgDigest)})
			return err
		}},
		{"ListImageReferrers", func() error {
			_, err := client.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: repo, SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(digestOf([]byte(manifest)))}})
			return err
		}},
		{"DescribeImageSigningStatus", func() error {
			_, err := client.DescribeImageSigningStatus(ctx, &ecr.DescribeImageSigningStatusInput{RepositoryName: repo, ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
			return err
		}},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Errorf("%s through the SDK: %v", st.op, err)
		}
	}
	return rec.all()
}

// TestSDKImplementedOperations drives every operation the API implements
// through the AWS SDK for Go v2, which decodes every response strictly.
func TestSDKImplementedOperations(t *testing.T) {
	s := newSDKEnv(t)
	calls := s.driveAll(t)
	var called []string
	for _, c := range calls {
		if c.status != http.StatusOK {
			t.Errorf("%s: HTTP %d %s", c.op, c.status, c.body)
		}
		if !slices.Contains(called, c.op) {
			called = append(called, c.op)
		}
	}
	for _, c := range driveImageOps(t) {
		if c.status != http.StatusOK {
			t.Errorf("%s: HTTP %d %s", c.op, c.status, c.body)
		}
		if !slices.Contains(called, c.op) {
			called = append(called, c.op)
		}
	}
	slices.Sort(called)
	if diff := cmp.Diff(s.api.Operations(), called); diff != "" {
		t.Errorf("implemented operations not driven through the SDK (-implemented +driven):\n%s", diff)
	}
}

// TestSDKDecodesEnhancedFindings: the SDK decodes an ENHANCED scan's
// findings, their timestamps epoch seconds as JSON 1.1 wants.
func TestSDKDecodesEnhancedFindings(t *testing.T) {
	s := newSDKEnv(t)
	now := s.clock.t
	s.image(t, "team/app", digest('b'), ociConfig, "v2")
	completeScan(t, s.store, "team/app", digest('b'), enhancedResult(t, now))
	out, err := s.client.DescribeImageScanFindings(context.Background(), &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v2")},
	})
	if err != nil {
		t.Fatalf("DescribeImageScanFindings: %v", err)
	}
	fs := out.ImageScanFindings.EnhancedFindings
	if len(fs) != 1 {
		t.Fatalf("%d enhanced findings, want 1", len(fs))
	}
	f := fs[0]
	d := f.PackageVulnerabilityDetails
	got := map[string]time.Time{
		"firstObservedAt": aws.ToTime(f.FirstObservedAt), "lastObservedAt": aws.ToTime(f.LastObservedAt), "updatedAt": aws.ToTime(f.UpdatedAt),
		"vendorCreatedAt": aws.ToTime(d.VendorCreatedAt), "vendorUpdatedAt": aws.ToTime(d.VendorUpdatedAt),
		"imageScanCompletedAt": aws.ToTime(out.ImageScanFindings.ImageScanCompletedAt),
	}
	want := map[string]time.Time{
		"firstObservedAt": now, "lastObservedAt": now, "updatedAt": now,
		"vendorCreatedAt": now.Add(-1000 * time.Hour), "vendorUpdatedAt": now.Add(-100 * time.Hour),
		"imageScanCompletedAt": now,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
	if f.Score != 9.8 || aws.ToString(f.Severity) != "CRITICAL" || aws.ToString(d.VulnerabilityId) != "CVE-2024-0727" || len(d.Cvss) != 1 || d.Cvss[0].BaseScore != 9.8 {
		t.Errorf("finding decoded as score %v severity %s id %s cvss %+v", f.Score, aws.ToString(f.Severity), aws.ToString(d.VulnerabilityId), d.Cvss)
	}
}

// TestStoredTextTimestamps: enhanced findings stored before timestamps
// were numbers are answered with numbers.
func TestStoredTextTimestamps(t *testing.T) {
	s := newSDKEnv(t)
	s.image(t, "team/app", digest('b'), ociConfig, "v2")
	res := basicResult(t0)
	res.Findings = nil
	res.EnhancedFindings = []json.RawMessage{json.RawMessage(`{"title":"E-1","firstObservedAt":"2026-05-01T12:00:00Z","lastObservedAt":"2026-05-01T12:00:00.5Z","updatedAt":"2026-05-01T12:00:00Z",` +
		`"packageVulnerabilityDetails":{"vulnerabilityId":"CVE-1","vendorCreatedAt":"2026-04-01T00:00:00Z","vulnerablePackages":[{"name":"p","version":"1","epoch":0}]}}`)}
	completeScan(t, s.store, "team/app", digest('b'), res)
	out, err := s.client.DescribeImageScanFindings(context.Background(), &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v2")},
	})
	if err != nil {
		t.Fatalf("DescribeImageScanFindings: %v", err)
	}
	f := out.ImageScanFindings.EnhancedFindings[0]
	got := []time.Time{aws.ToTime(f.FirstObservedAt), aws.ToTime(f.LastObservedAt), aws.ToTime(f.PackageVulnerabilityDetails.VendorCreatedAt)}
	want := []time.Time{t0, t0.Add(500 * time.Millisecond), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" || aws.ToString(f.Title) != "E-1" {
		t.Errorf("stored text timestamps (-want +got):\n%s title %q", diff, aws.ToString(f.Title))
	}
}

// TestRequestID: every response, errors included, carries a UUID
// x-amzn-RequestId, a new one per call, which the SDK reports.
func TestRequestID(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	out, err := s.client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	okID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	_, err = s.client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"gone/app"}})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("DescribeRepositories of a missing repository: %v, want a response error", err)
	}
	_, err = s.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	var re2 *awshttp.ResponseError
	if !errors.As(err, &re2) {
		t.Fatalf("BatchGetImage: %v, want a response error", err)
	}
	ids := []string{okID, re.ServiceRequestID(), re2.ServiceRequestID()}
	for i, id := range ids {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			t.Errorf("call %d: request id %q is not a UUID", i, id)
		}
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("request ids repeat: %v", ids)
	}
	// A target that is no ECR operation is answered with one too.
	r := httptest.NewRequest(http.MethodPost, "http://registry.test/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", "Bogus")
	w := httptest.NewRecorder()
	s.api.ServeHTTP(w, r)
	if _, err := uuid.Parse(w.Header().Get(RequestIDHeader)); err != nil || w.Code != http.StatusBadRequest {
		t.Errorf("bad target: HTTP %d, request id %q", w.Code, w.Header().Get(RequestIDHeader))
	}
}

// TestUnavailableOperationsThroughSDK: one operation of each status that is
// not implemented, called through the SDK, fails with an API error of the
// documented type (a modeled one where the SDK has it) and a message that
// says where the feature is tracked.
func TestUnavailableOperationsThroughSDK(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	repo := aws.String("team/app")
	tests := []struct {
		op, code, tracked string
		call              func() error
		modeled           func(error) bool
	}{
		{"StartReplicationBackfill", "ValidationException", "issue 19", func() error {
			_, err := s.client.StartReplicationBackfill(ctx, &ecr.StartReplicationBackfillInput{Destination: &ecrtypes.ReplicationDestination{Region: aws.String("us-west-2"), RegistryId: aws.String("123456789012")}})
			return err
		}, func(err error) bool { var m *ecrtypes.ValidationException; return errors.As(err, &m) }},
		{"GetSigningConfiguration", "SigningConfigurationNotFoundException", "AWS Signer", func() error {
			_, err := s.client.GetSigningConfiguration(ctx, &ecr.GetSigningConfigurationInput{})
			return err
		}, func(err error) bool { var m *ecrtypes.SigningConfigurationNotFoundException; return errors.As(err, &m) }},
		{"UpdateImageStorageClass", "ImageStorageClassUpdateNotSupportedException", "no archive", func() error {
			_, err := s.client.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: repo, ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: ecrtypes.TargetStorageClassArchive})
			return err
		}, func(err error) bool {
			var m *ecrtypes.ImageStorageClassUpdateNotSupportedException
			return errors.As(err, &m)
		}},
		{"DeregisterPullTimeUpdateExclusion", "ExclusionNotFoundException", "IAM principals", func() error {
			_, err := s.client.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String("arn:aws:iam::123456789012:role/ci")})
			return err
		}, func(err error) bool { var m *ecrtypes.ExclusionNotFoundException; return errors.As(err, &m) }},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			err := tt.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("%v, want an API error", err)
			}
			if ae.ErrorCode() != tt.code || !strings.Contains(ae.ErrorMessage(), tt.tracked) || !strings.Contains(ae.ErrorMessage(), tt.op) {
				t.Errorf("%s: %q, want code %s and a message naming the operation and %q", ae.ErrorCode(), ae.ErrorMessage(), tt.code, tt.tracked)
			}
			if !tt.modeled(err) {
				t.Errorf("the SDK did not decode %T as the modeled %s", err, tt.code)
			}
		})
	}
}

// TestEveryUnavailableOperationAnswers calls each operation the API does
// not implement and wants its documented error, never
// UnknownOperationException, with a request id.
func TestEveryUnavailableOperationAnswers(t *testing.T) {
	e := newEnv(t)
	if len(e.api.unavailable) == 0 {
		t.Fatal("no unavailable operations")
	}
	for op, u := range e.api.unavailable {
		code, typ, out := e.do(t, adminKey, op, map[string]any{})
		if code != http.StatusBadRequest || typ != u.errType || typ == "UnknownOperationException" {
			t.Errorf("%s: HTTP %d %s %v, want 400 %s", op, code, typ, out["message"], u.errType)
		}
		msg, _ := out["message"].(string)
		if !strings.HasPrefix(msg, op) || !strings.HasSuffix(msg, "; see docs/ecr-api.md") {
			t.Errorf("%s: message %q does not name the operation and where it is tracked", op, msg)
		}
	}
	// A caller without rights learns nothing more: authentication comes
	// first.
	r := httptest.NewRequest(http.MethodPost, "http://registry.test/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", TargetPrefix+"BatchGetImage")
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || w.Header().Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned BatchGetImage: HTTP %d %s", w.Code, w.Header().Get("X-Amzn-ErrorType"))
	}
}

// TestNotEnabledLifecycle: without a lifecycle store the lifecycle
// operations answer ValidationException, not UnknownOperationException.
func TestNotEnabledLifecycle(t *testing.T) {
	e := newEnv(t)
	e.wantErr(t, adminKey, "GetLifecyclePolicy", map[string]any{"repositoryName": "team/app"}, "ValidationException")
}
