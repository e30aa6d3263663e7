package server

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/report"
)

// inspectorScanner converts, through the scan pipeline's conversion
// (report.ScanningResult), a fixed scan of a Debian image with a Ruby and a
// Python lockfile: one vulnerability in two binary packages of one source
// package, one fixed and one not (PARTIAL); an unscored finding
// (UNTRIAGED); a Bundler lockfile gem.
type inspectorScanner struct{}

func (inspectorScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	n := names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}
	d := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}
	ssl := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	cli := inventory.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl", Path: "var/lib/dpkg/status", Layer: "sha256:aaa", Cataloger: "dpkg"}
	rack := inventory.Package{Name: "rack", Version: "2.2.3", Type: "gem", Path: "app/Gemfile.lock", Layer: "sha256:bbb", Cataloger: "ruby"}
	urllib := inventory.Package{Name: "urllib3", Version: "1.26.0", Type: "pypi", Path: "app/Pipfile.lock", Layer: "sha256:bbb", Cataloger: "python"}
	for _, p := range []*inventory.Package{&ssl, &cli, &rack, &urllib} {
		p.PURL = n.PURL(*p, d)
	}
	inv := &inventory.Inventory{
		Source: inventory.Source{Ref: "registry:" + digest, Kind: "registry", Digest: digest, Architecture: "amd64", OS: "linux", Author: "Team App <app@example.com>"},
		Distro: d, Packages: []inventory.Package{ssl, cli, rack, urllib},
	}
	v3 := advisory.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "nvd"}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	fs := []match.Finding{
		{ID: "CVE-2024-0727", Package: ssl, Namespace: "debian:12", Status: match.StatusFixable, FixedVersion: "3.0.13-1~deb12u1", Severity: "CRITICAL", SeveritySource: "cvss3:nvd", CVSS3: &v3, Sources: []string{"osv-Debian"}, Published: t0.Add(-time.Hour)},
		{ID: "CVE-2024-0727", Package: cli, Namespace: "debian:12", Status: match.StatusUnfixed, Severity: "CRITICAL", SeveritySource: "cvss3:nvd", CVSS3: &v3, Sources: []string{"osv-Debian"}},
		{ID: "CVE-2022-30123", Package: rack, Namespace: "osv:RubyGems", Status: match.StatusFixable, FixedVersion: "2.2.3.1", Severity: "HIGH", SeveritySource: "vendor:osv-RubyGems", Sources: []string{"osv-RubyGems"}},
		{ID: "GHSA-aaaa-bbbb-cccc", Package: urllib, Namespace: "osv:PyPI", Status: match.StatusUnfixed, Severity: "UNDEFINED", SeveritySource: "none", Sources: []string{"osv-PyPI"}},
	}
	return report.ScanningResult(report.Scan{Inventory: inv, Findings: fs, Enhanced: enhanced, Status: StatusComplete, CompletedAt: t0, DBUpdatedAt: t0.Add(-time.Hour), Names: n})
}

