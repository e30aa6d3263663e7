package server

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
)

// sbomScanner is inspectorScanner with the inventory the real scanner
// hands on, so that the scan stores an SBOM referrer.
type sbomScanner struct{ inspectorScanner }

func (s sbomScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	res, err := s.inspectorScanner.Scan(ctx, img, digest, enhanced)
	if err != nil {
		return nil, err
	}
	res.Inventory = &inventory.Inventory{
		Source:   inventory.Source{Ref: "registry:" + digest, Kind: "registry", Digest: digest, Architecture: "amd64", OS: "linux"},
		Packages: []inventory.Package{{Name: "rack", Version: "2.2.3", Type: "gem", Path: "app/Gemfile.lock", PURL: "pkg:gem/rack@2.2.3"}},
	}
	return res, nil
}

// TestDescribeImagesDetailSDK pushes an image that scans on push (which
// stores its CycloneDX SBOM as an OCI referrer), pulls it, and reads
// DescribeImages with the AWS SDK for Go v2: every image is ACTIVE with
// its manifest and artifact media types, the pull time is recorded, and
// the SBOM names its subject, so an untagged-image cleanup can tell it
// from an orphan.
func TestDescribeImagesDetailSDK(t *testing.T) {
	ts := startServerWith(t, nil, sbomScanner{})
	ctx := context.Background()
	client := ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.url),
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	})
	repo := aws.String("team/app")
	if _, err := client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{
			ScanFrequency:     ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("team/*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}},
		}},
	}); err != nil {
		t.Fatalf("PutRegistryScanningConfiguration: %v", err)
	}
	img := ts.push(t, "team/app:v1", 1, ciAuth)
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	imgDigest := dg.String()
	manifestType, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	describe := func() []ecrtypes.ImageDetail {
		t.Helper()
		out, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo})
		if err != nil {
			t.Fatalf("DescribeImages: %v", err)
		}
		return out.ImageDetails
	}
	// Wait for the scan and its SBOM.
	var details []ecrtypes.ImageDetail
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		details = describe()
		if len(details) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(details) != 2 {
		t.Fatalf("DescribeImages: %d images, want the image and its SBOM", len(details))
	}
	for _, d := range details {
		if d.LastRecordedPullTime != nil {
			t.Errorf("%s: lastRecordedPullTime %v before any pull", aws.ToString(d.ImageDigest), d.LastRecordedPullTime)
		}
	}

	before := time.Now().Truncate(time.Second)
	ref, err := name.ParseReference(ts.host+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(ref, remote.WithAuth(ciAuth)); err != nil {
		t.Fatalf("pull: %v", err)
	}
	after := time.Now()

	type facts struct {
		Tags                                     []string
		Status, ManifestType, ArtifactType, Subj string
		Pulled                                   bool
	}
	got := map[string]facts{}
	var sbomDigest string
	for _, d := range describe() {
		dgst := aws.ToString(d.ImageDigest)
		f := facts{Tags: d.ImageTags, Status: string(d.ImageStatus), ManifestType: aws.ToString(d.ImageManifestMediaType),
			ArtifactType: aws.ToString(d.ArtifactMediaType), Subj: aws.ToString(d.SubjectManifestDigest), Pulled: d.LastRecordedPullTime != nil}
		if p := d.LastRecordedPullTime; p != nil && (p.Before(before) || p.After(after)) {
			t.Errorf("%s: lastRecordedPullTime %v, want between %v and %v", dgst, p, before, after)
		}
		if dgst != imgDigest {
			sbomDigest = dgst
		}
		got[dgst] = f
	}
	want := map[string]facts{
		imgDigest: {Tags: []string{"v1"}, Status: "ACTIVE", ManifestType: string(manifestType), ArtifactType: string(cf.Config.MediaType), Pulled: true},
		sbomDigest: {Status: "ACTIVE", ManifestType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactType: sbomref.ArtifactTypeCycloneDX, Subj: imgDigest},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeImages after a pull (-want +got):\n%s", diff)
	}
}
