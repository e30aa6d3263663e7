package ecrapi

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sdkRule(f ecrtypes.ScanFrequency, filters ...string) ecrtypes.RegistryScanningRule {
	r := ecrtypes.RegistryScanningRule{ScanFrequency: f}
	for _, s := range filters {
		r.RepositoryFilters = append(r.RepositoryFilters, ecrtypes.ScanningRepositoryFilter{Filter: aws.String(s), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard})
	}
	return r
}

var scanOpts = cmpopts.IgnoreUnexported(ecrtypes.RegistryScanningConfiguration{}, ecrtypes.RegistryScanningRule{},
	ecrtypes.ScanningRepositoryFilter{}, ecrtypes.ImageScanStatus{})

// TestSDKScanningRulesPerScanType: ENHANCED takes SCAN_ON_PUSH and
// CONTINUOUS_SCAN rules, BASIC SCAN_ON_PUSH rules only; any other
// frequency is refused with InvalidParameterException, as decoded by the
// SDK, and leaves the stored configuration as it was.
func TestSDKScanningRulesPerScanType(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	good := &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeEnhanced, Rules: []ecrtypes.RegistryScanningRule{
		sdkRule(ecrtypes.ScanFrequencyScanOnPush, "push"), sdkRule(ecrtypes.ScanFrequencyContinuousScan, "cont"),
	}}
	if _, err := s.client.PutRegistryScanningConfiguration(ctx, good); err != nil {
		t.Fatalf("ENHANCED SCAN_ON_PUSH + CONTINUOUS_SCAN: %v", err)
	}
	for _, tt := range []struct {
		name  string
		typ   ecrtypes.ScanType
		rules []ecrtypes.RegistryScanningRule
		code  string // "" = accepted
	}{
		{"enhanced manual", ecrtypes.ScanTypeEnhanced, []ecrtypes.RegistryScanningRule{sdkRule(ecrtypes.ScanFrequencyManual, "a")}, "InvalidParameterException"},
		{"enhanced continuous and manual", ecrtypes.ScanTypeEnhanced, []ecrtypes.RegistryScanningRule{
			sdkRule(ecrtypes.ScanFrequencyContinuousScan, "a"), sdkRule(ecrtypes.ScanFrequencyManual, "b")}, "InvalidParameterException"},
		{"basic manual", ecrtypes.ScanTypeBasic, []ecrtypes.RegistryScanningRule{sdkRule(ecrtypes.ScanFrequencyManual, "a")}, "InvalidParameterException"},
		{"basic continuous", ecrtypes.ScanTypeBasic, []ecrtypes.RegistryScanningRule{sdkRule(ecrtypes.ScanFrequencyContinuousScan, "a")}, "InvalidParameterException"},
		{"enhanced unknown frequency", ecrtypes.ScanTypeEnhanced, []ecrtypes.RegistryScanningRule{sdkRule("HOURLY", "a")}, "ValidationException"},
	} {
		_, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: tt.typ, Rules: tt.rules})
		wantAPIError(t, tt.name, err, tt.code)
	}
	got, err := s.client.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := &ecrtypes.RegistryScanningConfiguration{ScanType: good.ScanType, Rules: good.Rules}
	if diff := cmp.Diff(want, got.ScanningConfiguration, scanOpts); diff != "" {
		t.Errorf("configuration after refused puts (-want +got):\n%s", diff)
	}
	for _, rules := range [][]ecrtypes.RegistryScanningRule{
		{sdkRule(ecrtypes.ScanFrequencyScanOnPush, "a")},
		{sdkRule(ecrtypes.ScanFrequencyContinuousScan, "*")},
	} {
		if _, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeEnhanced, Rules: rules}); err != nil {
			t.Errorf("ENHANCED %s alone: %v", rules[0].ScanFrequency, err)
		}
	}
	if _, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{sdkRule(ecrtypes.ScanFrequencyScanOnPush, "a")}}); err != nil {
		t.Errorf("BASIC SCAN_ON_PUSH: %v", err)
	}
}