// TestEnhancedFindingsSDK drives an ENHANCED scan on push and reads its
// findings with the AWS SDK for Go v2, the strict client: every field
// Inspector routes findings by decodes and is set.
func TestEnhancedFindingsSDK(t *testing.T) {
	ts := startServerWith(t, func(c *Config) { c.RegistryID, c.Region = "123456789012", "eu-west-1" }, inspectorScanner{})
	ctx := context.Background()
	client := ecr.New(ecr.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(ts.url),
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	})
	if _, err := client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeEnhanced,
		Rules: []ecrtypes.RegistryScanningRule{{
			ScanFrequency:     ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("team/*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}},
		}},
	}); err != nil {
		t.Fatalf("PutRegistryScanningConfiguration: %v", err)
	}
	before := time.Now().Add(-time.Second)
	img := ts.push(t, "team/app:v1", 1, ciAuth)
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	digest := dg.String()
	var out *ecr.DescribeImageScanFindingsOutput
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err = client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{
			RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")},
		})
		if err != nil {
			t.Fatalf("DescribeImageScanFindings: %v", err)
		}
		st := out.ImageScanStatus.Status
		if (st != ecrtypes.ScanStatusInProgress && st != ecrtypes.ScanStatusPending) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out.ImageScanFindings == nil {
		t.Fatalf("no findings; status %s %s", out.ImageScanStatus.Status, aws.ToString(out.ImageScanStatus.Description))
	}
	fs := out.ImageScanFindings.EnhancedFindings
	findingARN := regexp.MustCompile(`^arn:aws:inspector2:eu-west-1:123456789012:finding/[a-f0-9]{32}$`)
	imageARN := "arn:aws:ecr:eu-west-1:123456789012:repository/team/app/" + digest
	type row struct {
		Title, Severity, Fix, Remediation string
		Managers                          []string
		Score                             *float64
	}
	var got []row
	for _, f := range fs {
		r := row{Title: aws.ToString(f.Title), Severity: aws.ToString(f.Severity), Fix: aws.ToString(f.FixAvailable), Remediation: aws.ToString(f.Remediation.Recommendation.Text)}
		for _, p := range f.PackageVulnerabilityDetails.VulnerablePackages {
			r.Managers = append(r.Managers, aws.ToString(p.PackageManager))
		}
		if f.ScoreDetails != nil && f.ScoreDetails.Cvss != nil {
			c := f.ScoreDetails.Cvss
			r.Score = aws.Float64(c.Score)
			if aws.ToString(c.ScoreSource) != "nvd" || aws.ToString(c.Version) != "3.1" || !strings.HasPrefix(aws.ToString(c.ScoringVector), "CVSS:3.1/") || c.Adjustments == nil {
				t.Errorf("%s: scoreDetails.cvss %+v", r.Title, c)
			}
		}
		got = append(got, r)
		if !findingARN.MatchString(aws.ToString(f.FindingArn)) || aws.ToString(f.AwsAccountId) != "123456789012" {
			t.Errorf("%s: findingArn %q, awsAccountId %q", r.Title, aws.ToString(f.FindingArn), aws.ToString(f.AwsAccountId))
		}
		if f.FirstObservedAt == nil || f.UpdatedAt == nil {
			t.Errorf("%s: firstObservedAt %v, updatedAt %v", r.Title, f.FirstObservedAt, f.UpdatedAt)
		}
		if len(f.Resources) != 1 {
			t.Fatalf("%s: %d resources", r.Title, len(f.Resources))
		}
		res := f.Resources[0]
		if aws.ToString(res.Id) != imageARN || aws.ToString(res.Type) != "AWS_ECR_CONTAINER_IMAGE" || res.Details == nil || res.Details.AwsEcrContainerImage == nil {
			t.Fatalf("%s: resource id %q type %q details %+v", r.Title, aws.ToString(res.Id), aws.ToString(res.Type), res.Details)
		}
		ci := res.Details.AwsEcrContainerImage
		if aws.ToString(ci.RepositoryName) != "team/app" || aws.ToString(ci.Registry) != "123456789012" || aws.ToString(ci.ImageHash) != digest ||
			aws.ToString(ci.Architecture) != "amd64" || aws.ToString(ci.Author) != "Team App <app@example.com>" || aws.ToString(ci.Platform) != "DEBIAN_12" ||
			!cmp.Equal(ci.ImageTags, []string{"v1"}) || ci.PushedAt == nil || ci.PushedAt.Before(before) || ci.PushedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: awsEcrContainerImage %+v (pushedAt %v)", r.Title, ci, ci.PushedAt)
		}
	}
	want := []row{
		{"CVE-2024-0727 - libssl3, openssl", "CRITICAL", "PARTIAL", "Upgrade libssl3 to 3.0.13-1~deb12u1 or later.", []string{"OS", "OS"}, aws.Float64(9.8)},
		{"CVE-2022-30123 - rack", "HIGH", "YES", "Upgrade rack to 2.2.3.1 or later.", []string{"BUNDLER"}, nil},
		{"GHSA-aaaa-bbbb-cccc - urllib3", "UNTRIAGED", "NO", "None provided", []string{"PIPENV"}, nil},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("enhanced findings (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int32{"CRITICAL": 1, "HIGH": 1, "UNTRIAGED": 1}, out.ImageScanFindings.FindingSeverityCounts); d != "" {
		t.Errorf("findingSeverityCounts (-want +got):\n%s", d)
	}
}