// TestSDKContinuousScanStatusActive: a finished scan of an image under an
// ENHANCED CONTINUOUS_SCAN rule is ACTIVE in DescribeImageScanFindings and
// DescribeImages, with its findings; under ENHANCED SCAN_ON_PUSH, and once
// the registry is BASIC again, it is COMPLETE. The SDK's image-scan-complete
// waiter, which waits for COMPLETE, returns for the latter only, as with ECR.
func TestSDKContinuousScanStatusActive(t *testing.T) {
	s := newSDKEnv(t)
	ctx := context.Background()
	now := s.clock.t
	s.image(t, "team/cont", digest('c'), ociConfig, "v1")
	s.image(t, "team/push", digest('p'), ociConfig, "v1")
	completeScan(t, s.store, "team/cont", digest('c'), enhancedResult(t, now))
	completeScan(t, s.store, "team/push", digest('p'), enhancedResult(t, now))
	if _, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeEnhanced,
		Rules: []ecrtypes.RegistryScanningRule{sdkRule(ecrtypes.ScanFrequencyScanOnPush, "push"), sdkRule(ecrtypes.ScanFrequencyContinuousScan, "cont")}}); err != nil {
		t.Fatal(err)
	}
	active := ecrtypes.ImageScanStatus{Status: ecrtypes.ScanStatusActive, Description: aws.String("Continuous scan is selected for image.")}
	complete := ecrtypes.ImageScanStatus{Status: ecrtypes.ScanStatusComplete, Description: aws.String("The scan was completed successfully.")}
	check := func(when, repo string, want ecrtypes.ImageScanStatus) {
		t.Helper()
		id := &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}
		f, err := s.client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repo), ImageId: id})
		if err != nil {
			t.Fatalf("%s: DescribeImageScanFindings %s: %v", when, repo, err)
		}
		if diff := cmp.Diff(&want, f.ImageScanStatus, scanOpts); diff != "" {
			t.Errorf("%s: DescribeImageScanFindings %s status (-want +got):\n%s", when, repo, diff)
		}
		if f.ImageScanFindings == nil || len(f.ImageScanFindings.EnhancedFindings) != 1 || f.ImageScanFindings.FindingSeverityCounts["CRITICAL"] != 1 {
			t.Errorf("%s: DescribeImageScanFindings %s findings = %+v", when, repo, f.ImageScanFindings)
		}
		d, err := s.client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
		if err != nil {
			t.Fatalf("%s: DescribeImages %s: %v", when, repo, err)
		}
		if len(d.ImageDetails) != 1 {
			t.Fatalf("%s: DescribeImages %s = %d images", when, repo, len(d.ImageDetails))
		}
		img := d.ImageDetails[0]
		if diff := cmp.Diff(&want, img.ImageScanStatus, scanOpts); diff != "" {
			t.Errorf("%s: DescribeImages %s status (-want +got):\n%s", when, repo, diff)
		}
		if img.ImageScanFindingsSummary == nil || img.ImageScanFindingsSummary.FindingSeverityCounts["CRITICAL"] != 1 {
			t.Errorf("%s: DescribeImages %s summary = %+v", when, repo, img.ImageScanFindingsSummary)
		}
	}
	check("ENHANCED", "team/cont", active)
	check("ENHANCED", "team/push", complete)

	waiter := ecr.NewImageScanCompleteWaiter(s.client, func(o *ecr.ImageScanCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 100*time.Millisecond
	})
	in := func(repo string) *ecr.DescribeImageScanFindingsInput {
		return &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}}
	}
	if err := waiter.Wait(ctx, in("team/push"), 5*time.Second); err != nil {
		t.Errorf("image-scan-complete waiter on the SCAN_ON_PUSH image: %v", err)
	}
	if err := waiter.Wait(ctx, in("team/cont"), 500*time.Millisecond); err == nil {
		t.Errorf("image-scan-complete waiter returned on an ACTIVE image")
	}

	if _, err := s.client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic}); err != nil {
		t.Fatal(err)
	}
	check("BASIC", "team/cont", complete)
}
